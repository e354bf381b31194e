"""What the master does with authenticated minion requests and local client commands.

Minion request types are the allow-list :data:`fluxforge.protocol.wire.REQUEST_TYPES`;
local commands are the allow-list :data:`LOCAL_COMMANDS`. Each handler gets
a validated body and the authenticated minion id (never an id from the body).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fluxforge import __version__, targeting
from fluxforge.config import MasterConfig
from fluxforge.errors import FluxForgeError, MalformedFrame, PillarError, TargetError, UsageError
from fluxforge.files.server import FileServer
from fluxforge.master import keys
from fluxforge.master.jobcache import JobCache
from fluxforge.master.minioncache import MinionCache
from fluxforge.master.sessions import Sessions
from fluxforge.pillar import compile_pillar
from fluxforge.protocol import wire
from fluxforge.protocol.jids import JidFactory, valid_jid

log = logging.getLogger(__name__)

RESERVED_PREFIX = "ff/"
LIVE_JOB_SECONDS = 3600.0

# A client sends exactly the load that is published.
CLIENT_LOAD_SHAPE = wire.PUBLICATION_SHAPE


@dataclass
class LiveJob:
    """A recent job: whom it expects and who has returned.

    A broadcast job reached every minion, and each decided for itself
    whether it is targeted, so a return from any accepted minion counts.
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


class Handlers:
    """The master's behaviour, independent of sockets."""

    def __init__(
        self,
        cfg: MasterConfig,
        sessions: Sessions,
        jobcache: JobCache,
        minions: MinionCache,
        fire: Callable[[str, dict[str, Any]], None],
        fire_packed: Callable[[str, bytes], None],
        publish: Callable[[dict[str, Any], list[str] | None], None],
    ) -> None:
        self.cfg = cfg
        self.sessions = sessions
        self.jobcache = jobcache
        self.minions = minions
        self.fileserver = FileServer(cfg.file_roots, cfg.file_chunk_size)
        self._compiling: set[str] = set()
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
        return self._minion_handlers[kind](self, minion_id, body)

    def _job_for(self, jid: str, minion_id: str) -> LiveJob:
        """The job ``jid`` if it was sent to ``minion_id``; otherwise refuse."""
        job = self.live.get(jid)
        if job is None and valid_jid(jid):
            recorded = self.jobcache.get_job(jid)
            if recorded is not None:
                broadcast = recorded["load"]["tgt_type"] != "list"
                job = LiveJob(minions=set(recorded["minions"]), broadcast=broadcast)
                self.live[jid] = job
                job.returned.update(recorded["returns"])
        if job is None:
            raise MalformedFrame(f"unknown job {jid[:30]!r}")
        if minion_id not in job.minions:
            if not job.broadcast:
                raise MalformedFrame(f"job {jid} was not sent to {minion_id}")
            # The minion decided it is targeted where the master's cache did not
            # say so (its grains changed since): its answer is the truth.
            job.minions.add(minion_id)
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

    def on_grains(self, minion_id: str, body: dict[str, Any]) -> None:
        """Keep the grains a minion sent (after authenticating, or after a change)."""
        self.minions.set_grains(minion_id, wire.plain(body["grains"]))

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

    _minion_handlers: dict[str, Callable[[Handlers, str, dict[str, Any]], Any]] = {
        "ret": on_return,
        "prog": on_progress,
        "event": on_event,
        "grains": on_grains,
        "pillar": on_pillar,
        "file_list": on_file_list,
        "file_hash": on_file_hash,
        "file_fetch": on_file_fetch,
    }

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
        resolution = self.resolve(load)
        minions, unknown = resolution.expected, resolution.unknown
        if not minions and not unknown:
            return {"jid": load["jid"], "minions": [], "unknown": []}
        broadcast = load["tgt_type"] != "list"
        self.jobcache.add_job(load, minions)
        self.live[load["jid"]] = LiveJob(minions={*minions, *unknown}, broadcast=broadcast)
        self.fire(f"ff/job/{load['jid']}/new", {**load, "minions": minions, "unknown": unknown})
        # A list names its minions: send to each on its own topic, so a job for
        # one of thousands costs one message. Other targets go to everyone and
        # each minion decides for itself.
        self.publish(load, None if broadcast else minions)
        return {"jid": load["jid"], "minions": minions, "unknown": unknown}

    def resolve(self, load: dict[str, Any]) -> targeting.Resolution:
        """Expand nodegroups in ``load`` (so minions need not know them) and resolve it."""
        nodegroups = self.cfg.nodegroups
        try:
            targeting.check(load["tgt"], load["tgt_type"], nodegroups)
            load["tgt"], load["tgt_type"] = targeting.expand_nodegroups(
                load["tgt"], load["tgt_type"], nodegroups
            )
            return targeting.resolve(
                load["tgt"], load["tgt_type"], self.sessions.accepted, self._current_data
            )
        except TargetError as exc:
            raise UsageError(f"invalid target: {exc}") from None

    def _current_data(
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

    def cmd_resolve(self, request: dict[str, Any]) -> dict[str, Any]:
        """Whom a target selects: ``{minions, unknown}``, without running anything."""
        load = {"tgt": request.get("tgt"), "tgt_type": request.get("tgt_type", "glob")}
        if not isinstance(load["tgt"], str | list) or not isinstance(load["tgt_type"], str):
            raise UsageError("resolve: give tgt (text or list) and tgt_type")
        resolution = self.resolve(load)
        return {"minions": resolution.expected, "unknown": resolution.unknown}

    def cmd_minion_data(self, request: dict[str, Any]) -> dict[str, Any]:
        """Cached grains (and, with ``pillar: true``, pillar) of minions matching ``pattern``."""
        pattern = request.get("pattern", "*")
        if not isinstance(pattern, str):
            raise UsageError("minion_data: pattern must be text")
        out: dict[str, Any] = {}
        for minion_id in self.minions.ids():
            if targeting.matches(pattern, "glob", minion_id):
                grains, pillar = self.minions.get(minion_id)
                out[minion_id] = {"grains": grains, "current": self.sessions.active(minion_id)}
                if request.get("pillar"):
                    out[minion_id]["pillar"] = pillar
        return out

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
        if op == "delete":
            self.minions.forget(change.moved)
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
    "resolve": Handlers.cmd_resolve,
    "minion_data": Handlers.cmd_minion_data,
}


def error_text(exc: BaseException) -> str:
    """One line for a client about what went wrong."""
    if isinstance(exc, FluxForgeError):
        return str(exc)
    return f"internal error: {type(exc).__name__}: {exc}"
