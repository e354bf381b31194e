"""Authentication, the broadcast session key, and opening minion requests.

A minion authenticates in two round trips. The first, in clear, carries its
id, public key and a fresh nonce; for an accepted key the master answers
with a challenge bound to that request (and its own public keys). The
second repeats the request with a proof: a Box from the minion's key to the
master's over the id, the nonce and the challenge. Only then, the proof
being from the accepted key and the challenge fresh and unused, does the
master answer, sealed in a Box to that key and bound to the nonce: the
session key and its generation, a channel token, and the master's clock.
Anyone may send the first request (a public key is no secret); nothing of
the minion's channel changes until the second proves the private key.

Later requests are Boxes from the minion's key and carry the token and a
counter; the master opens them with the accepted key of the id they claim,
so a minion can only ever speak as itself. A minion keeps a few tokens; the
one least recently used goes first, so a token in use is never evicted, and
only the key's holder can mint one. Replies carry the token and counter of
the request they answer.

Removing an accepted key rotates the session key at once. Minions that see
a publication of a newer generation re-authenticate and then open it, so no
job is lost to a rotation.
"""

from __future__ import annotations

import logging
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
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
from fluxforge.protocol.replay import Challenges, CounterWindow

log = logging.getLogger(__name__)

TOKENS_PER_MINION = 4
NONCE_MIN, NONCE_MAX = 16, 64
# How long a minion has to answer the challenge of its first auth round trip.
CHALLENGE_TTL = 30.0


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
        self.challenges = Challenges(CHALLENGE_TTL)
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
        """Handle one auth request body from ``source`` (a peer address); return the reply frame.

        Without a proof, an accepted key gets a challenge; with one, a grant
        (or :class:`AuthenticationFailed` when the proof does not hold).
        """
        body = wire.check(body, wire.AUTH_SHAPE, "auth")
        minion_id, public, nonce = body["id"], body["pub"], body["nonce"]
        if not ids.valid_id(minion_id):
            raise MalformedFrame(f"auth: invalid minion id {str(minion_id)[:60]!r}")
        if len(public) != 32 or not NONCE_MIN <= len(nonce) <= NONCE_MAX:
            raise MalformedFrame("auth: key or nonce has the wrong length")
        status = self.store.register(minion_id, public, lambda: self.limiter.allow(source))
        challenge = sealed = None
        if status == keys.ACCEPTED:
            if body["proof"] is None:
                challenge = self.challenges.issue(minion_id.encode(), public, nonce)
            else:
                sealed = self._grant(minion_id, public, nonce, body["proof"])
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
        if challenge is None:
            # An accepted minion's auth is an event once it is proven, not before.
            self.fire(tags.AUTH, {"id": minion_id, "status": status, "act": status})
        return wire.frame(
            "authrep",
            {
                "status": status,
                "nonce": nonce,
                "challenge": challenge,
                "master_pub": self.identity.box_public,
                "master_sign_pub": self.identity.sign_public,
                "sealed": sealed,
            },
        )

    def _grant(self, minion_id: str, public: bytes, nonce: bytes, proof: bytes) -> bytes:
        """Check the proof of an accepted key's holder, mint a token, seal the grant."""
        try:
            plain = self.boxes.decrypt(public, proof)
        except AuthenticationFailed:
            raise AuthenticationFailed(
                f"auth: the proof for {minion_id} is not from its accepted key"
            ) from None
        claim = wire.check(wire.unpack(plain, 1024), wire.PROOF_SHAPE, "auth proof")
        if claim["id"] != minion_id or claim["nonce"] != nonce:
            raise AuthenticationFailed(f"auth: the proof of {minion_id} is for another request")
        problem = self.challenges.redeem(claim["challenge"], minion_id.encode(), public, nonce)
        if problem:
            raise AuthenticationFailed(f"auth: the proof of {minion_id} {problem}")
        if self.accepted.get(minion_id) != public:
            self.forget([minion_id])
            self.accepted[minion_id] = public
        token = random_bytes(16)
        tokens = self._tokens.setdefault(minion_id, OrderedDict())
        tokens[token] = CounterWindow()
        while len(tokens) > TOKENS_PER_MINION:
            tokens.popitem(last=False)  # the least recently used
        grant = {
            "nonce": nonce,
            "sign_pub": self.identity.sign_public,
            "session": self.session.reveal(),
            "gen": self.gen,
            "token": token,
            "time": time.time(),
        }
        return self.boxes.encrypt(public, wire.pack(grant))

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
        try:
            # Authenticated, but still bounded before decoding: objects and depth.
            decoded = wire.unpack_inner(plain)
        except MalformedFrame as exc:
            raise MalformedFrame(f"request from {minion_id}: {exc}") from None
        req = wire.check(decoded, wire.REQUEST_SHAPE, "request")
        tokens = self._tokens.get(minion_id)
        window = tokens.get(req["tok"]) if tokens else None
        if window is None:
            req["stale"] = True
            return req
        if not window.accept(req["seq"]):
            raise ReplayDetected(f"request {req['seq']} from {minion_id} was seen before")
        assert tokens is not None
        tokens.move_to_end(req["tok"])
        req["stale"] = False
        return req

    def seal_reply(
        self,
        minion_id: str,
        req: Mapping[str, Any],
        ok: bool,
        body: Any = None,
        error: str | None = None,
    ) -> bytes:
        """The reply frame to request ``req`` (as :meth:`open_request` gave it) of ``minion_id``.

        It names the request by its id, token and sequence, so that it answers
        that request and no other, even one of an earlier minion process.
        """
        public = self.accepted.get(minion_id)
        if public is None:
            raise AuthenticationFailed(f"no accepted key for {minion_id}")
        rid, tok, seq = req["rid"], req["tok"], req["seq"]
        plain = wire.pack(
            {"rid": rid, "tok": tok, "seq": seq, "ok": ok, "body": body, "error": error}
        )
        return wire.frame("rep", self.boxes.encrypt(public, plain))
