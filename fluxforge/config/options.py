"""Configuration: every option declared once, loaded from one YAML file.

``fluxforge.conf`` holds a ``master:`` and a ``minion:`` section. Each option
is a field of :class:`MasterConfig` or :class:`MinionConfig` with its type,
default and one line of help; nothing else defines options. Loading checks
every key and type and names the file, the section, the key and the closest
valid key when something is wrong. Path options are relative to ``root_dir``
and are resolved once, at load time, so the objects handed around are
immutable and hold absolute paths.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import os
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fluxforge.errors import ConfigError

DEFAULT_CONFIG = "/etc/fluxforge/fluxforge.conf"
# The layouts of the highstate outputter (kept here so config imports nothing of ours).
STATE_OUTPUTS = ("full", "terse", "mixed", "changes")
ENV_CONFIG = "FLUXFORGE_CONFIG"
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
    auto_accept: bool = opt(False, "Accept every new minion key without review")
    autosign_file: str = opt("", "File of minion id globs accepted automatically", path=True)
    timeout: float = opt(5.0, "Seconds ff waits for a silent minion")
    max_frame_size: int = opt(
        16 * 1024 * 1024, "Largest request frame in bytes; larger ones are refused"
    )
    keep_jobs: int = opt(24, "Hours the job cache keeps jobs")
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


def config_path(explicit: str | None) -> tuple[str, bool]:
    """Return the config path to use and whether the user named it."""
    if explicit:
        return explicit, True
    env = os.environ.get(ENV_CONFIG)
    if env:
        return env, True
    return DEFAULT_CONFIG, False


def load(explicit: str | None = None) -> Config:
    """Load and validate the configuration file.

    A file named by ``-c`` or ``$FLUXFORGE_CONFIG`` must exist; the default
    path may be absent, and then every option takes its default.
    """
    import yaml  # here, not at the top: commands that load no config skip PyYAML

    path, named = config_path(explicit)
    raw: Any = {}
    if os.path.exists(path) or named:
        try:
            with open(path, encoding="utf-8") as fh:
                raw = yaml.safe_load(fh) or {}
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such config file; pass -c PATH or set {ENV_CONFIG}")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read config file: {exc.strerror}")
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or "invalid YAML"
            raise ConfigError(f"{path}:{where}: {problem}")
    return from_mapping(raw, path)


def from_mapping(raw: Any, path: str = "<config>") -> Config:
    """Build a :class:`Config` from parsed YAML, validating every key."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: top level must be a mapping with master: and minion:")
    for section in raw:
        if section not in SECTIONS:
            raise ConfigError(
                f"{path}: unknown section {section!r}{_suggest(str(section), SECTIONS)}"
            )
    master = build(MasterConfig, _section(raw, "master"), path, "master")
    minion = build(MinionConfig, _section(raw, "minion"), path, "minion")
    return Config(path=path, master=master, minion=minion)


def _section(raw: Mapping[str, Any], name: str) -> Any:
    """A section's mapping; an absent or empty (null) section means defaults."""
    value = raw.get(name)
    return {} if value is None else value


def _suggest(key: str, valid: typing.Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _type_ok(value: Any, tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, arg) for arg in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if origin is not None:
        tp = origin
    if tp is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, tp)


def _type_name(tp: Any) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    origin = typing.get_origin(tp) or tp
    return names.get(origin, {list: "a list", dict: "a mapping"}.get(origin, str(tp)))


def build(cls: type, values: Any, path: str = "<config>", section: str = "") -> Any:
    """Validate ``values`` against the fields of ``cls`` and resolve paths."""
    if not isinstance(values, Mapping):
        raise ConfigError(f"{path}: section {section}: must be a mapping of options")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    clean: dict[str, Any] = {}
    for key, value in values.items():
        if key not in fields:
            raise ConfigError(
                f"{path}: {section}: unknown option {key!r}{_suggest(str(key), fields)}"
            )
        if not _type_ok(value, hints[key]):
            raise ConfigError(
                f"{path}: {section}: option {key!r} must be {_type_name(hints[key])}, got {value!r}"
            )
        choices = fields[key].metadata.get("choices")
        if choices and value not in choices:
            raise ConfigError(
                f"{path}: {section}: option {key!r} must be one of {', '.join(choices)}, "
                f"got {value!r}{_suggest(str(value), choices)}"
            )
        between = fields[key].metadata.get("between")
        if between and not between[0] <= value <= between[1]:
            raise ConfigError(
                f"{path}: {section}: option {key!r} must be from {between[0]} to {between[1]}, "
                f"got {value!r}"
            )
        if hints[key] is float:
            value = float(value)
        clean[key] = value
    root = clean.get("root_dir", fields["root_dir"].default)
    if not os.path.isabs(root):
        # A relative root_dir is relative to the config file, so a whole
        # installation can be described by one file in a folder.
        base = "." if path.startswith("<") else os.path.dirname(os.path.abspath(path))
        root = os.path.abspath(os.path.join(base, root))
    clean["root_dir"] = root
    for name, f in fields.items():
        if f.metadata.get("path"):
            factory: Any = f.default_factory
            value = clean.get(name, f.default if factory is dataclasses.MISSING else factory())
            if isinstance(value, dict):
                clean[name] = _resolve_roots(value, root, path, section, name)
            elif value:
                clean[name] = os.path.join(root, value)
    if cls is MinionConfig and not clean.get("id"):
        import socket

        clean["id"] = socket.getfqdn()
    return cls(**clean)


def _resolve_roots(
    value: dict[Any, Any], root: str, path: str, section: str, name: str
) -> dict[str, list[str]]:
    """``{env: [folder, ...]}`` with each folder made absolute under ``root``."""
    out: dict[str, list[str]] = {}
    for env, folders in value.items():
        if isinstance(folders, str):
            folders = [folders]
        if not isinstance(env, str) or not isinstance(folders, list):
            raise ConfigError(
                f"{path}: {section}: option {name!r} must map environment names to lists "
                f"of folders, got {env!r}: {folders!r}"
            )
        out[env] = [os.path.join(root, str(folder)) for folder in folders]
    return out


def describe(cls: type) -> list[tuple[str, Any, str]]:
    """Return ``(name, default, help)`` for each option of a section."""
    out = []
    for f in dataclasses.fields(cls):
        factory: Any = f.default_factory
        default = f.default if f.default is not dataclasses.MISSING else factory()
        out.append((f.name, default, f.metadata["help"]))
    return out


def render_sample() -> str:
    """Render the sample ``fluxforge.conf`` with every option and its default."""
    import yaml

    lines = [
        "# FluxForge configuration: every option with its default and one line of help.",
        "# Relative paths are under root_dir; a relative root_dir is relative to this file.",
        "# Generated by `python -m fluxforge.config` from fluxforge/config/options.py.",
        "",
    ]
    for section, cls in SECTIONS.items():
        lines.append(f"{section}:")
        for name, default, help_text in describe(cls):
            lines.append(f"  # {help_text}")
            dumped = yaml.safe_dump({name: default}, default_flow_style=True, width=1000)
            lines.append("  " + dumped.strip()[1:-1].strip())
        lines.append("")
    return "\n".join(lines)


def ensure_dir(path: str | Path, mode: int = 0o755) -> None:
    """Create ``path`` (and parents) if missing, with ``mode`` on the leaf."""
    os.makedirs(path, mode=mode, exist_ok=True)
    os.chmod(path, mode)
