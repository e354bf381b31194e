"""Every option of FluxForge, declared once: its type, default, help text and limits.

``fluxforge.conf`` holds a ``master:`` and a ``minion:`` section; each option
is a field of :class:`MasterConfig` or :class:`MinionConfig`, declared with
:func:`opt`, and nothing else defines options. The objects are immutable
and, once loaded (:mod:`fluxforge.config.loading`), hold absolute paths.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# The layouts of the highstate outputter (kept here so config imports nothing of ours).
STATE_OUTPUTS = ("full", "terse", "mixed", "changes")
# A master may bind port 0 (the kernel picks a free one); a minion connects to a real port.
BIND_PORTS = (0, 65535)
CONNECT_PORTS = (1, 65535)


def opt(
    default: Any,
    help: str,
    *,
    path: bool = False,
    choices: tuple[str, ...] = (),
    between: tuple[int, int] | None = None,
) -> Any:
    """Declare an option: its default, its help line, whether it is a path, its allowed values.

    ``between`` is the inclusive range of an integer option.
    """
    meta = {"help": help, "path": path, "choices": choices, "between": between}
    if isinstance(default, list | dict):
        factory: Callable[[], Any] = functools.partial(copy.deepcopy, default)
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class MasterConfig:
    """Options of the master (section ``master:``)."""

    root_dir: str = opt("/", "Directory that every relative state path is under")
    interface: str = opt("0.0.0.0", "Address the publisher and request server bind to")
    publish_port: int = opt(
        4505,
        "TCP port of the job publisher (PUB); 0: a free port, see sock_dir/master_ports.json",
        between=BIND_PORTS,
    )
    ret_port: int = opt(
        4506,
        "TCP port of the request server (ROUTER): auth, returns; 0: a free port, as above",
        between=BIND_PORTS,
    )
    pki_dir: str = opt("etc/fluxforge/pki/master", "Master keys and minion keys", path=True)
    cachedir: str = opt("var/cache/fluxforge/master", "Job cache and minion data", path=True)
    sock_dir: str = opt("var/run/fluxforge/master", "Local IPC sockets (mode 0700)", path=True)
    log_file: str = opt("var/log/fluxforge/master.log", "Log file", path=True)
    log_level: str = opt("info", "Log level: debug, info, warning, error")
    audit_log: str = opt(
        "var/log/fluxforge/audit.log",
        "Audit log (mode 0600): a JSON line per job published and per key operation; empty: none",
        path=True,
    )
    auto_accept: bool = opt(False, "Accept every new minion key without review")
    autosign_file: str = opt("", "File of minion id globs accepted automatically", path=True)
    max_pending_keys: int = opt(
        1000,
        "Most pending keys kept (0: no limit); a new key beyond them is not recorded",
        between=(0, 1_000_000),
    )
    new_keys_per_source: int = opt(
        30,
        "New pending keys one address may add per minute (burst as large); 0: no limit",
        between=(0, 1_000_000),
    )
    timeout: float = opt(5.0, "Seconds ff waits for a silent minion")
    max_frame_size: int = opt(
        16 * 1024 * 1024, "Largest request frame in bytes; larger ones are refused"
    )
    max_return_size: int = opt(
        4 * 1024 * 1024,
        "Largest job return in bytes (msgpack); a larger one is refused and the minion "
        "sends a short error return instead",
        between=(1024, 2**31),
    )
    max_grains_size: int = opt(
        256 * 1024, "Largest grains report of a minion in bytes (msgpack)", between=(1024, 2**31)
    )
    max_grains_objects: int = opt(
        10_000,
        "Most keys, values and list items in a minion's grains report",
        between=(100, 100_000),
    )
    max_requests_in_flight: int = opt(
        16,
        "Requests of one minion that wait for the worker pool (pillar, files) at a time; "
        "more are refused with an error reply",
        between=(1, 100_000),
    )
    request_hwm: int = opt(
        256,
        "Messages the request server queues from one minion before it stops reading "
        "that minion's connection",
        between=(1, 10**6),
    )
    reply_hwm: int = opt(
        1000,
        "Replies the request server queues for one minion that does not read them; "
        "more are dropped with a warning",
        between=(1, 10**6),
    )
    max_reply_bytes: int = opt(
        16 * 1024 * 1024,
        "Bytes of file and pillar replies queued for one minion that does not read them; "
        "more are dropped with a warning",
        between=(1024, 2**40),
    )
    publish_hwm: int = opt(
        10_000,
        "Publications queued for one minion that does not read them; more are dropped "
        "for that minion",
        between=(1, 10**7),
    )
    keep_jobs: int = opt(24, "Hours the job cache keeps jobs")
    publication_sealing: str = opt(
        "auto",
        "auto: a job that leaves out some accepted minion is sealed to each target's own key; "
        "session: every job with the shared session key, readable by every minion "
        "(only to benchmark the difference)",
        choices=("auto", "session"),
    )
    worker_threads: int = opt(2, "Threads that compile pillar and read files for minions")
    file_roots: dict[str, list[str]] = opt(
        {"base": ["srv/fluxforge"]},
        "Per environment, the folders the file server serves, merged in order",
        path=True,
    )
    pillar_roots: dict[str, list[str]] = opt(
        {"base": ["srv/pillar"]},
        "Per environment, the folders of pillar top.sls and SLS files",
        path=True,
    )
    ext_pillar: list[dict[str, Any]] = opt(
        [], "External pillar sources, e.g. [{file_tree: {root: /srv/ext}}]"
    )
    nodegroups: dict[str, Any] = opt(
        {}, "Named targets: a compound expression or a list of ids (for -N and N@)"
    )
    file_chunk_size: int = opt(1024 * 1024, "Bytes per chunk when minions fetch files")
    target_regex_timeout: float = opt(
        0.1, "CPU seconds one target regex match may take; past it, no match (and a warning)"
    )
    state_output: str = opt(
        "full",
        "ff's layout of state runs: full, terse, mixed or changes (--state-output)",
        choices=STATE_OUTPUTS,
    )


@dataclass(frozen=True)
class MinionConfig:
    """Options of a minion (section ``minion:``)."""

    root_dir: str = opt("/", "Directory that every relative state path is under")
    id: str = opt("", "Minion id; empty means the host's FQDN")
    master: str = opt("127.0.0.1", "Host name or address of the master")
    publish_port: int = opt(4505, "Master's publisher port", between=CONNECT_PORTS)
    ret_port: int = opt(4506, "Master's request server port", between=CONNECT_PORTS)
    pki_dir: str = opt("etc/fluxforge/pki/minion", "Minion keys and pinned master key", path=True)
    cachedir: str = opt("var/cache/fluxforge/minion", "Minion cache", path=True)
    log_file: str = opt("var/log/fluxforge/minion.log", "Log file", path=True)
    log_level: str = opt("info", "Log level: debug, info, warning, error")
    grains: dict[str, Any] = opt({}, "Static custom grains merged over the core grains")
    acceptance_wait_time: float = opt(10.0, "Seconds between auth attempts while not accepted")
    master_finger: str = opt("", "Expected master key fingerprint; empty pins on first contact")
    auth_timeout: float = opt(5.0, "Seconds to wait for an answer from the master")
    max_frame_size: int = opt(16 * 1024 * 1024, "Largest publication frame in bytes accepted")
    worker_threads: int = opt(8, "Threads that run jobs")
    heartbeat_interval: float = opt(1.0, "Seconds between progress heartbeats of a running job")
    grains_file: str = opt(
        "etc/fluxforge/grains", "Grains set by grains.setval, kept across restarts", path=True
    )
    nodegroups: dict[str, Any] = opt({}, "Named targets known to match.nodegroup on this minion")
    target_regex_timeout: float = opt(
        0.1, "CPU seconds one target regex match may take; past it, no match (and a warning)"
    )
    file_roots: dict[str, list[str]] = opt(
        {"base": ["srv/fluxforge"]},
        "Masterless runs (ff-call --local): per environment, the folders of the state tree",
        path=True,
    )
    pillar_roots: dict[str, list[str]] = opt(
        {"base": ["srv/pillar"]},
        "Masterless runs (ff-call --local): per environment, the pillar folders",
        path=True,
    )
    failhard: bool = opt(False, "Stop a state run at the first state that fails")
    state_output: str = opt(
        "full",
        "ff-call's layout of state runs: full, terse, mixed or changes (--state-output)",
        choices=STATE_OUTPUTS,
    )


SECTIONS: dict[str, type] = {"master": MasterConfig, "minion": MinionConfig}


@dataclass(frozen=True)
class Config:
    """A loaded configuration file: both sections and where they came from."""

    path: str
    master: MasterConfig
    minion: MinionConfig


def describe(cls: type) -> list[tuple[str, Any, str]]:
    """Return ``(name, default, help)`` for each option of a section."""
    out = []
    for f in dataclasses.fields(cls):
        factory: Any = f.default_factory
        default = f.default if f.default is not dataclasses.MISSING else factory()
        out.append((f.name, default, f.metadata["help"]))
    return out
