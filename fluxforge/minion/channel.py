"""A minion's authenticated channel to its master.

Owns the DEALER socket: authentication (pinning the master's keys), the
session keys by generation, and Box-sealed requests with replies matched by
request id. One channel per minion; many channels may share one event loop
(the swarm).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from collections.abc import Callable
from typing import Any

import zmq
import zmq.asyncio

from fluxforge.config import MinionConfig
from fluxforge.errors import AuthenticationFailed, FluxForgeError, WireError
from fluxforge.logs import Warner
from fluxforge.protocol import wire
from fluxforge.protocol.crypto import BoxCache, MinionIdentity, random_bytes
from fluxforge.protocol.drain import Drainer, set_reconnect
from fluxforge.protocol.jids import jid_from_time
from fluxforge.protocol.keyfiles import (
    Secret,
    decode_key,
    encode_key,
    fingerprint,
    write_file_atomic,
)

log = logging.getLogger("fluxforge.minion")

PINNED_NAME = "minion_master.pub"
REPLY_KINDS = {"authrep": 1, "rep": 1}
REPLAY_GRACE = 60.0


class NotAccepted(FluxForgeError):
    """The master does not (yet) accept this minion's key."""


class MasterKeyMismatch(FluxForgeError):
    """The master presented keys other than the pinned ones."""


class RequestFailed(FluxForgeError):
    """The master did not answer a request; it may be worth retrying."""


class RequestRefused(RequestFailed):
    """The master answered a request with an error; retrying will not help."""


