"""What minion requests and local commands share: live jobs, target resolution, deferred replies.

:mod:`fluxforge.master.commands` records and resolves jobs here,
:mod:`fluxforge.master.requests` looks them up when returns arrive;
:mod:`fluxforge.master.daemon` makes one of each and hands them to both.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fluxforge import targeting
from fluxforge.errors import TargetError
from fluxforge.master.sessions import Sessions
from fluxforge.master.stores import JobStore, MinionDataStore
from fluxforge.protocol.jids import valid_jid

LIVE_JOB_SECONDS = 3600.0


@dataclass
class LiveJob:
    """A recent job: who may return to it and who has returned.

    ``minions`` are those the master resolved for the job (expected) and
    those it could not rule out (unknown: no current grains or pillar);
    only they may return, whatever reached the others. A minion whose grains
    changed without reporting them was ruled out on stale data: its return
    is refused (a minion reports every change it makes, see ``grains.setval``).
    ``broadcast`` says the job went to every minion's topic.
    """

    minions: set[str]
    broadcast: bool = False
    returned: set[str] = field(default_factory=set)
    created: float = field(default_factory=time.monotonic)


@dataclass
class Deferred:
    """A reply computed in a worker thread (a pillar compile, a file read).

    ``work`` runs in the pool; ``done`` (if any) then runs on the loop with
    its result and gives the reply body.
    """

    work: Callable[[], Any]
    done: Callable[[Any], Any] | None = None


class LiveJobs:
    """Jobs published in the last hour, by jid, and those read back from the job store."""

    def __init__(self, jobs: JobStore) -> None:
        self.jobs = jobs
        self.live: dict[str, LiveJob] = {}

    def add(self, jid: str, minions: set[str], broadcast: bool) -> LiveJob:
        """Remember a job just published."""
        job = self.live[jid] = LiveJob(minions=minions, broadcast=broadcast)
        return job

    def find(self, jid: str) -> LiveJob | None:
        """The job ``jid``: live, or recorded in the job store (then live again), or None.

        A job read back from the store accepts returns from the minions it
        expected (the store does not keep the unknown ones), and knows who
        has returned already.
        """
        job = self.live.get(jid)
        if job is None and valid_jid(jid):
            recorded = self.jobs.get_job(jid)
            if recorded is not None:
                broadcast = recorded["load"]["tgt_type"] != "list"
                job = self.add(jid, set(recorded["minions"]), broadcast)
                job.returned.update(recorded["returns"])
        return job

    def prune(self) -> None:
        """Forget live jobs older than an hour (they stay in the job store)."""
        cutoff = time.monotonic() - LIVE_JOB_SECONDS
        for jid in [j for j, job in self.live.items() if job.created < cutoff]:
            del self.live[jid]


class Targets:
    """Target resolution against the accepted keys and the minion data store."""

    def __init__(
        self, nodegroups: Mapping[str, Any], sessions: Sessions, minions: MinionDataStore
    ) -> None:
        self.nodegroups = nodegroups
        self.sessions = sessions
        self.minions = minions

    def resolve(
        self, load: dict[str, Any], minion_ids: Iterable[str] | None = None
    ) -> targeting.Resolution:
        """Expand nodegroups in ``load`` (so minions need not know them) and resolve it.

        Over ``minion_ids`` (a snapshot, for a resolution in a thread), else
        the accepted minions. A target that cannot be used is a
        :class:`TargetError` ``invalid target: ...``.
        """
        nodegroups = self.nodegroups
        try:
            targeting.check(load["tgt"], load["tgt_type"], nodegroups)
            load["tgt"], load["tgt_type"] = targeting.expand_nodegroups(
                load["tgt"], load["tgt_type"], nodegroups
            )
            return targeting.resolve(
                load["tgt"],
                load["tgt_type"],
                self.sessions.accepted if minion_ids is None else minion_ids,
                self.current_data,
            )
        except TargetError as exc:
            raise TargetError(f"invalid target: {exc}") from None

    def current_data(
        self, minion_id: str
    ) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]:
        """A minion's cached grains and pillar, if they are current.

        A minion sends its grains whenever it authenticates, so data of one
        that has not authenticated with this master process (it was cached
        before a restart) may be stale: the master does not decide on it, the
        minion does (it is ``unknown``, not skipped).
        """
        if not self.sessions.active(minion_id):
            return None, None
        return self.minions.get(minion_id)
