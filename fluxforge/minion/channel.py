"""A minion's authenticated channel to its master.

Owns the DEALER socket: authentication (pinning the master's keys), the
session keys by generation, and Box-sealed requests with replies matched by
request id and checked against the request's token and sequence, so that a
reply to another request (one recorded before this process started, say)
is refused. One channel per minion; many channels may share one event loop
(the swarm).

Authentication is two round trips: the first learns the master's answer for
this key (and, for an accepted one, a challenge); the second proves that
this minion holds its private key (a Box over id, nonce and challenge) and
gets the grant. See :mod:`fluxforge.master.sessions`.
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
REPLY_SIZES = {"authrep": wire.AUTH_REPLY_MOST_BYTES}
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
        # rid -> (token, sequence) the request carried, and the future its reply settles
        self._pending: dict[int, tuple[bytes, int, asyncio.Future[dict[str, Any]]]] = {}
        self._auth_waiter: asyncio.Future[dict[str, Any]] | None = None
        self._auth_nonce = b""
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
            kind, parts = wire.parse_frame(data, self.cfg.max_frame_size, REPLY_KINDS, REPLY_SIZES)
            if kind == "authrep":
                body = wire.check(parts[0], wire.AUTH_REPLY_SHAPE, "auth reply")
                waiter = self._auth_waiter
                if waiter is None or waiter.done() or body["nonce"] != self._auth_nonce:
                    raise AuthenticationFailed("auth reply to no auth request of ours (replayed?)")
                waiter.set_result(body)
                return
            if self.master_pub is None or not isinstance(parts[0], bytes):
                raise AuthenticationFailed("reply before the master key is known")
            plain = self.boxes.decrypt(self.master_pub, parts[0])
            reply = wire.check(wire.unpack_inner(plain), wire.REPLY_SHAPE, "reply")
        except WireError as exc:
            self.warner.warn(type(exc).__name__, f"{self.id}: dropped a frame from master: {exc}")
            return
        rid = reply["rid"]
        pending = self._pending.get(rid)
        if pending is None:
            self.warner.warn("rid", f"{self.id}: dropped a reply to no request (replayed?)")
            return
        tok, seq, fut = pending
        if reply["tok"] != tok or reply["seq"] != seq:
            # The genuine reply may still come: the request keeps waiting for it.
            self.warner.warn(
                "reply-binding",
                f"{self.id}: dropped a reply to request {rid}: it answers another request "
                "(its token or sequence differ; replayed or forged?)",
            )
            return
        del self._pending[rid]
        if not fut.done():
            fut.set_result(reply)

    # -- auth -------------------------------------------------------------

    async def authenticate(self) -> None:
        """Authenticate once; raises :class:`NotAccepted` or :class:`MasterKeyMismatch`."""
        async with self._auth_lock:
            await self._authenticate()

    async def _auth_round(self, nonce: bytes, proof: bytes | None) -> dict[str, Any]:
        """Send one auth request and return the master's answer to it."""
        self._auth_waiter = asyncio.get_running_loop().create_future()
        self._auth_nonce = nonce
        body = {"id": self.id, "pub": self.identity.box_public, "nonce": nonce, "proof": proof}
        self._send(wire.frame("auth", body))
        try:
            return await asyncio.wait_for(self._auth_waiter, self.cfg.auth_timeout)
        except TimeoutError:
            raise NotAccepted(f"master {self.cfg.master}:{self.cfg.ret_port} did not answer")
        finally:
            self._auth_waiter = None

    def _master_box_key(self, box_pub: bytes, sign_pub: bytes) -> bytes:
        """The master key to prove ourselves to: the pinned one, or one master_finger allows."""
        if self.master_pub is not None:
            if box_pub != self.master_pub:
                self._pin(box_pub, sign_pub)  # raises: key changed
            return self.master_pub
        if self.cfg.master_finger and fingerprint(box_pub) != self.cfg.master_finger:
            raise MasterKeyMismatch(
                f"master key fingerprint {fingerprint(box_pub)} is not master_finger "
                f"{self.cfg.master_finger}"
            )
        return box_pub

    async def _authenticate(self) -> None:
        nonce = random_bytes(24)
        hello = await self._auth_round(nonce, None)
        if hello["status"] == "limited":
            raise NotAccepted(
                "master did not record this minion's key: it holds too many pending keys, or "
                "too many new keys came from this address; its operator must review them "
                "(`ff-key -L`)"
            )
        if hello["status"] != "accepted" or hello["challenge"] is None:
            raise NotAccepted(f"master holds this minion's key as {hello['status']}")
        # The proof goes to the pinned key (or, on first contact, to the key
        # the master names, which the grant must then be sealed by).
        box_pub = self._master_box_key(hello["master_pub"], hello["master_sign_pub"])
        claim = {"id": self.id, "nonce": nonce, "challenge": hello["challenge"]}
        reply = await self._auth_round(nonce, self.boxes.encrypt(box_pub, wire.pack(claim)))
        if reply["status"] != "accepted" or reply["sealed"] is None:
            raise NotAccepted(f"master holds this minion's key as {reply['status']}")
        if reply["master_pub"] != box_pub:
            raise MasterKeyMismatch(
                f"master at {self.cfg.master} presented another key "
                f"({fingerprint(reply['master_pub'])}) in its second auth answer"
            )
        # The grant is sealed by the master's box key, which is pinned (or
        # checked against master_finger); the signing key is trusted only as
        # the grant names it, never from the clear part of the reply.
        plain = self.boxes.decrypt(box_pub, reply["sealed"])
        grant = wire.check(wire.unpack_inner(plain), wire.SESSION_SHAPE, "session grant")
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
            rid, tok, seq = next(self._rids), self.token, next(self._seq)
            plain = wire.pack({"t": kind, "rid": rid, "tok": tok, "seq": seq, "body": body})
            self._check_outgoing(kind, plain)
            frame = wire.frame("req", self.id, self.boxes.encrypt(self.master_pub, plain))
            fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self._pending[rid] = (tok, seq, fut)
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

    def _check_outgoing(self, kind: str, plain: bytes) -> None:
        """Refuse here a request the master would drop unanswered (too big or too nested)."""
        # The Box and the outer frame add about 100 bytes.
        if len(plain) + 512 > self.cfg.max_frame_size:
            raise RequestRefused(
                f"a {kind} request of {len(plain)} bytes is over max_frame_size "
                f"({self.cfg.max_frame_size}); not sent"
            )
        try:
            wire.check_inner(plain, f"a {kind} request")
        except WireError as exc:
            raise RequestRefused(f"{exc}; not sent") from None

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
        for _tok, _seq, fut in self._pending.values():
            if not fut.done():
                fut.cancel()
        self.sock.close(0)


def replay_floor(master_time: float) -> str:
    """The oldest jid accepted after authenticating at ``master_time``."""
    return jid_from_time(max(master_time - REPLAY_GRACE, 0.0))
