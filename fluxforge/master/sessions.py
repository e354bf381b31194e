"""Authentication, the broadcast session key, and opening minion requests.

A minion authenticates in clear with its id, public key and a fresh nonce.
If its key is accepted, the reply carries, sealed in a Box to that key and
bound to the nonce: the session key and its generation, a channel token,
and the master's clock. Later requests are Boxes from the minion's key and
carry the token and a counter; the master opens them with the accepted key
of the id they claim, so a minion can only ever speak as itself.

Removing an accepted key rotates the session key at once. Minions that see
a publication of a newer generation re-authenticate and then open it, so no
job is lost to a rotation.
"""

from __future__ import annotations

import logging
import random
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from fluxforge.errors import (
    AuthenticationFailed,
    MalformedFrame,
    NotAuthorized,
    ReplayDetected,
)
from fluxforge.events import tags
from fluxforge.logs import Warner
from fluxforge.master import keys
from fluxforge.protocol import ids, wire
from fluxforge.protocol.crypto import BoxCache, MasterIdentity, new_session_key, random_bytes
from fluxforge.protocol.keyfiles import Secret
from fluxforge.protocol.replay import CounterWindow

log = logging.getLogger(__name__)

TOKENS_PER_MINION = 4
NONCE_MIN, NONCE_MAX = 16, 64


