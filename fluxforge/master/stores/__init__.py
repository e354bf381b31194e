"""What the master keeps on disk, as interfaces: the job store and the minion data store.

The master's request handlers and local commands depend on these
:class:`~typing.Protocol` s only. The SQLite implementations are
:class:`fluxforge.master.stores.jobcache.JobCache` and
:class:`fluxforge.master.stores.minioncache.MinionCache`; a returner, a job
history or a PostgreSQL store is another class with the same methods.

Every implementation must pass the conformance suite of
:mod:`fluxforge.testing.stores`, which also pins down the semantics written
here. Common rules:

* The master calls every method from its event loop's thread, and the
  job store's reads (``job``, ``jobs``) also from a worker thread: an
  implementation must be safe to call from several threads at once.
* Writes may be batched. After :meth:`flush` returns, every earlier write
  is durable and visible to reads, and survives the process being killed.
  :meth:`close` flushes first.
* Values are what msgpack carries (maps with text keys, lists, text,
  numbers, bools, nil, bytes); ids and values may be any unicode and a
  value may be several MiB.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class JobStore(Protocol):
    """Every published job and every return, kept for ``keep_jobs`` hours."""

    def add_job(self, load: dict[str, Any], minions: list[str]) -> None:
        """Record a published job (its load, with ``jid``) and the minions expected to return."""

    def add_return(self, ret: dict[str, Any], packed: bytes | None = None) -> None:
        """Record one minion's return: ``ret`` has ``jid`` and ``id``.

        ``packed`` is ``ret`` already packed with msgpack, for a store that
        keeps msgpack (the master packs each return once for the bus and the
        store). One return is kept per job and minion: the master never
        sends a second, and a store may keep either.
        """

    def get_job(self, jid: str) -> dict[str, Any] | None:
        """``{load, minions, returns: {id: ret}}`` of a flushed job, or None."""

    def list_jobs(self, limit: int = 50) -> list[dict[str, Any]]:
        """``[{jid, fun, tgt, tgt_type}]`` of the newest ``limit`` jobs, greatest jid first.

        ``tgt`` is text: a list target's ids joined by commas.
        """

    def prune(self, keep_hours: float) -> None:
        """Forget jobs and returns recorded more than ``keep_hours`` ago."""

    def flush(self) -> None:
        """Make every earlier write durable and visible to reads."""

    def close(self) -> None:
        """Flush, then release the store."""


@runtime_checkable
class MinionDataStore(Protocol):
    """Each minion's grains and compiled pillar; None where the master does not know them.

    Reads are served from memory (target resolution reads every minion of
    every job): they see every write of this opener at once, flushed or not.
    """

    def get(self, minion_id: str) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]:
        """``(grains, pillar)`` of ``minion_id``; either is None when unknown."""

    def grains(self, minion_id: str) -> Mapping[str, Any] | None:
        """The grains of ``minion_id``, or None."""

    def set_grains(self, minion_id: str, grains: dict[str, Any]) -> None:
        """Replace the grains of a minion (its pillar stays)."""

    def set_pillar(self, minion_id: str, pillar: dict[str, Any] | None) -> None:
        """Replace the pillar of a minion; None: it has none (its compile failed)."""

    def forget(self, minion_ids: Iterable[str]) -> None:
        """Drop the entries of these minions for good (ids without one are ignored)."""

    def ids(self) -> list[str]:
        """Sorted ids that have an entry."""

    def flush(self) -> None:
        """Make every earlier write durable."""

    def close(self) -> None:
        """Flush, then release the store."""