class Channel:
    """Authentication and the request channel of one minion."""

    def __init__(
        self,
        cfg: MinionConfig,
        identity: MinionIdentity,
        ctx: zmq.Context[Any],
        on_auth: Callable[[float], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.id = cfg.id
        self.identity = identity
        self.boxes = BoxCache(identity.box_secret, limit=4)
        self.warner = Warner(log)
        self.on_auth = on_auth
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        set_reconnect(self.sock)
        self.sock.setsockopt(zmq.MAXMSGSIZE, cfg.max_frame_size)
        self.sock.connect(f"tcp://{cfg.master}:{cfg.ret_port}")
        self.master_pub: bytes | None = None
        self.master_sign_pub: bytes | None = None
        self.sessions: dict[int, Secret] = {}
        self.gen = -1
        self.token = b""
        self._seq = itertools.count()
        self._rids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._auth_waiter: asyncio.Future[tuple[dict[str, Any], bytes]] | None = None
        self._auth_lock = asyncio.Lock()
        self.authenticated = asyncio.Event()
        self._reader: Drainer | None = None
        self._load_pinned()

    # -- pinning ----------------------------------------------------------

    @property
    def _pinned_path(self) -> str:
        return os.path.join(self.cfg.pki_dir, PINNED_NAME)

    def _load_pinned(self) -> None:
        try:
            with open(self._pinned_path, encoding="ascii") as fh:
                lines = fh.read().split()
        except FileNotFoundError:
            return
        if len(lines) != 2:
            raise AuthenticationFailed(
                f"{self._pinned_path}: expected two keys; delete it to re-pin"
            )
        self.master_pub = decode_key(lines[0], self._pinned_path)
        self.master_sign_pub = decode_key(lines[1], self._pinned_path)

    def _pin(self, box_pub: bytes, sign_pub: bytes) -> None:
        if self.master_pub is not None:
            if (box_pub, sign_pub) != (self.master_pub, self.master_sign_pub):
                raise MasterKeyMismatch(
                    f"master at {self.cfg.master} presented a key ({fingerprint(box_pub)}) other "
                    f"than the pinned one; if the master was re-keyed on purpose, delete "
                    f"{self._pinned_path}"
                )
            return
        if self.cfg.master_finger and fingerprint(box_pub) != self.cfg.master_finger:
            raise MasterKeyMismatch(
                f"master key fingerprint {fingerprint(box_pub)} is not master_finger "
                f"{self.cfg.master_finger}"
            )
        os.makedirs(self.cfg.pki_dir, mode=0o700, exist_ok=True)
        text = f"{encode_key(box_pub)}\n{encode_key(sign_pub)}\n"
        write_file_atomic(self._pinned_path, text, 0o644)
        self.master_pub, self.master_sign_pub = box_pub, sign_pub
        log.info("pinned master key %s", fingerprint(box_pub))

    # -- receiving --------------------------------------------------------

    def on_frame(self, data: bytes) -> None:
        """Handle one frame from the master (an auth reply or a request reply)."""
        try:
            kind, parts = wire.parse_frame(data, self.cfg.max_frame_size, REPLY_KINDS)
            if kind == "authrep":
                body = wire.check(parts[0], wire.AUTH_REPLY_SHAPE, "auth reply")
                if self._auth_waiter is not None and not self._auth_waiter.done():
                    self._auth_waiter.set_result((body, b""))
                return
            if self.master_pub is None or not isinstance(parts[0], bytes):
                raise AuthenticationFailed("reply before the master key is known")
            plain = self.boxes.decrypt(self.master_pub, parts[0])
            reply = wire.check(wire.unpack(plain), wire.REPLY_SHAPE, "reply")
        except WireError as exc:
            self.warner.warn(type(exc).__name__, f"{self.id}: dropped a frame from master: {exc}")
            return
        fut = self._pending.pop(reply["rid"], None)
        if fut is None:
            self.warner.warn("rid", f"{self.id}: dropped a reply to no request (replayed?)")
        elif not fut.done():
            fut.set_result(reply)

    # -- auth -------------------------------------------------------------

    async def authenticate(self) -> None:
        """Authenticate once; raises :class:`NotAccepted` or :class:`MasterKeyMismatch`."""
        async with self._auth_lock:
            await self._authenticate()

    async def _authenticate(self) -> None:
        loop = asyncio.get_running_loop()
        nonce = random_bytes(24)
        self._auth_waiter = loop.create_future()
        body = {"id": self.id, "pub": self.identity.box_public, "nonce": nonce}
        self._send(wire.frame("auth", body))
        try:
            reply, _ = await asyncio.wait_for(self._auth_waiter, self.cfg.auth_timeout)
        except TimeoutError:
            raise NotAccepted(f"master {self.cfg.master}:{self.cfg.ret_port} did not answer")
        finally:
            self._auth_waiter = None
        if reply["status"] == "limited":
            raise NotAccepted(
                "master did not record this minion's key: it holds too many pending keys, or "
                "too many new keys came from this address; its operator must review them "
                "(`ff-key -L`)"
            )
        if reply["status"] != "accepted" or reply["sealed"] is None:
            raise NotAccepted(f"master holds this minion's key as {reply['status']}")
        # The grant is sealed by the master's box key, which is pinned (or
        # checked against master_finger); the signing key is trusted only as
        # the grant names it, never from the clear part of the reply.
        box_pub = self.master_pub if self.master_pub is not None else reply["master_pub"]
        if box_pub != reply["master_pub"]:
            self._pin(reply["master_pub"], reply["master_sign_pub"])  # raises: key changed
        plain = self.boxes.decrypt(box_pub, reply["sealed"])
        grant = wire.check(wire.unpack(plain), wire.SESSION_SHAPE, "session grant")
        if grant["nonce"] != nonce or len(grant["session"]) != 32:
            raise AuthenticationFailed("session grant is not bound to our auth request")
        if grant["sign_pub"] != reply["master_sign_pub"]:
            raise AuthenticationFailed("master signing key in the clear differs from the grant")
        self._pin(box_pub, grant["sign_pub"])
        # Keep the current key and the one before it, by arrival: a restarted
        # master starts at a random generation, so numbers say nothing of age.
        self.sessions.pop(grant["gen"], None)
        self.sessions[grant["gen"]] = Secret(grant["session"])
        while len(self.sessions) > 2:
            del self.sessions[next(iter(self.sessions))]
        self.gen = grant["gen"]
        self.token = grant["token"]
        self._seq = itertools.count()
        if self.on_auth is not None:
            self.on_auth(grant["time"])
        self.authenticated.set()

    async def authenticate_until_accepted(self, stop: asyncio.Event) -> None:
        """Retry authentication every ``acceptance_wait_time`` until accepted or stopped.

        A publication can make the minion authenticate meanwhile (see
        :meth:`authenticate`); then this stops waiting, rather than
        authenticating once more later.
        """
        last = ""
        while not stop.is_set():
            if self.authenticated.is_set():
                log.info("%s: authenticated with master %s", self.id, self.cfg.master)
                return
            try:
                await self.authenticate()
                log.info("%s: authenticated with master %s", self.id, self.cfg.master)
                return
            except (NotAccepted, MasterKeyMismatch, WireError) as exc:
                if str(exc) != last:
                    level = logging.ERROR if isinstance(exc, MasterKeyMismatch) else logging.INFO
                    log.log(
                        level,
                        "%s: %s; retrying every %ss",
                        self.id,
                        exc,
                        self.cfg.acceptance_wait_time,
                    )
                    last = str(exc)
            waiters = [
                asyncio.ensure_future(stop.wait()),
                asyncio.ensure_future(self.authenticated.wait()),
            ]
            await asyncio.wait(
                waiters, timeout=self.cfg.acceptance_wait_time, return_when=asyncio.FIRST_COMPLETED
            )
            for waiter in waiters:
                waiter.cancel()

    # -- requests ---------------------------------------------------------

    async def request(self, kind: str, body: dict[str, Any], timeout: float | None = None) -> Any:
        """Send one request and return the master's reply body."""
        for attempt in range(2):
            if not self.authenticated.is_set() or self.master_pub is None:
                await self.authenticate()
            assert self.master_pub is not None
            rid = next(self._rids)
            plain = wire.pack(
                {"t": kind, "rid": rid, "tok": self.token, "seq": next(self._seq), "body": body}
            )
            frame = wire.frame("req", self.id, self.boxes.encrypt(self.master_pub, plain))
            fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self._pending[rid] = fut
            try:
                self._send(frame)
                reply = await asyncio.wait_for(fut, timeout or self.cfg.auth_timeout)
            except TimeoutError:
                raise RequestFailed(f"master did not answer a {kind} request")
            finally:
                self._pending.pop(rid, None)
            if reply["ok"]:
                return reply["body"]
            if reply["error"] == "reauth" and attempt == 0:
                self.authenticated.clear()
                continue
            raise RequestRefused(f"master refused a {kind} request: {reply['error']}")
        raise RequestFailed(f"master kept asking to re-authenticate for a {kind} request")

    def start_reading(self) -> None:
        """Start handling the master's frames on the running event loop."""
        self._reader = Drainer(self.sock, self.on_frame, multipart=False)

    def _send(self, frame: bytes) -> None:
        if self._reader is None:
            raise RequestFailed("the channel is not reading yet; call start_reading() first")
        self._reader.send(frame)

    def close(self) -> None:
        """Close the socket and fail waiting requests."""
        if self._reader is not None:
            self._reader.close()
        for fut in self._pending.values():
            if not fut.done():
                fut.cancel()
        self.sock.close(0)


def replay_floor(master_time: float) -> str:
    """The oldest jid accepted after authenticating at ``master_time``."""
    return jid_from_time(max(master_time - REPLAY_GRACE, 0.0))