class Sessions:
    """The master's side of authentication and the request channel."""

    def __init__(
        self,
        identity: MasterIdentity,
        store: keys.KeyStore,
        fire: Callable[[str, dict[str, Any]], None],
    ) -> None:
        self.identity = identity
        self.store = store
        self.fire = fire
        self.boxes = BoxCache(identity.box_secret)
        # Generations start at a random point so that a restarted master never
        # reuses a generation number a minion already holds a key for.
        self.gen = random.SystemRandom().randrange(1, 2**30)
        self.session: Secret = new_session_key()
        self.accepted: dict[str, bytes] = store.accepted_keys()
        self._tokens: dict[str, OrderedDict[bytes, CounterWindow]] = {}
        self._reported: dict[str, str] = {}
        self.warner = Warner(log)
        self.notes = Warner(log, level=logging.INFO)
        self.limiter = keys.NewKeyLimiter(0)  # the daemon sets the configured one

    def active(self, minion_id: str) -> bool:
        """Whether ``minion_id`` has authenticated with this master process."""
        return minion_id in self._tokens

    def rotate(self, reason: str) -> None:
        """Replace the session key; minions that still hold a key fetch the new one."""
        self.gen += 1
        self.session = new_session_key()
        log.info("session key rotated to generation %d (%s)", self.gen, reason)

    def forget(self, minion_ids: list[str]) -> None:
        """Drop channel state of minions whose keys left the accepted state."""
        for minion_id in minion_ids:
            self._tokens.pop(minion_id, None)
            public = self.accepted.pop(minion_id, None)
            if public is not None:
                self.boxes.forget(public)

    def reload_accepted(self) -> None:
        """Re-read accepted keys from the store, dropping removed ones."""
        fresh = self.store.accepted_keys()
        gone = [m for m, k in self.accepted.items() if fresh.get(m) != k]
        self.forget(gone)
        self.accepted = fresh

    # -- auth -------------------------------------------------------------

    def authenticate(self, body: Any, source: str = "") -> bytes:
        """Handle one auth request body from ``source`` (a peer address) and return the reply."""
        body = wire.check(body, wire.AUTH_SHAPE, "auth")
        minion_id, public, nonce = body["id"], body["pub"], body["nonce"]
        if not ids.valid_id(minion_id):
            raise MalformedFrame(f"auth: invalid minion id {str(minion_id)[:60]!r}")
        if len(public) != 32 or not NONCE_MIN <= len(nonce) <= NONCE_MAX:
            raise MalformedFrame("auth: key or nonce has the wrong length")
        status = self.store.register(minion_id, public, lambda: self.limiter.allow(source))
        sealed = None
        if status == keys.ACCEPTED:
            if self.accepted.get(minion_id) != public:
                self.forget([minion_id])
                self.accepted[minion_id] = public
            token = random_bytes(16)
            tokens = self._tokens.setdefault(minion_id, OrderedDict())
            tokens[token] = CounterWindow()
            while len(tokens) > TOKENS_PER_MINION:
                tokens.popitem(last=False)
            grant = {
                "nonce": nonce,
                "sign_pub": self.identity.sign_public,
                "session": self.session.reveal(),
                "gen": self.gen,
                "token": token,
                "time": time.time(),
            }
            sealed = self.boxes.encrypt(public, wire.pack(grant))
        elif status == keys.DENIED:
            self.warner.warn(
                f"denied:{minion_id}",
                f"minion {minion_id} presented a key other than the one on record; it is "
                "denied until an operator acts (see `ff-key -L`)",
            )
        elif status == keys.LIMITED:
            self._limited(minion_id, source)
        elif self._reported.get(minion_id) != status:
            self.notes.warn(
                f"status:{status}", f"minion {minion_id} presented a {status} key; see `ff-key -L`"
            )
        if len(self._reported) > 100_000:
            self._reported.clear()
        self._reported[minion_id] = status
        self.fire(tags.AUTH, {"id": minion_id, "status": status, "act": status})
        return wire.frame(
            "authrep",
            {
                "status": status,
                "master_pub": self.identity.box_public,
                "master_sign_pub": self.identity.sign_public,
                "sealed": sealed,
            },
        )

    def _limited(self, minion_id: str, source: str) -> None:
        if self.store.pending_full():
            self.warner.warn(
                "pending-full",
                f"pending keys are at max_pending_keys ({self.store.max_pending}): the new key of "
                f"minion {minion_id} from {source or 'an unknown address'} was not recorded; "
                "review them (`ff-key -L`) and reject (`ff-key -R`) or delete unwanted ones",
            )
        else:
            self.warner.warn(
                "pending-rate",
                f"{source or 'an unknown address'} offers new keys faster than "
                f"new_keys_per_source ({self.limiter.per_minute} a minute): the key of minion "
                f"{minion_id} was not recorded",
            )

    # -- requests ---------------------------------------------------------

    def open_request(self, minion_id: Any, boxed: Any) -> dict[str, Any]:
        """Authenticate and decode a request; returns ``{t, rid, tok, seq, body}``.

        Raises :class:`NotAuthorized` for an id that is not accepted,
        :class:`AuthenticationFailed` when the Box is not from that id's key,
        :class:`ReplayDetected` for a counter seen before.
        """
        if not isinstance(minion_id, str) or not isinstance(boxed, bytes):
            raise MalformedFrame("request: id must be text and payload bytes")
        public = self.accepted.get(minion_id)
        if public is None:
            raise NotAuthorized(f"request from {minion_id[:60]!r}, which is not an accepted minion")
        plain = self.boxes.decrypt(public, boxed)
        req = wire.check(wire.unpack(plain), wire.REQUEST_SHAPE, "request")
        tokens = self._tokens.get(minion_id)
        window = tokens.get(req["tok"]) if tokens else None
        if window is None:
            req["stale"] = True
            return req
        if not window.accept(req["seq"]):
            raise ReplayDetected(f"request {req['seq']} from {minion_id} was seen before")
        req["stale"] = False
        return req

    def seal_reply(
        self, minion_id: str, rid: int, ok: bool, body: Any = None, error: str | None = None
    ) -> bytes:
        """The reply frame for request ``rid`` of ``minion_id``."""
        public = self.accepted.get(minion_id)
        if public is None:
            raise AuthenticationFailed(f"no accepted key for {minion_id}")
        plain = wire.pack({"rid": rid, "ok": ok, "body": body, "error": error})
        return wire.frame("rep", self.boxes.encrypt(public, plain))
