"""The local client: how ``ff``, ``ff-key`` and scripts talk to a running master.

It speaks to the master over the IPC request socket in ``sock_dir`` and
listens to the event bus. To run a job it takes a jid, subscribes to that
job's events, and only then publishes, so no return is missed; before it
gives up on a minion it also checks the job cache.

    client = LocalClient(config.load().master)
    job = client.run("web*", "cmd.run", ["uptime"])
    for minion_id, ret in job.returns():
        ...
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import zmq

from fluxforge import events, wire
from fluxforge.config import MasterConfig
from fluxforge.errors import FluxForgeError, MasterUnavailable, UsageError

REQUEST_TIMEOUT = 30.0


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
        """Send one command to the master and return its result."""
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
            error = str(reply.get("error", "unknown error"))
            raise (
                UsageError(error)
                if error.startswith(("unknown", "invalid"))
                else (FluxForgeError(error))
            )
        return reply.get("result")

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
    ) -> Job:
        """Publish a job and return a :class:`Job` to wait on its returns."""
        jid = self.command("prep_jid")["jid"]
        listener = events.EventListener(self.cfg.sock_dir, (f"ff/job/{jid}/",))
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
            self._sync(listener, f"ff/job/{jid}/sync")
            published = self.command("publish", load=load)
        except BaseException:
            listener.close()
            raise
        return Job(self, listener, jid, list(published["minions"]), float(timeout))

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


@dataclass
class Job:
    """A published job whose returns are arriving."""

    client: LocalClient
    listener: events.EventListener
    jid: str
    minions: list[str]
    timeout: float
    received: dict[str, dict[str, Any]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    def returns(
        self, on_progress: Callable[[str, dict[str, Any]], None] | None = None
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield ``(minion_id, return)`` as returns arrive.

        Stops when every expected minion has returned, or when those that have
        not have been silent (no return, no heartbeat) for ``timeout`` seconds.
        Their ids are then in :attr:`missing`.
        """
        expected = set(self.minions)
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
                parts = tag.split("/")
                if len(parts) != 5 or parts[2] != self.jid:
                    continue
                minion_id = parts[4]
                if parts[3] == "ret" and minion_id not in self.received:
                    self.received[minion_id] = data
                    expected.add(minion_id)
                    pending.discard(minion_id)
                    yield minion_id, data
                elif parts[3] == "prog" and minion_id in pending:
                    last_seen[minion_id] = latest = time.monotonic()
                    if on_progress is not None:
                        on_progress(minion_id, data)
        finally:
            self.listener.close()
        self.missing = sorted(expected - self.received.keys())

    def _reconcile(self, pending: set[str]) -> Iterator[tuple[str, dict[str, Any]]]:
        """Take from the job cache any return whose event this client missed."""
        job = self.client.command("job", jid=self.jid) or {}
        for minion_id, ret in sorted(job.get("returns", {}).items()):
            if minion_id in pending and minion_id not in self.received:
                self.received[minion_id] = ret
                pending.discard(minion_id)
                yield minion_id, ret
