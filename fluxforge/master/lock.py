"""The master's lock: one master per ``sock_dir``.

A master takes an exclusive ``flock`` on ``sock_dir/master.lock`` before it
opens a cache or binds a socket, and holds it until it exits (the kernel
drops it if the process dies, so a killed master leaves nothing stale).
A second master started on the same configuration fails to take it and
stops there: binding first would have taken over the running master's IPC
sockets (a zmq ``ipc://`` bind replaces the socket file), and its exit would
have removed them and the pid file.

The file holds the pid of the master that holds the lock, for the error
message; the file itself is never removed, since unlinking a lock file lets
two processes lock two different files.
"""

from __future__ import annotations

import fcntl
import os
from typing import IO

from fluxforge.errors import ConfigError

LOCK_NAME = "master.lock"


def take(sock_dir: str) -> IO[str]:
    """Lock ``sock_dir`` for this master and return the open lock file (closing it unlocks).

    Another master holding it is a :class:`ConfigError` that names it.
    """
    path = os.path.join(sock_dir, LOCK_NAME)
    fh = open(path, "a+", encoding="ascii")  # noqa: SIM115 - held for the master's life
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "unknown"
        fh.close()
        raise ConfigError(
            f"another master (pid {holder}) is running on sock_dir {sock_dir}: "
            "stop it first, or give this master its own root_dir or sock_dir"
        ) from None
    except BaseException:
        fh.close()
        raise
    fh.truncate(0)
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    return fh
