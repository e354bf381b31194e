"""What the master does with authenticated minion requests.

The request types are the allow-list :data:`fluxforge.protocol.wire.REQUEST_TYPES`;
each body is checked against its type's shape before dispatch, and each
handler gets the validated body and the authenticated minion id (never an
id from the body). A refusal is a :class:`~fluxforge.errors.MalformedFrame`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fluxforge.config import MasterConfig
from fluxforge.errors import MalformedFrame, PillarError
from fluxforge.events import tags
from fluxforge.files.server import FileServer
from fluxforge.master.core import Deferred, LiveJob, LiveJobs
from fluxforge.master.stores import JobStore, MinionDataStore
from fluxforge.pillar import compile_pillar
from fluxforge.protocol import wire

log = logging.getLogger(__name__)

# Grains nest a few levels (``ip_interfaces: {eth0: [addr]}`` is 3); custom
# grains get room, a report nested deeper is refused.
GRAINS_DEPTH = 16


class Requests:
    """The master's answers to minions, independent of sockets."""

    def __init__(
        self,
        cfg: MasterConfig,
        live: LiveJobs,
        jobs: JobStore,
        minions: MinionDataStore,
        fire: Callable[[str, dict[str, Any]], None],
        fire_packed: Callable[[str, bytes], None],
    ) -> None:
        self.cfg = cfg
        self.live = live
        self.jobs = jobs
        self.minions = minions
        self.fileserver = FileServer(cfg.file_roots, cfg.file_chunk_size)
        self._compiling: set[str] = set()
        self.fire = fire
        self.fire_packed = fire_packed

    # The request types answered from the worker pool, capped per minion
    # by max_requests_in_flight in the daemon.
    DEFERRED = frozenset({"pillar", "file_list", "file_hash", "file_fetch"})

    def dispatch(self, minion_id: str, kind: str, body: dict[str, Any]) -> Any:
        """Serve one authenticated request; returns the reply body or a :class:`Deferred`."""
        shape = wire.REQUEST_TYPES.get(kind)
        if shape is None:
            raise MalformedFrame(f"unknown request type {kind[:40]!r}")
        body = wire.check(body, shape, kind)
        return self._handlers[kind](self, minion_id, body)

    def _job_for(self, jid: str, minion_id: str) -> LiveJob:
        """The job ``jid`` if the master resolved ``minion_id`` for it or could not
        rule it out; otherwise refuse (a return to another's job is an injection)."""
        job = self.live.find(jid)
        if job is None:
            raise MalformedFrame(f"unknown job {jid[:30]!r}")
        if minion_id not in job.minions:
            raise MalformedFrame(
                f"job {jid} does not target {minion_id} (if its grains changed, the "
                "minion must report them: ffutil.refresh_grains)"
            )
        return job

    def on_return(self, minion_id: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """Store a job return and announce it on the bus."""
        jid = body["jid"]
        job = self._job_for(jid, minion_id)
        if minion_id in job.returned:
            return {"duplicate": True}
        ret = {"id": minion_id, **body}
        packed = wire.pack(ret)
        if len(packed) > self.cfg.max_return_size:
            raise MalformedFrame(
                f"return of {len(packed)} bytes for job {jid} is over max_return_size "
                f"({self.cfg.max_return_size})"
            )
        job.returned.add(minion_id)
        self.jobs.add_return(ret, packed)
        self.fire_packed(tags.job_ret(jid, minion_id), packed)
        return None

    def on_progress(self, minion_id: str, body: dict[str, Any]) -> None:
        """Relay a running job's heartbeat."""
        jid = body["jid"]
        self._job_for(jid, minion_id)
        self.fire(tags.job_prog(jid, minion_id), {"id": minion_id, **body})

    def on_event(self, minion_id: str, body: dict[str, Any]) -> None:
        """Fire an event for a minion, under a prefix it may use."""
        tag = body["tag"]
        if not tag or len(tag) > tags.MAX_TAG_LENGTH:
            raise MalformedFrame(f"event tag must be 1 to {tags.MAX_TAG_LENGTH} characters")
        if not tags.minion_may_fire(minion_id, tag):
            raise MalformedFrame(f"minion {minion_id} may not fire reserved tag {tag[:80]!r}")
        self.fire(tag, {**body["data"], "id": minion_id})

    def on_grains(self, minion_id: str, body: dict[str, Any]) -> None:
        """Keep the grains a minion sent (after authenticating, or after a change).

        A report over ``max_grains_size`` bytes, ``max_grains_objects``
        objects or :data:`GRAINS_DEPTH` levels is refused, counted from its
        packed bytes (the decoder's limits already bounded the cost).
        """
        grains = body["grains"]
        packed = wire.pack(grains)
        if len(packed) > self.cfg.max_grains_size:
            raise MalformedFrame(
                f"grains report of {len(packed)} bytes is over max_grains_size "
                f"({self.cfg.max_grains_size})"
            )
        try:
            wire.scan_objects(packed, self.cfg.max_grains_objects, GRAINS_DEPTH)
        except MalformedFrame as exc:
            raise MalformedFrame(f"grains report refused: {exc} (max_grains_objects)") from None
        self.minions.set_grains(minion_id, wire.plain(grains))

    def on_pillar(self, minion_id: str, body: dict[str, Any]) -> Deferred:
        """Compile this minion's pillar (in a worker thread) for it alone.

        A compile error reaches the minion as a pillar error, never as empty
        pillar; the log names the file and line but never a value.
        """
        # One compile per minion at a time: a minion asks once and waits, so
        # a second request while one runs is a flood, refused cheaply.
        if minion_id in self._compiling:
            raise MalformedFrame(f"a pillar compile for {minion_id} is already running")
        self._compiling.add(minion_id)
        grains = dict(self.minions.grains(minion_id) or {"id": minion_id})
        env = body["env"]

        def work() -> dict[str, Any]:
            try:
                return {"pillar": compile_pillar(self.cfg, minion_id, grains, env), "error": ""}
            except PillarError as exc:
                log.warning("pillar of %s did not compile: %s", minion_id, exc)
                return {"pillar": {}, "error": str(exc)}
            except Exception as exc:  # never a value in the message: only the kind
                log.error("pillar of %s failed: %s", minion_id, type(exc).__name__)
                log.debug("pillar failure", exc_info=True)
                return {
                    "pillar": {},
                    "error": f"the master failed to compile the pillar "
                    f"({type(exc).__name__}); see its log",
                }

        def done(reply: dict[str, Any]) -> dict[str, Any]:
            self._compiling.discard(minion_id)
            # After an error the minion has no pillar: neither may the cache,
            # or the master would expect it for pillar targets it will refuse.
            self.minions.set_pillar(minion_id, None if reply["error"] else reply["pillar"])
            return reply

        return Deferred(work, done)

    def on_file_list(self, minion_id: str, body: dict[str, Any]) -> Deferred:
        """The files under a folder of the file roots."""
        return Deferred(lambda: self.fileserver.list_files(body["env"], body["prefix"]))

    def on_file_hash(self, minion_id: str, body: dict[str, Any]) -> Deferred:
        """One file's hash, size and mode, or None."""
        return Deferred(lambda: self.fileserver.file_hash(body["env"], body["path"]))

    def on_file_fetch(self, minion_id: str, body: dict[str, Any]) -> Deferred:
        """One chunk of a file."""
        return Deferred(lambda: self.fileserver.fetch(body["env"], body["path"], body["offset"]))

    _handlers: dict[str, Callable[[Requests, str, dict[str, Any]], Any]] = {
        "ret": on_return,
        "prog": on_progress,
        "event": on_event,
        "grains": on_grains,
        "pillar": on_pillar,
        "file_list": on_file_list,
        "file_hash": on_file_hash,
        "file_fetch": on_file_fetch,
    }
