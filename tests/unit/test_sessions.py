"""The master's auth: a token only for proof of the private key, replies bound to requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fluxforge.errors import AuthenticationFailed
from fluxforge.master import keys, sessions
from fluxforge.master.sessions import Sessions
from fluxforge.protocol import wire
from fluxforge.protocol.crypto import BoxCache, MasterIdentity, MinionIdentity, random_bytes


class Minion:
    """A minion's side of the auth exchange, by hand."""

    def __init__(self, master: Sessions, minion_id: str = "web1") -> None:
        self.id = minion_id
        self.identity = MinionIdentity.generate()
        self.boxes = BoxCache(self.identity.box_secret)
        self.master = master

    def hello(self, nonce: bytes, public: bytes | None = None) -> dict[str, Any]:
        body = {"id": self.id, "pub": public or self.identity.box_public, "nonce": nonce}
        return self._answer(self.master.authenticate({**body, "proof": None}))

    def prove(
        self,
        nonce: bytes,
        challenge: bytes,
        claim: dict[str, Any] | None = None,
        public: bytes | None = None,
    ) -> Any:
        plain = {"id": self.id, "nonce": nonce, "challenge": challenge, **(claim or {})}
        proof = self.boxes.encrypt(self.master.identity.box_public, wire.pack(plain))
        public = public or self.identity.box_public
        body = {"id": self.id, "pub": public, "nonce": nonce, "proof": proof}
        return self._answer(self.master.authenticate(body))

    def auth(self) -> dict[str, Any]:
        """Both round trips; the grant."""
        nonce = random_bytes(24)
        hello = self.hello(nonce)
        assert hello["challenge"] is not None and hello["sealed"] is None
        reply = self.prove(nonce, hello["challenge"])
        plain = self.boxes.decrypt(self.master.identity.box_public, reply["sealed"])
        grant = wire.check(wire.unpack(plain), wire.SESSION_SHAPE, "grant")
        assert grant["nonce"] == nonce
        return grant

    def request(self, token: bytes, seq: int, rid: int = 1) -> dict[str, Any]:
        plain = {"t": "event", "rid": rid, "tok": token, "seq": seq, "body": {}}
        boxed = self.boxes.encrypt(self.master.identity.box_public, wire.pack(plain))
        return self.master.open_request(self.id, boxed)

    def open_reply(self, frame: bytes) -> dict[str, Any]:
        _, (boxed,) = wire.parse_frame(frame, wire.DEFAULT_MAX_FRAME, {"rep": 1})
        plain = self.boxes.decrypt(self.master.identity.box_public, boxed)
        return wire.check(wire.unpack(plain), wire.REPLY_SHAPE, "reply")

    @staticmethod
    def _answer(frame: bytes) -> dict[str, Any]:
        _, (body,) = wire.parse_frame(frame, wire.DEFAULT_MAX_FRAME, {"authrep": 1})
        return wire.check(body, wire.AUTH_REPLY_SHAPE, "auth reply")


@pytest.fixture
def events() -> list[tuple[str, dict[str, Any]]]:
    return []


@pytest.fixture
def master(tmp_path: Path, events: list[tuple[str, dict[str, Any]]]) -> Sessions:
    store = keys.KeyStore(str(tmp_path / "pki"), auto_accept=True)
    identity = MasterIdentity.load(str(tmp_path / "pki"))
    return Sessions(identity, store, lambda tag, data: events.append((tag, data)))


def test_the_first_round_trip_mints_nothing(
    master: Sessions, events: list[tuple[str, dict[str, Any]]]
) -> None:
    web1 = Minion(master)
    nonce = random_bytes(24)
    hello = web1.hello(nonce)
    assert hello["status"] == "accepted" and hello["nonce"] == nonce
    assert hello["sealed"] is None and hello["challenge"] is not None
    assert not master.active("web1")
    assert events == []  # an accepted minion's auth is an event once proven
    grant = web1.auth()
    assert master.active("web1") and len(grant["token"]) == 16
    assert [e[1]["status"] for e in events] == ["accepted"]


