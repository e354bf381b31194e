"""The job cache: every job and every return, in SQLite (WAL) under ``cachedir``.

The SQLite :class:`~fluxforge.master.stores.JobStore`. Writes are gathered
for a few milliseconds and committed together
(:class:`~fluxforge.master.stores.sqlite.BatchedStore`); reads use their own
connection.
"""

from __future__ import annotations

import os
import time
from typing import Any

import msgpack

from fluxforge.master.stores.sqlite import BatchedStore

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


class JobCache(BatchedStore):
    """Jobs and returns in ``jobs.sqlite``."""

    def __init__(self, cachedir: str) -> None:
        super().__init__(os.path.join(cachedir, "jobs.sqlite"), SCHEMA)

    def add_job(self, load: dict[str, Any], minions: list[str]) -> None:
        """Record a published job and the minions expected to return."""
        tgt = load["tgt"] if isinstance(load["tgt"], str) else ",".join(load["tgt"])
        self.put(
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
        self.put(
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

    def get_job(self, jid: str) -> dict[str, Any] | None:
        """The job's load, expected minions and returns by minion id (committed writes only)."""
        rows = self.query("SELECT load, minions FROM jobs WHERE jid = ?", (jid,))
        if not rows:
            return None
        rets = self.query("SELECT id, ret FROM returns WHERE jid = ? ORDER BY id", (jid,))
        return {
            "load": msgpack.unpackb(rows[0][0], raw=False),
            "minions": msgpack.unpackb(rows[0][1], raw=False),
            "returns": {mid: msgpack.unpackb(blob, raw=False) for mid, blob in rets},
        }

    def list_jobs(self, limit: int = 50) -> list[dict[str, Any]]:
        """The most recent jobs, newest first."""
        rows = self.query(
            "SELECT jid, fun, tgt, tgt_type FROM jobs ORDER BY jid DESC LIMIT ?", (limit,)
        )
        return [{"jid": r[0], "fun": r[1], "tgt": r[2], "tgt_type": r[3]} for r in rows]

    def prune(self, keep_hours: float) -> None:
        """Forget jobs older than ``keep_hours``."""
        cutoff = time.time() - keep_hours * 3600
        self.put("DELETE FROM returns WHERE created < ?", (cutoff,))
        self.put("DELETE FROM jobs WHERE created < ?", (cutoff,))
