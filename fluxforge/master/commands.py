"""What the master does with commands from local clients (``ff``, ``ff-key``, scripts).

The commands and their fields are declared in
:data:`fluxforge.protocol.commands.COMMANDS`; :meth:`Commands.dispatch`
validates every request against that table before a handler runs, so each
handler gets exactly the declared fields, defaults filled in, and checks
only what the table cannot say.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fluxforge import __version__, targeting
from fluxforge.errors import UsageError
from fluxforge.events import tags
from fluxforge.master.audit import AuditLog
from fluxforge.master.core import Deferred, LiveJobs, Targets
from fluxforge.master.sessions import Sessions
from fluxforge.master.stores import JobStore, MinionDataStore
from fluxforge.protocol import commands
from fluxforge.protocol.jids import JidFactory

# Commands that read the job store: the daemon runs them in a thread.
THREADED = frozenset({"job", "jobs"})
# Commands that resolve a target against minion data (regexes on grains a
# minion controls): the daemon takes them through :meth:`Commands.deferred`,
# resolving in a thread and finishing on the loop.
RESOLVING = frozenset({"publish", "resolve"})


class Commands:
    """The master's answers to local clients, independent of sockets."""

    def __init__(
        self,
        sessions: Sessions,
        live: LiveJobs,
        targets: Targets,
        jobs: JobStore,
        minions: MinionDataStore,
        fire: Callable[[str, dict[str, Any]], None],
        publish: Callable[[dict[str, Any], list[str] | None], None],
    ) -> None:
        self.sessions = sessions
        self.live = live
        self.targets = targets
        self.jobs = jobs
        self.minions = minions
        self.fire = fire
        self.publish = publish
        self.jids = JidFactory()
        self.audit = AuditLog("")  # the daemon sets the configured one
        # One handler per declared command (a test keeps the two in step).
        self.handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "ping": self.cmd_ping,
            "prep_jid": self.cmd_prep_jid,
            "sync": self.cmd_sync,
            "publish": self.cmd_publish,
            "job": self.cmd_job,
            "jobs": self.cmd_jobs,
            "keys": self.cmd_keys,
            "resolve": self.cmd_resolve,
            "minion_data": self.cmd_minion_data,
        }

    def dispatch(self, request: Any) -> Any:
        """Validate a local request against the declared commands, then serve it."""
        name, fields = commands.validate(request)
        return self.handlers[name](fields)

    def cmd_ping(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Answer that the master is up."""
        return {"version": __version__, "minions": len(self.sessions.accepted)}

    def cmd_sync(self, fields: dict[str, Any]) -> None:
        """Fire a client's sync event so it knows its subscription is live."""
        self.fire(fields["tag"], {})

    def cmd_prep_jid(self, fields: dict[str, Any]) -> dict[str, Any]:
        """A new jid for a job the client is about to publish."""
        return {"jid": self.jids.next()}

    def deferred(self, request: Any) -> Deferred:
        """Validate a :data:`RESOLVING` request; resolve in ``work``, publish or answer in ``done``.

        ``work`` may run in a thread: it reads a snapshot of the accepted ids
        taken here, and the minion data store's in-memory cache.
        """
        name, fields = commands.validate(request)
        minion_ids = list(self.sessions.accepted)
        if name == "publish":
            load = fields["load"]
            if not load["jid"]:
                load["jid"] = self.jids.next()
            return Deferred(
                lambda: self.targets.resolve(load, minion_ids),
                lambda resolution: self._published(load, resolution),
            )
        if name == "resolve":
            query = {"tgt": fields["tgt"], "tgt_type": fields["tgt_type"]}
            return Deferred(lambda: self.targets.resolve(query, minion_ids), _answer)
        raise ValueError(f"command {name!r} is not one that resolves a target")

    def cmd_publish(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Resolve the target, record the job and publish it."""
        load = fields["load"]
        if not load["jid"]:
            load["jid"] = self.jids.next()
        return self._published(load, self.targets.resolve(load))

    def _published(self, load: dict[str, Any], resolution: targeting.Resolution) -> dict[str, Any]:
        """Record and publish a job whose target is resolved (on the loop)."""
        minions, unknown = resolution.expected, resolution.unknown
        if not minions and not unknown:
            return {"jid": load["jid"], "minions": [], "unknown": []}
        candidates = sorted({*minions, *unknown})
        # A job that leaves out some accepted minion is sealed to each candidate's
        # own key on its own topic: the others cannot read it. One that every
        # accepted minion may run is a broadcast under the session key.
        broadcast = len(candidates) >= len(self.sessions.accepted)
        self.jobs.add_job(load, minions)
        self.audit.job(load, minions, unknown)
        # Only the candidates may return to it (Requests._job_for).
        self.live.add(load["jid"], set(candidates), broadcast)
        self.fire(tags.job_new(load["jid"]), {**load, "minions": minions, "unknown": unknown})
        self.publish(load, None if broadcast else candidates)
        return {"jid": load["jid"], "minions": minions, "unknown": unknown}

    def cmd_resolve(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Whom a target selects: ``{minions, unknown}``, without running anything."""
        return _answer(self.targets.resolve({"tgt": fields["tgt"], "tgt_type": fields["tgt_type"]}))

    def cmd_minion_data(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Cached grains (and, with ``pillar: true``, pillar) of minions matching ``pattern``."""
        out: dict[str, Any] = {}
        for minion_id in self.minions.ids():
            if targeting.matches(fields["pattern"], "glob", minion_id):
                grains, pillar = self.minions.get(minion_id)
                out[minion_id] = {"grains": grains, "current": self.sessions.active(minion_id)}
                if fields["pillar"]:
                    out[minion_id]["pillar"] = pillar
        return out

    def cmd_job(self, fields: dict[str, Any]) -> Any:
        """A recorded job with its returns."""
        self.jobs.flush()
        return self.jobs.get_job(fields["jid"])

    def cmd_jobs(self, fields: dict[str, Any]) -> Any:
        """The most recent jobs."""
        return self.jobs.list_jobs(fields["limit"])

    def cmd_keys(self, fields: dict[str, Any]) -> Any:
        """List, accept, reject, delete, fingerprint or print minion keys."""
        op, pattern, include = fields["op"], fields["pattern"], tuple(fields["include"])
        store = self.sessions.store
        if op == "list":
            return store.listing()
        if op == "finger":
            return store.fingerprints(pattern)
        if op == "print":
            return store.public_keys(pattern)
        if op == "accept":
            change = store.accept(pattern, include, _expected(fields["expect"]))
        elif op == "reject":
            change = store.reject(pattern, include)
        else:
            change = store.delete(pattern)
        self.sessions.reload_accepted()
        if op == "delete":
            self.minions.forget(change.moved)
        if change.removed_accepted:
            self.sessions.rotate(f"{op} {', '.join(change.moved)}")
        if change.moved:
            self.audit.keys(op, pattern, change.fingers, change.removed_accepted)
        for minion_id in change.moved:
            self.fire(tags.KEY, {"id": minion_id, "act": op})
        return {
            "moved": change.moved,
            "rotated": change.removed_accepted,
            "fingers": change.fingers,
        }


def _expected(expect: dict[Any, Any]) -> dict[str, str]:
    """The ``expect`` field of ``keys``: text ids to text fingerprints, checked."""
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in expect.items()):
        raise UsageError("keys: field 'expect' must map minion ids to fingerprints (text)")
    return expect


def _answer(resolution: targeting.Resolution) -> dict[str, Any]:
    """The reply to ``resolve``."""
    return {"minions": resolution.expected, "unknown": resolution.unknown}
