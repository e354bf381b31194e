"""The local client: how ``ff``, ``ff-key`` and scripts talk to a running master.

It speaks to the master over the IPC request socket in ``sock_dir`` and
listens to the event bus. To run a job it takes a jid, subscribes to that
job's events, and only then publishes, so no return is missed; before it
gives up on a minion it also checks the job cache.

    client = LocalClient(config.load().master)
    job = client.run("web*", "cmd.run", ["uptime"])
    for minion_id, ret in job.returns():
        ...

A caller that runs several jobs in turn (batch mode) opens one listener for
all of them with :meth:`LocalClient.listen` and passes it to each
:meth:`LocalClient.run`; the listener is synced once, before the first
publish, so the guarantee holds for every job.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import zmq

from fluxforge import errors, events
from fluxforge.config import MasterConfig
from fluxforge.errors import FluxForgeError, MasterUnavailable, TargetError
from fluxforge.events import tags
from fluxforge.protocol import wire

REQUEST_TIMEOUT = 30.0

# Target types whose syntax the client checks before it asks the master.
PRECHECKED_TYPES = ("pcre", "compound")
TARGET_ERROR_PREFIX = "invalid target"


def master_pid(sock_dir: str) -> int | None:
    """The pid of the master running on ``sock_dir``, or None if none runs."""
    try:
        with open(os.path.join(sock_dir, events.PID_NAME), encoding="ascii") as fh:
            pid = int(fh.read().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


class LocalClient:
    """A connection to the local master's request socket and event bus."""

    def __init__(self, cfg: MasterConfig, request_timeout: float = REQUEST_TIMEOUT) -> None:
        self.cfg = cfg
        self.request_timeout = request_timeout
        address = events.ipc_address(cfg.sock_dir, events.REQ_NAME)
        if not os.path.exists(address[len("ipc://") :]) or master_pid(cfg.sock_dir) is None:
            raise MasterUnavailable(
                f"no master is running here (no socket in {cfg.sock_dir}); "
                "start one with `ff-master -c CONFIG`"
            )
        self.ctx: zmq.Context[Any] = zmq.Context.instance()
        self.sock: zmq.Socket[Any] = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(address)

    def command(self, cmd: str, **fields: Any) -> Any:
        """Send one command to the master and return its result.

        A refusal is raised as the class of :mod:`fluxforge.errors` the master
        named (:func:`fluxforge.errors.rebuild`), so its exit code is the
        class's, whatever its wording.
        """
        self.sock.send(wire.pack({"cmd": cmd, **fields}))
        if not self.sock.poll(int(self.request_timeout * 1000)):
            raise MasterUnavailable(
                f"the master did not answer within {self.request_timeout:g}s "
                f"(socket in {self.cfg.sock_dir}); is ff-master running?"
            )
        reply = wire.unpack(self.sock.recv())
        if not isinstance(reply, dict):
            raise FluxForgeError("the master sent a malformed reply")
        if not reply.get("ok"):
            # {type, message}: the class of fluxforge.errors the master raised.
            raise errors.rebuild(reply.get("error"), "the master")
        return reply.get("result")

    def pending_matching(self, tgt: str | list[str], tgt_type: str) -> list[str]:
        """The pending (not yet accepted) keys whose ids the target selects, for a hint.

        Only what an id decides counts (a pending minion has no grains or
        pillar here); any error leaves the hint out rather than the answer.
        """
        from fluxforge import targeting

        try:
            listing = self.command("keys", op="list", pattern="*", include=[])
            pending = [str(i) for i in listing.get("pending", [])]
            found = targeting.resolve(tgt, tgt_type, pending, nodegroups=self.cfg.nodegroups)
            return found.expected
        except (FluxForgeError, AttributeError):
            return []

    def listen(self) -> events.EventListener:
        """A listener on every job's events (``ff/job/``), already live.

        Pass it to :meth:`run` to run several jobs on one subscription; the
        caller closes it.
        """
        jid = self.command("prep_jid")["jid"]
        listener = events.EventListener(self.cfg.sock_dir, (tags.JOB_PREFIX,))
        try:
            self._sync(listener, tags.job_sync(jid))
        except BaseException:
            listener.close()
            raise
        return listener

    def run(
        self,
        tgt: str | list[str],
        fun: str,
        arg: list[Any] | None = None,
        kwarg: dict[str, Any] | None = None,
        tgt_type: str = "glob",
        timeout: float | None = None,
        user: str = "",
        ret: str = "",
        listener: events.EventListener | None = None,
    ) -> Job:
        """Publish a job and return a :class:`Job` to wait on its returns.

        With ``listener`` (from :meth:`listen`) the job's events are read from
        it and the :class:`Job` leaves it open; otherwise the job has a
        listener of its own, closed when its returns are done. A target whose
        syntax is wrong raises :class:`~fluxforge.errors.TargetError`.
        """
        check_target(tgt, tgt_type, self.cfg.nodegroups)
        jid = self.command("prep_jid")["jid"]
        own = listener is None
        if listener is None:
            listener = events.EventListener(self.cfg.sock_dir, (tags.job_prefix(jid),))
        timeout = self.cfg.timeout if timeout is None else timeout
        load = {
            "jid": jid,
            "tgt": tgt,
            "tgt_type": tgt_type,
            "fun": fun,
            "arg": list(arg or []),
            "kwarg": dict(kwarg or {}),
            "user": user or os.environ.get("USER", "root"),
            "ret": ret,
            "timeout": float(timeout),
        }
        try:
            if own:
                self._sync(listener, tags.job_sync(jid))
            published = self.command("publish", load=load)
        except BaseException:
            if own:
                listener.close()
            raise
        return Job(
            self,
            listener,
            jid,
            list(published["minions"]),
            float(timeout),
            unknown=list(published.get("unknown", [])),
            owns_listener=own,
        )

    def _sync(self, listener: events.EventListener, tag: str) -> None:
        """Wait until ``listener``'s subscription is live, so that no event is missed.

        zmq applies a subscription asynchronously; the master fires ``tag`` on
        request, and once it arrives every later event will too.
        """
        deadline = time.monotonic() + self.request_timeout
        wait = 0.002
        while time.monotonic() < deadline:
            self.command("sync", tag=tag)
            if listener.wait_for(tag, wait) is not None:
                return
            wait = min(wait * 2, 0.1)
        raise MasterUnavailable("the master's event bus did not deliver a sync event")

    def close(self) -> None:
        """Close the request socket."""
        self.sock.close(0)


