"""The master process: sockets, event loop and shutdown.

Sockets (see docs/protocol.md):

* PUB ``tcp://interface:publish_port``: sealed publications;
* ROUTER ``tcp://interface:ret_port``: auth and authenticated minion requests;
* IPC PUB/PULL in ``sock_dir``: the event bus;
* IPC ROUTER in ``sock_dir``: commands from local clients (``ff``, ``ff-key``).

Receiving sockets are drained in batches with non-blocking reads after one
``await`` (an await per message costs more than the crypto); sends never
block.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import logging
import os
import signal
from typing import Any

import zmq

from fluxforge import errors, events, targeting
from fluxforge.config import MasterConfig, ensure_dir, ensure_private_dir
from fluxforge.errors import ConfigError, FluxForgeError, MalformedFrame, NotAuthorized, WireError
from fluxforge.events import tags
from fluxforge.logs import Warner
from fluxforge.master import keys, lock, ports
from fluxforge.master.audit import AuditLog
from fluxforge.master.commands import RESOLVING, THREADED, Commands
from fluxforge.master.core import Deferred, LiveJobs, Targets
from fluxforge.master.requests import Requests
from fluxforge.master.sessions import Sessions
from fluxforge.master.stores import JobStore, MinionDataStore
from fluxforge.master.stores.jobcache import JobCache
from fluxforge.master.stores.minioncache import MinionCache
from fluxforge.protocol import wire
from fluxforge.protocol.crypto import MasterIdentity, Signer
from fluxforge.protocol.drain import NOBLOCK, SNDMORE, Drainer, peer_address, send_parts

log = logging.getLogger("fluxforge.master")

REQUEST_KINDS = {"auth": 1, "req": 2}
# An auth frame is a few hundred bytes: a bigger one is refused before decoding.
REQUEST_SIZES = {"auth": wire.AUTH_MOST_BYTES}


def _bind(sock: zmq.Socket[Any], address: str, option: str) -> str:
    """Bind ``sock`` and return the endpoint it got (with the real port if the port was 0)."""
    try:
        sock.bind(address)
    except zmq.ZMQError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"{address} is already in use; stop what holds it or change {option}")
        raise ConfigError(f"cannot bind {address} ({option}): {exc.strerror}")
    return str(sock.getsockopt_string(zmq.LAST_ENDPOINT))


class Master:
    """A running master."""

    def __init__(self, cfg: MasterConfig) -> None:
        self.cfg = cfg
        targeting.set_regex_timeout(cfg.target_regex_timeout)
        ensure_dir(cfg.sock_dir, 0o700)
        # Before any cache is opened or socket bound: a second master stops here.
        self._lock = lock.take(cfg.sock_dir)
        ensure_private_dir(cfg.pki_dir)
        self.identity = MasterIdentity.load(cfg.pki_dir)
        self.store = keys.KeyStore(
            cfg.pki_dir, cfg.auto_accept, cfg.autosign_file, cfg.max_pending_keys
        )
        self.warner = Warner(log)
        self.ctx = zmq.Context()
        self._sockets: list[zmq.Socket[Any]] = []
        self.ev_pub = self._socket(zmq.PUB)
        self.ev_pub.setsockopt(zmq.SNDHWM, 0)
        self.ev_pull = self._socket(zmq.PULL)
        self.api = self._socket(zmq.ROUTER)
        self.pub = self._socket(zmq.PUB)
        # High-water marks count messages per connected peer: a minion that
        # stops reading costs at most this many queued messages, then zmq
        # drops (PUB) or refuses (ROUTER, mandatory) what would go to it.
        self.pub.setsockopt(zmq.SNDHWM, cfg.publish_hwm)
        self.router = self._socket(zmq.ROUTER)
        self.router.setsockopt(zmq.MAXMSGSIZE, cfg.max_frame_size)
        self.router.setsockopt(zmq.RCVHWM, cfg.request_hwm)
        self.router.setsockopt(zmq.SNDHWM, cfg.reply_hwm)
        self.router.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self.signer = Signer(self.identity.sign_secret)
        self.sessions = Sessions(self.identity, self.store, self.fire)
        self.sessions.limiter = keys.NewKeyLimiter(cfg.new_keys_per_source)
        self.jobcache: JobStore = JobCache(cfg.cachedir)
        self.minioncache: MinionDataStore = MinionCache(cfg.cachedir)
        self.pool = concurrent.futures.ThreadPoolExecutor(
            cfg.worker_threads, thread_name_prefix="work"
        )
        self.live = LiveJobs(self.jobcache)
        targets = Targets(cfg.nodegroups, self.sessions, self.minioncache)
        self.requests = Requests(
            cfg, self.live, self.jobcache, self.minioncache, self.fire, self.fire_packed
        )
        self.commands = Commands(
            self.sessions,
            self.live,
            targets,
            self.jobcache,
            self.minioncache,
            self.fire,
            self.publish,
        )
        self.commands.audit = AuditLog(cfg.audit_log)
        self._stop = asyncio.Event()
        self._api_reader: Drainer | None = None
        self._outbox: list[tuple[bytes, bytes, str, bool]] = []
        # Pool replies (files, pillar) that zmq still holds, per minion: their
        # trackers say when zmq has handed them to the kernel.
        self._unsent: dict[str, list[tuple[zmq.MessageTracker, int]]] = {}
        # Requests of each minion waiting for the worker pool.
        self._in_flight: dict[str, int] = {}
        self._router_reader: Drainer | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def _socket(self, kind: int) -> zmq.Socket[Any]:
        sock = self.ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        self._sockets.append(sock)
        return sock

    def bind(self) -> None:
        """Bind every socket, then write the pid file.

        A port in use is a :class:`ConfigError`; a port of 0 binds one the
        kernel picks (see :mod:`fluxforge.master.ports`). The ports report
        is written by :meth:`serve`, once the master also handles SIGTERM.
        """
        sd = self.cfg.sock_dir
        _bind(self.ev_pub, events.ipc_address(sd, events.PUB_NAME), "sock_dir")
        _bind(self.ev_pull, events.ipc_address(sd, events.PULL_NAME), "sock_dir")
        _bind(self.api, events.ipc_address(sd, events.REQ_NAME), "sock_dir")
        host = self.cfg.interface
        pub = _bind(self.pub, f"tcp://{host}:{self.cfg.publish_port}", "publish_port")
        ret = _bind(self.router, f"tcp://{host}:{self.cfg.ret_port}", "ret_port")
        # The ports really bound: the kernel picks one where the option is 0.
        self.publish_port = ports.endpoint_port(pub)
        self.ret_port = ports.endpoint_port(ret)
        for name in (events.PUB_NAME, events.PULL_NAME, events.REQ_NAME):
            os.chmod(os.path.join(sd, name), 0o600)
        with open(os.path.join(sd, events.PID_NAME), "w", encoding="ascii") as fh:
            fh.write(f"{os.getpid()}\n")

    # -- outputs ----------------------------------------------------------

    def fire(self, tag: str, data: dict[str, Any]) -> None:
        """Publish an event on the bus."""
        try:
            send_parts(self.ev_pub, events.encode_event(tag, data))
        except zmq.Again:
            self.warner.warn("event-drop", f"event bus is full; dropped event {tag}")

    def fire_packed(self, tag: str, packed: bytes) -> None:
        """Publish an event whose data is already msgpack."""
        try:
            send_parts(self.ev_pub, events.encode_packed(tag, packed))
        except zmq.Again:
            self.warner.warn("event-drop", f"event bus is full; dropped event {tag}")

    def publish(self, load: dict[str, Any], minions: list[str] | None = None) -> None:
        """Sign a job once; seal it to each of ``minions`` on its topic, or to all by session key.

        With ``publication_sealing: session`` (for benchmarks only), a job for
        ``minions`` is sealed once with the session key, as broadcasts are,
        and sent on each minion's topic: every accepted minion can read it.
        """
        payload = wire.pack(load)
        if minions is None or self.cfg.publication_sealing == "session":
            sealed = self.signer.seal(payload, self.sessions.session)
            data = wire.frame("pub", self.sessions.gen, sealed)
            topics = (
                [wire.BROADCAST_TOPIC] if minions is None else [*map(wire.minion_topic, minions)]
            )
            for topic in topics:
                send_parts(self.pub, [topic, data])
            return
        signed = self.signer.sign(payload)
        accepted, boxes = self.sessions.accepted, self.sessions.boxes
        for minion_id in minions:
            public = accepted.get(minion_id)
            if public is not None:
                sealed = self.signer.seal_to(signed, boxes, public)
                send_parts(self.pub, [wire.minion_topic(minion_id), wire.frame("mpub", sealed)])

    # -- loops ------------------------------------------------------------

    def _on_minion(self, frames: list[bytes]) -> None:
        if len(frames) != 2:
            self.warner.warn("frames", f"dropped a message of {len(frames)} frames from a minion")
            return
        ident, data = frames
        reply: bytes | None
        try:
            kind, parts = wire.parse_frame(
                data, self.cfg.max_frame_size, REQUEST_KINDS, REQUEST_SIZES
            )
            if kind == "auth":
                reply = self.sessions.authenticate(parts[0], self._peer())
            else:
                reply = self._on_request(ident, parts[0], parts[1])
                if reply is not None:
                    self._reply(ident, reply, parts[0])
                return
        except (WireError, NotAuthorized) as exc:
            # Keyed by the kind of error only: the id is the sender's claim and
            # would let anyone write a line per made-up id.
            self.warner.warn(type(exc).__name__, f"dropped request: {exc}")
            return
        except FluxForgeError as exc:
            self.warner.warn("error", f"could not serve a request: {exc}")
            return
        if reply is not None:
            self._reply(ident, reply)

    def _peer(self) -> str:
        """The address of the peer whose message is being handled."""
        reader = self._router_reader
        return peer_address(reader.frame if reader is not None else None)

    def _reply(self, ident: bytes, reply: bytes, minion_id: str = "", big: bool = False) -> None:
        # Replies leave together after the batch being drained: one wake-up
        # of zmq's I/O thread for many replies instead of one each.
        if not self._outbox:
            asyncio.get_running_loop().call_soon(self._send_replies)
        self._outbox.append((ident, reply, minion_id, big))

    def _queued(self, minion_id: str) -> int:
        """Bytes of ``minion_id``'s pool replies that zmq still holds (the minion has not read)."""
        held = self._unsent.get(minion_id)
        if not held:
            return 0
        held[:] = [(t, n) for t, n in held if not t.done]
        if not held:
            del self._unsent[minion_id]
        return sum(n for _, n in held)

    def _send_replies(self) -> None:
        outbox, self._outbox = self._outbox, []
        router = self.router
        cap = self.cfg.max_reply_bytes
        for ident, reply, minion_id, big in outbox:
            if big:
                queued = self._queued(minion_id)
                if queued and queued + len(reply) > cap:
                    self.warner.warn(
                        f"reply-full:{minion_id}",
                        f"dropped a reply to {minion_id}: {queued} bytes of replies to it are "
                        "still unread (max_reply_bytes)",
                    )
                    continue
            try:
                router.send(ident, NOBLOCK | SNDMORE)
            except zmq.Again:
                # The peer's queue holds reply_hwm replies it has not read.
                who = minion_id or "a peer"
                self.warner.warn(
                    f"reply-full:{minion_id}",
                    f"dropped a reply to {who}: {self.cfg.reply_hwm} replies to it are "
                    "still unread (reply_hwm)",
                )
                continue
            except zmq.ZMQError as exc:  # the peer is gone (EHOSTUNREACH)
                log.debug("reply to a peer not sent: %s", exc)
                continue
            if big:
                tracker = router.send(reply, NOBLOCK, copy=False, track=True)
                self._unsent.setdefault(minion_id, []).append((tracker, len(reply)))
            else:
                router.send(reply, NOBLOCK)
        # A send can consume the socket's edge-triggered read signal: look
        # again, or a peer's queued requests could wait for ever.
        if self._router_reader is not None:
            self._router_reader.kick()

    def _on_request(self, ident: bytes, minion_id: Any, boxed: Any) -> bytes | None:
        req = self.sessions.open_request(minion_id, boxed)
        if req["stale"]:
            return self.sessions.seal_reply(minion_id, req, False, None, "reauth")
        deferred = req["t"] in self.requests.DEFERRED
        most = self.cfg.max_requests_in_flight
        if deferred and self._in_flight.get(minion_id, 0) >= most:
            error = f"{most} requests of {minion_id} are in flight (max_requests_in_flight)"
            self.warner.warn(f"in-flight:{minion_id}", f"refused request from {minion_id}: {error}")
            return self.sessions.seal_reply(minion_id, req, False, None, error)
        try:
            body = self.requests.dispatch(minion_id, req["t"], req["body"])
        except MalformedFrame as exc:
            self.warner.warn(f"bad-req:{minion_id}", f"refused request from {minion_id}: {exc}")
            return self.sessions.seal_reply(minion_id, req, False, None, str(exc))
        if isinstance(body, Deferred):
            self._in_flight[minion_id] = self._in_flight.get(minion_id, 0) + 1
            task = asyncio.get_running_loop().create_task(
                self._deferred(ident, minion_id, req, body)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return None
        return self.sessions.seal_reply(minion_id, req, True, body)

    async def _deferred(
        self, ident: bytes, minion_id: str, req: dict[str, Any], deferred: Deferred
    ) -> None:
        """Run a request's work in the pool, then reply; an error is the reply's error."""
        try:
            result = await asyncio.get_running_loop().run_in_executor(self.pool, deferred.work)
            if deferred.done is not None:
                result = deferred.done(result)
            reply = self.sessions.seal_reply(minion_id, req, True, result)
        except FluxForgeError as exc:
            self.warner.warn(f"bad-req:{minion_id}", f"refused request from {minion_id}: {exc}")
            reply = self.sessions.seal_reply(minion_id, req, False, None, str(exc))
        except Exception as exc:
            log.error("request from %s failed: %s: %s", minion_id, type(exc).__name__, exc)
            log.debug("request failure", exc_info=True)
            reply = self.sessions.seal_reply(minion_id, req, False, None, "internal error")
        finally:
            left = self._in_flight.get(minion_id, 1) - 1
            if left > 0:
                self._in_flight[minion_id] = left
            else:
                self._in_flight.pop(minion_id, None)
        self._reply(ident, reply, minion_id, big=True)

    def _on_event(self, frames: list[bytes]) -> None:
        try:
            tag, data = events.decode_event(frames)
        except WireError as exc:
            self.warner.warn("local-event", f"dropped a local event: {exc}")
            return
        self.fire(tag, data)

    def _on_api(self, frames: list[bytes]) -> None:
        if len(frames) != 2:
            return
        ident, data = frames
        try:
            request = wire.unpack(data)
            if isinstance(request, dict) and request.get("cmd") in THREADED:
                asyncio.get_running_loop().create_task(self._api_slow(ident, request))
                return
            if isinstance(request, dict) and request.get("cmd") in RESOLVING:
                deferred = self.commands.deferred(request)
                asyncio.get_running_loop().create_task(self._api_resolving(ident, deferred))
                return
            reply = {"ok": True, "result": self.commands.dispatch(request)}
        except Exception as exc:
            reply = _failure(exc)
        send_parts(self.api, [ident, wire.pack(reply)])

    async def _api_slow(self, ident: bytes, request: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(None, self.commands.dispatch, request)
            reply = {"ok": True, "result": result}
        except Exception as exc:
            reply = _failure(exc)
        assert self._api_reader is not None
        self._api_reader.send([ident, wire.pack(reply)])

    async def _api_resolving(self, ident: bytes, deferred: Deferred) -> None:
        """Resolve a target in a thread (its regexes may be slow), then finish on the loop."""
        loop = asyncio.get_running_loop()
        try:
            resolution = await loop.run_in_executor(None, deferred.work)
            result = resolution if deferred.done is None else deferred.done(resolution)
            reply = {"ok": True, "result": result}
        except Exception as exc:
            reply = _failure(exc)
        assert self._api_reader is not None
        self._api_reader.send([ident, wire.pack(reply)])

    async def _maintain(self) -> None:
        ticks = 0
        while True:
            await asyncio.sleep(60)
            ticks += 1
            self.live.prune()
            for minion_id in list(self._unsent):
                self._queued(minion_id)
            if ticks % 60 == 1:
                self.jobcache.prune(self.cfg.keep_jobs)

    async def serve(self) -> None:
        """Serve until :meth:`stop` is called."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        # The report says "ready": only now, with sockets bound and SIGTERM
        # handled, so a tool that stops the master on seeing it gets a clean exit.
        ports.write_ports(
            self.cfg.sock_dir,
            ports.BoundPorts(os.getpid(), self.cfg.interface, self.publish_port, self.ret_port),
        )
        readers = [
            Drainer(self.router, self._on_minion, peers=True),
            Drainer(self.ev_pull, self._on_event),
            Drainer(self.api, self._on_api),
        ]
        self._router_reader = readers[0]
        self._api_reader = readers[2]
        tasks = [loop.create_task(self._maintain())]
        log.info(
            "master ready: publish tcp://%s:%d, requests tcp://%s:%d, key %s",
            self.cfg.interface,
            self.publish_port,
            self.cfg.interface,
            self.ret_port,
            self.identity.finger,
        )
        self.fire(tags.MASTER_START, {"finger": self.identity.finger})
        await self._stop.wait()
        log.info("master stopping")
        for reader in readers:
            reader.close()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def stop(self) -> None:
        """Ask :meth:`serve` to return."""
        self._stop.set()

    def close(self) -> None:
        """Release sockets, the caches, the worker pool, the pid file and the ports report."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.jobcache.close()
        self.minioncache.close()
        self.commands.audit.close()
        for sock in self._sockets:
            sock.close(0)
        self.ctx.term()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self.cfg.sock_dir, events.PID_NAME))
        ports.remove_ports(self.cfg.sock_dir, os.getpid())
        self._lock.close()


def _failure(exc: Exception) -> dict[str, Any]:
    """The reply to a local command that raised ``exc``: ``{ok: false, error: {type, message}}``."""
    if not isinstance(exc, FluxForgeError):
        log.error("local command failed", exc_info=exc)
    return {"ok": False, "error": errors.describe(exc)}


def run(cfg: MasterConfig) -> None:
    """Run a master in the foreground until SIGTERM or SIGINT."""
    master = Master(cfg)
    try:
        master.bind()
        asyncio.run(master.serve())
    finally:
        master.close()
