"""SQLite files whose rows are written in batches: the base of the master's SQLite stores."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from typing import Any

BATCH_WAIT = 0.02
BUSY_TIMEOUT = 30.0


def connect(path: str, timeout: float = BUSY_TIMEOUT) -> sqlite3.Connection:
    """A connection to ``path`` in WAL mode, usable from any thread (callers lock)."""
    conn = sqlite3.connect(path, check_same_thread=False, timeout=timeout)
    # Switching a new file to WAL takes an exclusive lock, and SQLite does not
    # wait for it: when another process opens the file at the same moment,
    # try again until the timeout.
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                conn.close()
                raise
            time.sleep(0.005)
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
        self._writer = connect(self.path)
        os.chmod(self.path, 0o600)
        self._writer.executescript(schema)
        self._writer.commit()
        self._reader = connect(self.path)
        self._read_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._pending: list[tuple[str, tuple[Any, ...]]] = []
        self._scheduled = False

    def put(self, sql: str, params: tuple[Any, ...]) -> None:
        """Queue one write; it is committed with its batch (at once with no event loop)."""
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

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """The rows of one read, from committed writes only."""
        with self._read_lock:
            return self._reader.execute(sql, params).fetchall()

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