def check_target(tgt: str | list[str], tgt_type: str, nodegroups: dict[str, Any]) -> None:
    """Check the syntax of a pcre or compound target before it is published.

    The master checks every target anyway; this only saves the round trip
    and names the error the same way (``invalid target: ...``).
    """
    if tgt_type not in PRECHECKED_TYPES:
        return
    from fluxforge import targeting  # only these types need the parser (2-3 ms to import)

    try:
        targeting.check(tgt, tgt_type, nodegroups)
    except TargetError as exc:
        raise TargetError(f"{TARGET_ERROR_PREFIX}: {exc}") from None


@dataclass
class Job:
    """A published job whose returns are arriving.

    ``minions`` are the minions the master expects; ``unknown`` are accepted
    minions it could not decide for (no cached grains or pillar yet), which
    received the job and decide themselves. After :meth:`returns`,
    ``missing`` lists expected minions that did not return and
    ``silent_unknown`` the undecided ones that did not (they need not have
    been targeted, so they are not missing).
    """

    client: LocalClient
    listener: events.EventListener
    jid: str
    minions: list[str]
    timeout: float
    unknown: list[str] = field(default_factory=list)
    owns_listener: bool = True
    received: dict[str, dict[str, Any]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    silent_unknown: list[str] = field(default_factory=list)

    def returns(
        self, on_progress: Callable[[str, dict[str, Any]], None] | None = None
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield ``(minion_id, return)`` as returns arrive.

        Stops when every expected or undecided minion has returned, or when
        those that have not have been silent (no return, no heartbeat) for
        ``timeout`` seconds. Their ids are then in :attr:`missing` and
        :attr:`silent_unknown`. A return from any other minion is yielded too.
        """
        expected = {*self.minions, *self.unknown}
        pending = set(expected)
        start = time.monotonic()
        last_seen = dict.fromkeys(expected, start)
        # ``latest`` is at least the newest sign of life among pending minions;
        # it is made exact only when the wait runs out, so each event costs
        # O(1) however many minions the job has.
        latest = start
        try:
            while pending:
                now = time.monotonic()
                if now >= latest + self.timeout:
                    latest = max(last_seen[m] for m in pending)
                    if now >= latest + self.timeout:
                        yield from self._reconcile(pending)
                        break
                event = self.listener.get(latest + self.timeout - now)
                if event is None:
                    continue
                tag, data = event
                parsed = tags.parse(tag)
                if parsed is None or parsed.jid != self.jid or not parsed.minion:
                    continue
                minion_id = parsed.minion
                if parsed.event == "ret" and minion_id not in self.received:
                    self.received[minion_id] = data
                    pending.discard(minion_id)
                    yield minion_id, data
                elif parsed.event == "prog" and minion_id in pending:
                    last_seen[minion_id] = latest = time.monotonic()
                    if on_progress is not None:
                        on_progress(minion_id, data)
        finally:
            if self.owns_listener:
                self.listener.close()
        self.missing = sorted(set(self.minions) - self.received.keys())
        self.silent_unknown = sorted(set(self.unknown) - self.received.keys())

    def close(self) -> None:
        """Stop listening (for a job whose returns are not waited for)."""
        if self.owns_listener:
            self.listener.close()

    def _reconcile(self, pending: set[str]) -> Iterator[tuple[str, dict[str, Any]]]:
        """Take from the job cache any return whose event this client missed."""
        job = self.client.command("job", jid=self.jid) or {}
        for minion_id, ret in sorted(job.get("returns", {}).items()):
            if minion_id in pending and minion_id not in self.received:
                self.received[minion_id] = ret
                pending.discard(minion_id)
                yield minion_id, ret


def succeeded(ret: dict[str, Any]) -> bool:
    """Whether a return counts as a success: ``success`` true and retcode 0."""
    return bool(ret.get("success")) and ret.get("retcode", 0) == 0


def unknown_note(silent: Sequence[str]) -> str:
    """The line shown for undecided minions (no cached grains or pillar) that did not answer."""
    return (
        f"{len(silent)} minion(s) with no cached grains or pillar did not answer "
        f"(not targeted, or down): {', '.join(silent)}"
    )
