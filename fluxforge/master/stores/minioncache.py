"""The minion data cache: each minion's grains and compiled pillar, in SQLite under ``cachedir``.

The SQLite :class:`~fluxforge.master.stores.MinionDataStore`.

Minions send their grains after every authentication and whenever they
change; the master stores the pillar it compiles for each. The master
resolves grain, pillar, ipcidr and compound targets against this cache. It
is loaded into memory at start (resolution reads it for every minion of
every job) and written through in batches. The file is mode 0600: it holds
pillar, which may be secret.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from typing import Any

import msgpack

from fluxforge.master.stores.sqlite import BatchedStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS minions (
    id TEXT PRIMARY KEY,
    grains BLOB,
    pillar BLOB,
    updated REAL NOT NULL
);
"""

_UPSERT = (
    "INSERT INTO minions (id, {col}, updated) VALUES (?, ?, ?) "
    "ON CONFLICT(id) DO UPDATE SET {col} = excluded.{col}, updated = excluded.updated"
)


def _unpack(blob: bytes | None) -> dict[str, Any] | None:
    if blob is None:
        return None
    value = msgpack.unpackb(blob, raw=False)
    return value if isinstance(value, dict) else None


class MinionCache(BatchedStore):
    """Grains and pillar per minion id; ``None`` where the master does not know them."""

    def __init__(self, cachedir: str) -> None:
        super().__init__(os.path.join(cachedir, "minions.sqlite"), SCHEMA)
        self._data: dict[str, list[dict[str, Any] | None]] = {}
        for minion_id, grains, pillar in self.query("SELECT id, grains, pillar FROM minions"):
            self._data[minion_id] = [_unpack(grains), _unpack(pillar)]

    def get(self, minion_id: str) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]:
        """``(grains, pillar)`` of ``minion_id``; either is None when unknown."""
        entry = self._data.get(minion_id)
        if entry is None:
            return None, None
        return entry[0], entry[1]

    def grains(self, minion_id: str) -> Mapping[str, Any] | None:
        """The cached grains of ``minion_id``, or None."""
        return self.get(minion_id)[0]

    def set_grains(self, minion_id: str, grains: dict[str, Any]) -> None:
        """Store the grains a minion sent."""
        self._set(minion_id, 0, "grains", grains)

    def set_pillar(self, minion_id: str, pillar: dict[str, Any] | None) -> None:
        """Store the pillar compiled for a minion (None: it has none, after an error)."""
        self._set(minion_id, 1, "pillar", pillar)

    def _set(self, minion_id: str, index: int, column: str, value: dict[str, Any] | None) -> None:
        self._data.setdefault(minion_id, [None, None])[index] = value
        blob = None if value is None else msgpack.packb(value, use_bin_type=True)
        self.put(_UPSERT.format(col=column), (minion_id, blob, time.time()))

    def forget(self, minion_ids: Iterable[str]) -> None:
        """Drop the entries of minions whose keys were deleted."""
        for minion_id in minion_ids:
            if self._data.pop(minion_id, None) is not None:
                self.put("DELETE FROM minions WHERE id = ?", (minion_id,))

    def ids(self) -> list[str]:
        """Sorted ids with an entry."""
        return sorted(self._data)
