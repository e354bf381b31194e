"""The job cache: every job and every return, in SQLite (WAL) under ``cachedir``.

Writes are gathered for a few milliseconds and committed together; reads
use their own connection.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from typing import Any

import msgpack

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    jid TEXT PRIMARY KEY,
    fun TEXT NOT NULL,
    tgt TEXT NOT NULL,
    tgt_type TEXT NOT NULL,
    load BLOB NOT NULL,
    minions BLOB NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS returns (
    jid TEXT NOT NULL,
    id TEXT NOT NULL,
    ret BLOB NOT NULL,
    retcode INTEGER NOT NULL,
    success INTEGER NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (jid, id)
);
"""

BATCH_WAIT = 0.02


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class BatchedStore:
    """An SQLite file whose rows are gathered and written in batches.

    Rows queue in memory and are written together :data:`BATCH_WAIT` after the
    first of a batch, on the thread that runs the event loop (one
    ``executemany`` per statement and one commit per batch). Writing on the
    loop's own thread costs a few microseconds per row; a writer thread cost
    far more, because it competed with the loop for the GIL row by row.
    """

    def __init__(self, path: str, schema: str) -> None:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        self.path = path
        self._writer = _connect(self.path)
        os.chmod(self.path, 0o600)
        self._writer.executescript(schema)
        self._writer.commit()
        self._reader = _connect(self.path)
        self._read_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._pending: list[tuple[str, tuple[Any, ...]]] = []
        self._scheduled = False

    def _put(self, sql: str, params: tuple[Any, ...]) -> None:
        with self._write_lock:
            self._pending.append((sql, params))
            if self._scheduled:
                return
            self._scheduled = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        loop.call_later(BATCH_WAIT, self.flush)

    def flush(self, timeout: float = 10.0) -> None:
        """Write every pending row now."""
        with self._write_lock:
            rows, self._pending = self._pending, []
            self._scheduled = False
            if not rows:
                return
            start = 0
            for i in range(1, len(rows) + 1):
                if i == len(rows) or rows[i][0] != rows[start][0]:
                    self._writer.executemany(rows[start][0], [r[1] for r in rows[start:i]])
                    start = i
            self._writer.commit()

    def close(self) -> None:
        """Write what is pending and close the connections."""
        self.flush()
        self._writer.close()
        self._reader.close()


class JobCache(BatchedStore):
    """Jobs and returns in ``jobs.sqlite``."""

    def __init__(self, cachedir: str) -> None:
        super().__init__(os.path.join(cachedir, "jobs.sqlite"), SCHEMA)

    def add_job(self, load: dict[str, Any], minions: list[str]) -> None:
        """Record a published job and the minions expected to return."""
        tgt = load["tgt"] if isinstance(load["tgt"], str) else ",".join(load["tgt"])
        self._put(
            "INSERT OR REPLACE INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                load["jid"],
                load["fun"],
                tgt,
                load["tgt_type"],
                msgpack.packb(load, use_bin_type=True),
                msgpack.packb(minions, use_bin_type=True),
                time.time(),
            ),
        )

    def add_return(self, ret: dict[str, Any], packed: bytes | None = None) -> None:
        """Record one minion's return (``packed``: ``ret`` already as msgpack)."""
        self._put(
            "INSERT OR REPLACE INTO returns VALUES (?, ?, ?, ?, ?, ?)",
            (
                ret["jid"],
                ret["id"],
                packed if packed is not None else msgpack.packb(ret, use_bin_type=True),
                int(ret.get("retcode", 0)),
                int(bool(ret.get("success", False))),
                time.time(),
            ),
        )

    def has_job(self, jid: str) -> bool:
        """Whether the job ``jid`` was recorded (committed writes only)."""
        with self._read_lock:
            row = self._reader.execute("SELECT 1 FROM jobs WHERE jid = ?", (jid,)).fetchone()
        return row is not None

    def get_job(self, jid: str) -> dict[str, Any] | None:
        """The job's load, expected minions and returns by minion id."""
        with self._read_lock:
            row = self._reader.execute(
                "SELECT load, minions FROM jobs WHERE jid = ?", (jid,)
            ).fetchone()
            if row is None:
                return None
            rets = self._reader.execute(
                "SELECT id, ret FROM returns WHERE jid = ? ORDER BY id", (jid,)
            ).fetchall()
        return {
            "load": msgpack.unpackb(row[0], raw=False),
            "minions": msgpack.unpackb(row[1], raw=False),
            "returns": {mid: msgpack.unpackb(blob, raw=False) for mid, blob in rets},
        }

    def list_jobs(self, limit: int = 50) -> list[dict[str, Any]]:
        """The most recent jobs, newest first."""
        with self._read_lock:
            rows = self._reader.execute(
                "SELECT jid, fun, tgt, tgt_type FROM jobs ORDER BY jid DESC LIMIT ?", (limit,)
            ).fetchall()
        return [{"jid": r[0], "fun": r[1], "tgt": r[2], "tgt_type": r[3]} for r in rows]

    def prune(self, keep_hours: float) -> None:
        """Forget jobs older than ``keep_hours``."""
        cutoff = time.time() - keep_hours * 3600
        self._put("DELETE FROM returns WHERE created < ?", (cutoff,))
        self._put("DELETE FROM jobs WHERE created < ?", (cutoff,))
