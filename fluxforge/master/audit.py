"""The audit log: who ran what on which minions, and who changed which keys.

One JSON object per line in ``audit_log`` (mode 0600, so only its owner,
the master's user, and root read it), appended as each job is published
and each key operation is done::

    {"time": "2026-12-02T01:20:00.123456+00:00", "event": "job", "user": "alice",
     "jid": "...", "tgt": "web*", "tgt_type": "glob",
     "fun": "cmd.run", "arg": ["uptime"], "kwarg": {"password": "********"},
     "minions": 12, "unknown": 0}
    {"time": "...", "event": "key", "op": "accept", "pattern": "web1",
     "keys": {"web1": "3f:a0:..."}, "rotated": false}

``user`` is what the client says: the local socket is 0600 in a 0700
``sock_dir``, so only the master's own user or root can send anything, and
the name is their claim (zmq does not tell the peer's uid). Values of keyword
arguments whose names look secret (:data:`SECRET_NAME`), a ``pillar=``
argument, and ``name=value`` positional arguments with such names are
written as :data:`MASK`, at any depth. Other positional arguments are
written as given: a command line handed to ``cmd.run`` is recorded.

The master writes the records; ``ff-key`` writes its own when no master
runs and it changes the key store itself. A line that cannot be written
is reported (rate-limited) and the job goes on: the audit log records, it
does not guard.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import re
from typing import Any

from fluxforge.errors import ConfigError
from fluxforge.logs import Warner, open_private

log = logging.getLogger(__name__)

MASK = "********"
SECRET_NAME = re.compile(r"pass|secret|token|key|pillar|credential|auth|private", re.IGNORECASE)
_DEPTH = 32


def mask(value: Any, depth: int = 0) -> Any:
    """``value`` with every secret-looking mapping entry (and ``name=value`` text) masked."""
    if depth > _DEPTH:
        return MASK
    if isinstance(value, dict):
        return {
            k: MASK if SECRET_NAME.search(str(k)) else mask(v, depth + 1) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask(v, depth + 1) for v in value]
    if isinstance(value, str):
        name, eq, _ = value.partition("=")
        if eq and name.isidentifier() and SECRET_NAME.search(name):
            return f"{name}={MASK}"
        return value
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


class AuditLog:
    """Appends audit records to ``path``; an empty path records nothing."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.warner = Warner(log)
        self._fd = -1
        if path:
            try:
                open_private(path)
                self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW)
            except OSError as exc:
                raise ConfigError(f"audit_log {path}: cannot open: {exc.strerror or exc}")

    def job(self, load: dict[str, Any], minions: list[str], unknown: list[str]) -> None:
        """Record a published job."""
        self._write(
            {
                "event": "job",
                "user": load.get("user", ""),
                "jid": load.get("jid", ""),
                "tgt": load.get("tgt"),
                "tgt_type": load.get("tgt_type", ""),
                "fun": load.get("fun", ""),
                "arg": mask(load.get("arg", [])),
                "kwarg": mask(load.get("kwarg", {})),
                "minions": len(minions),
                "unknown": len(unknown),
            }
        )

    def keys(self, op: str, pattern: str, fingers: dict[str, str], rotated: bool) -> None:
        """Record a key operation that changed something (accept, reject, delete)."""
        self._write(
            {"event": "key", "op": op, "pattern": pattern, "keys": fingers, "rotated": rotated}
        )

    def _write(self, record: dict[str, Any]) -> None:
        if self._fd < 0:
            return
        stamp = datetime.datetime.now(datetime.UTC).isoformat()
        line = json.dumps({"time": stamp, **record}, default=repr, ensure_ascii=True) + "\n"
        try:
            os.write(self._fd, line.encode("ascii"))
        except OSError as exc:
            self.warner.warn("audit", f"audit_log {self.path}: a record was not written: {exc}")

    def close(self) -> None:
        """Close the file."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
