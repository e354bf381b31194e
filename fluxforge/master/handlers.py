"""What the master does with authenticated minion requests and local client commands.

Minion request types are the allow-list :data:`fluxforge.wire.REQUEST_TYPES`;
local commands are the allow-list :data:`LOCAL_COMMANDS`. Each handler gets
a validated body and the authenticated minion id (never an id from the body).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fluxforge import __version__, keys, targeting, wire
from fluxforge.errors import FluxForgeError, MalformedFrame, UsageError
from fluxforge.jobs import JidFactory, valid_jid
from fluxforge.master.jobcache import JobCache
from fluxforge.master.sessions import Sessions

log = logging.getLogger(__name__)

RESERVED_PREFIX = "ff/"
LIVE_JOB_SECONDS = 3600.0

# A client sends exactly the load that is published.
CLIENT_LOAD_SHAPE = wire.PUBLICATION_SHAPE


@dataclass
class LiveJob:
    """A recent job: whom it expects and who has returned."""

    minions: set[str]
    returned: set[str] = field(default_factory=set)
    created: float = field(default_factory=time.monotonic)


class Handlers:
    """The master's behaviour, independent of sockets."""

    def __init__(
        self,
        sessions: Sessions,
        jobcache: JobCache,
        fire: Callable[[str, dict[str, Any]], None],
        fire_packed: Callable[[str, bytes], None],
        publish: Callable[[dict[str, Any], list[str] | None], None],
    ) -> None:
        self.sessions = sessions
        self.jobcache = jobcache
        self.fire = fire
        self.fire_packed = fire_packed
        self.publish = publish
        self.jids = JidFactory()
        self.live: dict[str, LiveJob] = {}

    # -- minion requests --------------------------------------------------

    def minion_request(self, minion_id: str, kind: str, body: dict[str, Any]) -> Any:
        """Dispatch one authenticated request; returns the reply body."""
        shape = wire.REQUEST_TYPES.get(kind)
        if shape is None:
            raise MalformedFrame(f"unknown request type {kind[:40]!r}")
        body = wire.check(body, shape, kind)
        if kind == "ret":
            return self.on_return(minion_id, body)
        if kind == "prog":
            return self.on_progress(minion_id, body)
        return self.on_event(minion_id, body)

    def _job_for(self, jid: str, minion_id: str) -> LiveJob:
        """The job ``jid`` if it was sent to ``minion_id``; otherwise refuse."""
        job = self.live.get(jid)
        if job is None and valid_jid(jid):
            recorded = self.jobcache.get_job(jid)
            if recorded is not None:
                job = self.live[jid] = LiveJob(minions=set(recorded["minions"]))
                job.returned.update(recorded["returns"])
        if job is None:
            raise MalformedFrame(f"unknown job {jid[:30]!r}")
        if minion_id not in job.minions:
            raise MalformedFrame(f"job {jid} was not sent to {minion_id}")
        return job

    def on_return(self, minion_id: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """Store a job return and announce it on the bus."""
        jid = body["jid"]
        job = self._job_for(jid, minion_id)
        if minion_id in job.returned:
            return {"duplicate": True}
        job.returned.add(minion_id)
        ret = {"id": minion_id, **body}
        packed = wire.pack(ret)
        self.jobcache.add_return(ret, packed)
        self.fire_packed(f"ff/job/{jid}/ret/{minion_id}", packed)
        return None

    def on_progress(self, minion_id: str, body: dict[str, Any]) -> None:
        """Relay a running job's heartbeat."""
        jid = body["jid"]
        self._job_for(jid, minion_id)
        self.fire(f"ff/job/{jid}/prog/{minion_id}", {"id": minion_id, **body})

    def on_event(self, minion_id: str, body: dict[str, Any]) -> None:
        """Fire an event for a minion, under a prefix it may use."""
        tag = body["tag"]
        own = (f"ff/minion/{minion_id}/", f"ff/beacon/{minion_id}/")
        if not tag or len(tag) > 512:
            raise MalformedFrame("event tag must be 1 to 512 characters")
        if tag.startswith(RESERVED_PREFIX) and not tag.startswith(own):
            raise MalformedFrame(f"minion {minion_id} may not fire reserved tag {tag[:80]!r}")
        self.fire(tag, {**body["data"], "id": minion_id})

    # -- local commands ---------------------------------------------------

    def local_command(self, request: Any) -> Any:
        """Dispatch a command from a local client."""
        if not isinstance(request, dict) or not isinstance(request.get("cmd"), str):
            raise UsageError("local request must be a mapping with a 'cmd'")
        handler = LOCAL_COMMANDS.get(request["cmd"])
        if handler is None:
            raise UsageError(f"unknown command {request['cmd'][:40]!r}")
        return handler(self, request)

    def cmd_ping(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer that the master is up."""
        return {"version": __version__, "minions": len(self.sessions.accepted)}

    def cmd_sync(self, request: dict[str, Any]) -> None:
        """Fire a client's sync event so it knows its subscription is live."""
        tag = request.get("tag")
        if not isinstance(tag, str) or not tag.startswith("ff/job/") or not tag.endswith("/sync"):
            raise UsageError("sync: tag must be ff/job/<jid>/sync")
        self.fire(tag, {})

    def cmd_prep_jid(self, request: dict[str, Any]) -> dict[str, Any]:
        """A new jid for a job the client is about to publish."""
        return {"jid": self.jids.next()}

    def cmd_publish(self, request: dict[str, Any]) -> dict[str, Any]:
        """Resolve the target, record the job and publish it."""
        load = request.get("load")
        if isinstance(load, dict) and not load.get("jid"):
            load["jid"] = self.jids.next()
        load = wire.check(load, CLIENT_LOAD_SHAPE, "publish")
        if not valid_jid(load["jid"]):
            raise UsageError(f"invalid jid {load['jid'][:30]!r}")
        minions = targeting.expected(load["tgt"], load["tgt_type"], self.sessions.accepted)
        if not minions:
            return {"jid": load["jid"], "minions": []}
        self.jobcache.add_job(load, minions)
        self.live[load["jid"]] = LiveJob(minions=set(minions))
        self.fire(f"ff/job/{load['jid']}/new", {**load, "minions": minions})
        # A list names its minions: send to each on its own topic, so a job for
        # one of thousands costs one message. Other targets go to everyone and
        # each minion decides for itself.
        self.publish(load, minions if load["tgt_type"] == "list" else None)
        return {"jid": load["jid"], "minions": minions}

    def cmd_job(self, request: dict[str, Any]) -> Any:
        """A recorded job with its returns."""
        jid = request.get("jid")
        if not valid_jid(jid):
            raise UsageError("job: give a 20-digit jid")
        self.jobcache.flush()
        return self.jobcache.get_job(str(jid))

    def cmd_jobs(self, request: dict[str, Any]) -> Any:
        """The most recent jobs."""
        return self.jobcache.list_jobs(int(request.get("limit", 50)))

    def cmd_keys(self, request: dict[str, Any]) -> Any:
        """List, accept, reject, delete or fingerprint minion keys."""
        op, pattern = request.get("op"), request.get("pattern", "*")
        include = tuple(request.get("include") or ())
        if not isinstance(pattern, str) or any(s not in keys.STATES for s in include):
            raise UsageError("keys: pattern must be text and include known states")
        store = self.sessions.store
        if op == "list":
            return store.listing()
        if op == "finger":
            return store.fingerprints(pattern)
        if op == "accept":
            change = store.accept(pattern, include)
        elif op == "reject":
            change = store.reject(pattern, include)
        elif op == "delete":
            change = store.delete(pattern)
        else:
            raise UsageError(f"keys: unknown operation {str(op)[:20]!r}")
        self.sessions.reload_accepted()
        if change.removed_accepted:
            self.sessions.rotate(f"{op} {', '.join(change.moved)}")
        for minion_id in change.moved:
            self.fire("ff/key", {"id": minion_id, "act": op})
        return {"moved": change.moved, "rotated": change.removed_accepted}

    def prune(self) -> None:
        """Forget live jobs older than an hour (they stay in the job cache)."""
        cutoff = time.monotonic() - LIVE_JOB_SECONDS
        for jid in [j for j, job in self.live.items() if job.created < cutoff]:
            del self.live[jid]


LOCAL_COMMANDS: dict[str, Callable[[Handlers, dict[str, Any]], Any]] = {
    "ping": Handlers.cmd_ping,
    "prep_jid": Handlers.cmd_prep_jid,
    "sync": Handlers.cmd_sync,
    "publish": Handlers.cmd_publish,
    "job": Handlers.cmd_job,
    "jobs": Handlers.cmd_jobs,
    "keys": Handlers.cmd_keys,
}


def error_text(exc: BaseException) -> str:
    """One line for a client about what went wrong."""
    if isinstance(exc, FluxForgeError):
        return str(exc)
    return f"internal error: {type(exc).__name__}: {exc}"