def test_a_flood_with_only_the_public_key_evicts_no_token(master: Sessions) -> None:
    web1 = Minion(master)
    token = web1.auth()["token"]
    assert web1.request(token, 0)["stale"] is False
    outsider = Minion(master)  # another key pair: it knows only web1's public key
    for _ in range(3 * sessions.TOKENS_PER_MINION):
        nonce = random_bytes(24)
        hello = outsider.hello(nonce, public=web1.identity.box_public)
        assert hello["sealed"] is None
        with pytest.raises(AuthenticationFailed, match="not from its accepted key"):
            outsider.prove(nonce, hello["challenge"], public=web1.identity.box_public)
    assert web1.request(token, 1)["stale"] is False


def test_the_token_in_use_outlives_newer_ones(master: Sessions) -> None:
    web1 = Minion(master)
    token = web1.auth()["token"]
    for seq in range(3 * sessions.TOKENS_PER_MINION):
        web1.auth()  # the key's holder mints more tokens ...
        assert web1.request(token, seq)["stale"] is False  # ... and the one in use stays


def test_the_least_recently_used_token_goes_first(master: Sessions) -> None:
    web1 = Minion(master)
    tokens = [web1.auth()["token"] for _ in range(sessions.TOKENS_PER_MINION)]
    web1.request(tokens[0], 0)
    web1.auth()
    assert web1.request(tokens[1], 0)["stale"] is True
    assert web1.request(tokens[0], 1)["stale"] is False


def test_a_proof_is_good_once(master: Sessions) -> None:
    web1 = Minion(master)
    nonce = random_bytes(24)
    challenge = web1.hello(nonce)["challenge"]
    assert web1.prove(nonce, challenge)["sealed"] is not None
    with pytest.raises(AuthenticationFailed, match="already used"):
        web1.prove(nonce, challenge)


@pytest.mark.parametrize(
    ("claim", "message"),
    [
        ({"id": "web2"}, "for another request"),
        ({"nonce": b"x" * 24}, "for another request"),
        ({"challenge": b"c" * 24}, "did not give"),
        ({"challenge": b"c"}, "no challenge"),
    ],
)
def test_a_proof_for_another_request_is_refused(
    master: Sessions, claim: dict[str, Any], message: str
) -> None:
    web1 = Minion(master)
    nonce = random_bytes(24)
    challenge = web1.hello(nonce)["challenge"]
    with pytest.raises(AuthenticationFailed, match=message):
        web1.prove(nonce, challenge, claim)
    assert not master.active("web1")


def test_a_challenge_for_another_nonce_is_refused(master: Sessions) -> None:
    web1 = Minion(master)
    first, second = random_bytes(24), random_bytes(24)
    challenge = web1.hello(first)["challenge"]
    with pytest.raises(AuthenticationFailed, match="did not give"):
        web1.prove(second, challenge)


def test_an_expired_challenge_is_refused(master: Sessions) -> None:
    now = [0.0]
    master.challenges._clock = lambda: now[0]
    web1 = Minion(master)
    nonce = random_bytes(24)
    challenge = web1.hello(nonce)["challenge"]
    now[0] += sessions.CHALLENGE_TTL + 1
    with pytest.raises(AuthenticationFailed, match="older than"):
        web1.prove(nonce, challenge)


def test_pending_keys_get_neither_challenge_nor_grant(tmp_path: Path) -> None:
    store = keys.KeyStore(str(tmp_path / "pki"))
    master = Sessions(MasterIdentity.load(str(tmp_path / "pki")), store, lambda t, d: None)
    lurker = Minion(master, "lurker")
    nonce = random_bytes(24)
    hello = lurker.hello(nonce)
    assert hello["status"] == "pending" and hello["challenge"] is None
    reply = lurker.prove(nonce, b"c" * 24)
    assert reply["status"] == "pending" and reply["sealed"] is None


def test_a_reply_names_its_request(master: Sessions) -> None:
    web1 = Minion(master)
    token = web1.auth()["token"]
    req = web1.request(token, 5, rid=9)
    reply = web1.open_reply(master.seal_reply("web1", req, True, {"x": 1}))
    assert reply == {"rid": 9, "tok": token, "seq": 5, "ok": True, "body": {"x": 1}, "error": None}
