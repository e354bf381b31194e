"""Testing helpers: a real master and real minions on loopback.

:class:`Cluster` writes configs into a fresh folder (short, so IPC socket
paths fit), starts ``ff-master`` on 127.0.0.1 with ports of 0 (the kernel
picks free ones, and the master reports them in ``sock_dir``), starts
``ff-minion`` processes configured with the reported ports, drives them with
the real CLI, and stops everything at the end, failing if a process did not
shut down cleanly::

    with Cluster() as c:
        c.start_master()
        c.start_minions("web1", "web2")
        c.accept_and_wait()
        assert c.ff("*", "test.ping", "--out", "json").json() == {"web1": True, "web2": True}

Tests use the ``cluster`` fixture from ``tests/conftest.py``, built on this.
Every wait polls a real signal (the ports report, ``ff-key`` output, a job's
returns, a log line) with :func:`~fluxforge.testing.waits.wait_until`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import yaml

from fluxforge.client import LocalClient
from fluxforge.config import load
from fluxforge.master.ports import BoundPorts, read_ports
from fluxforge.testing.waits import LogWatch, wait_until

BIN = Path(sys.executable).parent


def command(name: str) -> list[str]:
    """The argv prefix that runs console script ``name`` of this environment."""
    path = BIN / name
    if not path.exists():
        raise RuntimeError(f"{path} is missing; install the project with `pip install -e .`")
    return [str(path)]


@dataclass
class Result:
    """A finished CLI command."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """stdout parsed as JSON."""
        try:
            return json.loads(self.stdout)
        except json.JSONDecodeError as exc:
            raise AssertionError(
                f"{self.args} did not print JSON ({exc}):\nstdout={self.stdout!r}\n"
                f"stderr={self.stderr!r}"
            ) from None

    def __str__(self) -> str:
        return f"{self.args} -> {self.returncode}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"


class Cluster:
    """A master and minions in one temporary folder.

    The master binds ports the kernel picks unless ``master_opts`` names
    them; :attr:`ports` is what it reported (see :mod:`fluxforge.master.ports`),
    and :attr:`publish_port` and :attr:`ret_port` are its ports.
    After its first start those ports are written into its config, so that a
    restarted master listens where the running minions reconnect.
    """

    def __init__(self, root: str | None = None, master_opts: dict[str, Any] | None = None) -> None:
        self.root = Path(root or tempfile.mkdtemp(prefix="ff-", dir="/tmp"))
        self._own_root = root is None
        self.master_conf = self.root / "master.conf"
        self.master_opts = {
            "root_dir": str(self.root / "master"),
            "interface": "127.0.0.1",
            "publish_port": 0,
            "ret_port": 0,
            "log_level": "debug",
            **(master_opts or {}),
        }
        self.write_master_conf()
        self.master: subprocess.Popen[bytes] | None = None
        self.ports: BoundPorts | None = None
        self.minions: dict[str, subprocess.Popen[bytes]] = {}
        self.env = {**os.environ, "FLUXFORGE_CONFIG": str(self.master_conf), "NO_COLOR": "1"}

    @property
    def publish_port(self) -> int:
        """The port the master's publisher listens on, as the master reported it."""
        return self._reported().publish_port

    @property
    def ret_port(self) -> int:
        """The port the master's request server listens on, as the master reported it."""
        return self._reported().ret_port

    def _reported(self) -> BoundPorts:
        if self.ports is None:
            raise AssertionError("the master has not reported its ports yet: start_master() first")
        return self.ports

    # -- configuration ----------------------------------------------------

    def write_master_conf(self, **changes: Any) -> None:
        """(Re)write the master's config file, with ``changes`` applied."""
        self.master_opts.update(changes)
        self.master_conf.write_text(yaml.safe_dump({"master": self.master_opts}))

    def minion_conf(self, minion_id: str, **opts: Any) -> Path:
        """Write and return the config file of minion ``minion_id``.

        It names the master's reported ports; before the master has reported
        them (a masterless ``ff-call --local``), it leaves the port options out.
        """
        path = self.root / f"{minion_id}.conf"
        ports = {}
        if self.ports is not None:
            ports = {"publish_port": self.ports.publish_port, "ret_port": self.ports.ret_port}
        values = {
            "id": minion_id,
            "root_dir": str(self.root / "minions" / minion_id),
            "master": "127.0.0.1",
            **ports,
            "acceptance_wait_time": 1.0,
            "log_level": "debug",
            **opts,
        }
        path.write_text(yaml.safe_dump({"minion": values}))
        return path

    @property
    def sock_dir(self) -> str:
        """The master's sock_dir."""
        return str(self.root / "master" / "var/run/fluxforge/master")

    @property
    def pki_dir(self) -> Path:
        """The master's pki_dir."""
        return self.root / "master" / "etc/fluxforge/pki/master"

    @property
    def file_root(self) -> Path:
        """The master's default ``file_roots`` folder of the base environment."""
        return Path(self.master_opts["root_dir"]) / "srv/fluxforge"

    @property
    def pillar_root(self) -> Path:
        """The master's default ``pillar_roots`` folder of the base environment."""
        return Path(self.master_opts["root_dir"]) / "srv/pillar"

    @staticmethod
    def write_tree(base: Path, files: dict[str, str]) -> None:
        """Write ``{relative path: text}`` under ``base``, making folders."""
        for name, text in files.items():
            path = base / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip())

    def minion_root(self, minion_id: str) -> Path:
        """The root_dir of a minion."""
        return self.root / "minions" / minion_id

    # -- processes --------------------------------------------------------

    def _spawn(self, argv: list[str], log_name: str) -> subprocess.Popen[bytes]:
        log = open(self.root / f"{log_name}.out", "ab")  # noqa: SIM115 - owned by the process
        try:
            return subprocess.Popen(argv, stdout=log, stderr=log, env=self.env)
        finally:
            log.close()

    def start_master(self, wait: bool = True) -> subprocess.Popen[bytes]:
        """Start ``ff-master`` and (with ``wait``) wait until it reports its ports."""
        self.master = self._spawn([*command("ff-master"), "-c", str(self.master_conf)], "master")
        if wait:
            self.wait_master()
        return self.master

    def wait_master(self, timeout: float = 15.0) -> BoundPorts:
        """Wait until the master has bound its sockets and reported its ports; return them.

        The first time, the ports are also written into the master's config,
        so that a restart binds the same ones.
        """
        proc = self.master
        if proc is None:
            raise AssertionError("no master to wait for: start_master() first")

        def reported() -> BoundPorts | None:
            if proc.poll() is not None:
                raise AssertionError(
                    f"ff-master exited with {proc.returncode}:\n{self.log('master')}"
                )
            found = read_ports(self.sock_dir)
            return found if found is not None and found.pid == proc.pid else None

        self.ports = wait_until(
            reported,
            timeout,
            what="ff-master to report its ports",
            detail=lambda: self.log("master"),
        )
        pinned = {"publish_port": self.ports.publish_port, "ret_port": self.ports.ret_port}
        if any(self.master_opts.get(k) != v for k, v in pinned.items()):
            self.write_master_conf(**pinned)
        return self.ports

    def _require_master_ports(self) -> None:
        if self.ports is None:
            raise AssertionError("start the master before its minions: they need its ports")

    def start_minion(self, minion_id: str, **opts: Any) -> subprocess.Popen[bytes]:
        """Start ``ff-minion`` with id ``minion_id``, configured with the master's ports."""
        self._require_master_ports()
        conf = self.minion_conf(minion_id, **opts)
        proc = self._spawn([*command("ff-minion"), "-c", str(conf)], minion_id)
        self.minions[minion_id] = proc
        return proc

    def start_swarm(
        self, count: int, prefix: str = "m", procs: int = 2, **opts: Any
    ) -> subprocess.Popen[bytes]:
        """Start ``count`` minions ``<prefix>0`` .. in ``procs`` swarm processes."""
        self._require_master_ports()
        conf = self.minion_conf(f"swarm-{prefix}", **{"log_level": "info", **opts})
        argv = [
            *command("ff-minion"),
            "-c",
            str(conf),
            "--swarm",
            str(count),
            "--id-prefix",
            prefix,
            "--procs",
            str(procs),
        ]
        proc = self._spawn(argv, f"swarm-{prefix}")
        self.minions[f"swarm-{prefix}"] = proc
        return proc

    def wait_count(self, target: str, count: int, timeout: float = 60.0) -> dict[str, Any]:
        """Wait until ``count`` minions matching glob ``target`` answer ``test.ping``."""
        got: dict[str, Any] = {}

        def answering() -> dict[str, Any] | None:
            nonlocal got
            res = self.ff(target, "test.ping", "--out", "json", "-t", "3")
            if res.stdout.strip():
                got = res.json()
                if len(got) >= count and all(v is True for v in got.values()):
                    return got
            return None

        return wait_until(
            answering,
            timeout,
            interval=0.3,
            what=f"{count} minions matching {target!r} to answer test.ping",
            detail=lambda: f"{len(got)} answered",
        )

    def start_minions(self, *ids: str, **opts: Any) -> None:
        """Start several minions."""
        for minion_id in ids:
            self.start_minion(minion_id, **opts)

    def stop(self, proc: subprocess.Popen[bytes] | None, timeout: float = 15.0) -> int | None:
        """SIGTERM a process and wait for it; returns its exit code."""
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                # Kill the whole tree: a swarm's parent would leave its children.
                for child in psutil.Process(proc.pid).children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        child.kill()
                proc.kill()
                proc.wait()
                raise AssertionError(f"process {proc.args!r} ignored SIGTERM for {timeout}s")
        return proc.returncode

    def stop_master(self) -> int | None:
        """Stop the master; returns its exit code."""
        code = self.stop(self.master)
        self.master = None
        return code

    def stop_minion(self, minion_id: str) -> int | None:
        """Stop one minion; returns its exit code."""
        return self.stop(self.minions.pop(minion_id, None))

    def log(self, name: str) -> str:
        """What process ``name`` (``master`` or a minion id) printed."""
        path = self.root / f"{name}.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def watch(self, name: str) -> LogWatch:
        """A :class:`LogWatch` on the output of process ``name``, from now on."""
        return LogWatch(self.root / f"{name}.out")

    # -- commands ---------------------------------------------------------

    def run(self, name: str, *args: str, timeout: float = 60.0, input: str | None = None) -> Result:
        """Run console script ``name`` with ``args`` against this cluster."""
        argv = [*command(name), *args]
        proc = subprocess.run(
            argv, capture_output=True, text=True, env=self.env, timeout=timeout, input=input
        )
        return Result(argv, proc.returncode, proc.stdout, proc.stderr)

    def ff(self, *args: str, timeout: float = 60.0) -> Result:
        """Run ``ff`` with ``args``."""
        return self.run("ff", *args, timeout=timeout)

    def ff_key(self, *args: str) -> Result:
        """Run ``ff-key`` with ``args``."""
        return self.run("ff-key", *args)

    def keys(self) -> dict[str, list[str]]:
        """``ff-key --out json``."""
        return dict(self.ff_key("--out", "json").json())

    def wait_pending(self, *ids: str, timeout: float = 15.0) -> None:
        """Wait until every id in ``ids`` has a pending key."""
        wait_until(
            lambda: set(ids) <= set(self.keys()["minions_pre"]),
            timeout,
            interval=0.1,
            what=f"pending keys of {', '.join(ids)}",
            detail=lambda: f"keys: {self.keys()}",
        )

    def wait_answering(self, *ids: str, timeout: float = 20.0) -> None:
        """Wait until every id in ``ids`` answers ``test.ping``."""
        got: dict[str, Any] = {}

        def answering() -> bool:
            nonlocal got
            res = self.ff("-L", ",".join(ids), "test.ping", "--out", "json", "-t", "2")
            if res.stdout.strip():
                got = res.json()
            return all(got.get(m) is True for m in ids)

        wait_until(
            answering,
            timeout,
            interval=0.2,
            what=f"{', '.join(ids)} to answer test.ping",
            detail=lambda: f"got {got}",
        )

    # -- the job cache ----------------------------------------------------

    def client(self) -> LocalClient:
        """A :class:`~fluxforge.client.LocalClient` on this master; the caller closes it."""
        return LocalClient(load(str(self.master_conf)).master)

    def job(self, jid: str) -> dict[str, Any] | None:
        """The master's record of job ``jid`` (``{load, minions, returns}``), or None."""
        client = self.client()
        try:
            job: dict[str, Any] | None = client.command("job", jid=jid)
            return job
        finally:
            client.close()

    def wait_returns(self, jid: str, count: int, timeout: float = 30.0) -> dict[str, Any]:
        """Wait until the job cache holds ``count`` returns of job ``jid``; return the job."""
        client = self.client()
        job: dict[str, Any] = {}

        def returned() -> dict[str, Any] | None:
            nonlocal job
            job = client.command("job", jid=jid) or {}
            return job if len(job.get("returns", {})) >= count else None

        try:
            return wait_until(
                returned,
                timeout,
                interval=0.1,
                what=f"{count} returns of job {jid}",
                detail=lambda: f"returns from: {sorted(job.get('returns', {}))}",
            )
        finally:
            client.close()

    def accept_and_wait(self, *ids: str) -> None:
        """Accept the keys of ``ids`` (default: all started minions) and wait for them."""
        ids = ids or tuple(self.minions)
        self.wait_pending(*ids)
        for minion_id in ids:
            res = self.ff_key("-a", minion_id, "-y")
            assert res.returncode == 0, str(res)
        self.wait_answering(*ids)

    # -- teardown ---------------------------------------------------------

    def close(self) -> dict[str, int | None]:
        """Stop every process; returns exit codes by name."""
        codes = {m: self.stop(p) for m, p in list(self.minions.items())}
        self.minions.clear()
        codes["master"] = self.stop_master()
        return codes

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        codes = self.close()
        if self._own_root:
            with contextlib.suppress(OSError):
                shutil.rmtree(self.root)
        unclean = {name: code for name, code in codes.items() if code not in (0, None)}
        if unclean and exc[0] is None:
            raise AssertionError(f"processes did not exit cleanly on SIGTERM: {unclean}")
