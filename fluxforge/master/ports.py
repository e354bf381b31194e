"""The ports report: where a running master listens.

A master may be configured with ``publish_port: 0`` or ``ret_port: 0``, and
then the kernel picks a free port when the socket binds. So that tools and
tests need not guess, the master writes what it got, once every socket is
bound, to ``sock_dir/master_ports.json``::

    {"pid": 4242, "interface": "127.0.0.1", "publish_port": 40123, "ret_port": 40124}

The file is written to a temporary name and renamed, so a reader sees the
whole report or none, and the master removes it when it exits. A file left by
a master that was killed names a pid that no longer runs, and
:func:`read_ports` ignores it.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from typing import Any

PORTS_NAME = "master_ports.json"


@dataclass(frozen=True)
class BoundPorts:
    """The ports a master bound, and which master (pid) bound them."""

    pid: int
    interface: str
    publish_port: int
    ret_port: int


def endpoint_port(endpoint: str) -> int:
    """The port of a bound zmq TCP endpoint such as ``tcp://127.0.0.1:40123``."""
    return int(endpoint.rsplit(":", 1)[1])


def ports_path(sock_dir: str) -> str:
    """Where the master on ``sock_dir`` writes its ports report."""
    return os.path.join(sock_dir, PORTS_NAME)


def write_ports(sock_dir: str, ports: BoundPorts) -> None:
    """Write the ports report atomically (temporary file, then rename)."""
    fd, tmp = tempfile.mkstemp(prefix=".ports-", dir=sock_dir)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            json.dump(asdict(ports), fh)
            fh.write("\n")
        os.replace(tmp, ports_path(sock_dir))
    except BaseException:
        os.unlink(tmp)
        raise


def remove_ports(sock_dir: str, pid: int) -> None:
    """Remove the ports report if the master ``pid`` wrote it."""
    found = _load(sock_dir)
    if found is not None and found.pid == pid:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(ports_path(sock_dir))


def read_ports(sock_dir: str) -> BoundPorts | None:
    """The ports of the master running on ``sock_dir``, or None if none has reported."""
    found = _load(sock_dir)
    if found is None:
        return None
    try:
        os.kill(found.pid, 0)
    except ProcessLookupError:
        return None  # left by a master that did not exit cleanly
    except PermissionError:
        pass  # it runs, as another user
    return found


def _load(sock_dir: str) -> BoundPorts | None:
    try:
        with open(ports_path(sock_dir), encoding="ascii") as fh:
            raw: Any = json.load(fh)
        return BoundPorts(
            pid=int(raw["pid"]),
            interface=str(raw["interface"]),
            publish_port=int(raw["publish_port"]),
            ret_port=int(raw["ret_port"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
