"""Hostile input against real daemons: every bad frame is dropped, logged, and harmless.

Each test drives a real ``ff-master`` (and real minions) on loopback with
frames built by hand from a raw zmq socket, then proves three things: the
input was dropped (no reply; nothing fired, stored or run), a WARNING naming
it is in the daemon's log, and the daemons keep serving (``ff '*' test.ping``
still answers for every minion).
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import nacl.secret
import nacl.signing
import pytest
import zmq
from zmq.utils.monitor import recv_monitor_message

from fluxforge.errors import AuthenticationFailed
from fluxforge.events import EventListener, fire
from fluxforge.protocol import wire
from fluxforge.protocol.crypto import BoxCache, MinionIdentity, PublicationOpener, random_bytes
from fluxforge.protocol.jids import jid_from_time
from fluxforge.protocol.keyfiles import Secret, read_key_file
from fluxforge.testing import Cluster, wait_until

# One key for every liveness probe, so the probe id stays merely pending.
PROBE = MinionIdentity.generate()
UNKNOWN_JID = "20000101000000000000"


# -- frames -------------------------------------------------------------------


def auth_frame(minion_id: Any, public: bytes, nonce: bytes) -> bytes:
    """A clear ``auth`` frame."""
    return wire.frame("auth", {"id": minion_id, "pub": public, "nonce": nonce})


def req_frame(minion_id: Any, boxed: Any) -> bytes:
    """A ``req`` frame claiming ``minion_id``."""
    return wire.frame("req", minion_id, boxed)


def request_plain(t: str, rid: int, tok: bytes, seq: int, body: dict[str, Any]) -> bytes:
    """The plaintext of a request, before it is boxed."""
    return wire.pack({"t": t, "rid": rid, "tok": tok, "seq": seq, "body": body})


def ret_body(jid: str, ret: Any, fun: str = "test.ping") -> dict[str, Any]:
    """The body of a well-formed job return."""
    return {
        "jid": jid,
        "fun": fun,
        "fun_args": [],
        "return": ret,
        "retcode": 0,
        "success": True,
        "duration": 0.01,
    }


def pub_load(jid: str, tgt: str, fun: str, arg: list[Any]) -> dict[str, Any]:
    """A publication load as the master would build it."""
    return {
        "jid": jid,
        "tgt": tgt,
        "tgt_type": "glob",
        "fun": fun,
        "arg": arg,
        "kwarg": {},
        "user": "root",
        "ret": "",
        "timeout": 5,
    }


def sealed_publication(
    load: dict[str, Any], signer: nacl.signing.SigningKey, session: bytes, gen: int
) -> bytes:
    """A ``pub`` frame: ``load`` signed by ``signer`` and sealed with the session key."""
    signed = signer.sign(wire.pack(load))
    sealed = bytes(nacl.secret.SecretBox(session).encrypt(signed))
    return wire.frame("pub", gen, sealed)


# -- helpers ------------------------------------------------------------------


def wait_warning(cluster: Cluster, name: str, *needles: str, timeout: float = 10.0) -> str:
    """The first WARNING line of ``name``'s log containing every needle."""

    def found() -> str | None:
        for line in cluster.log(name).splitlines():
            if "[WARNING]" in line and all(n in line for n in needles):
                return line
        return None

    return wait_until(
        found,
        timeout,
        what=f"a WARNING with {needles} in the {name} log",
        detail=lambda: cluster.log(name)[-4000:],
    )


def warnings_in(cluster: Cluster, name: str) -> list[str]:
    """Every WARNING line in ``name``'s log."""
    return [ln for ln in cluster.log(name).splitlines() if "[WARNING]" in ln]


class RawPeer:
    """A hand-driven DEALER on the master's request port, speaking frame by frame."""

    def __init__(
        self, cluster: Cluster, minion_id: str, identity: MinionIdentity | None = None
    ) -> None:
        self.id = minion_id
        self.identity = identity or MinionIdentity.generate()
        self.master_pub = read_key_file(str(cluster.pki_dir / "master.pub"), private=False)
        self.boxes = BoxCache(self.identity.box_secret)
        self.grant: dict[str, Any] | None = None
        self.master_sign_pub = b""
        self.rid = 0
        self.seq = 0
        self.ctx: zmq.Context[Any] = zmq.Context()
        self.sock: zmq.Socket[Any] = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(f"tcp://127.0.0.1:{cluster.ret_port}")

    def send(self, *parts: bytes) -> None:
        self.sock.send_multipart(list(parts))

    def recv(self, timeout: float = 5.0) -> bytes | None:
        if not self.sock.poll(int(timeout * 1000)):
            return None
        return bytes(self.sock.recv())

    def next_frame(self, timeout: float = 5.0) -> tuple[str, Any]:
        data = self.recv(timeout)
        assert data is not None, f"no answer from the master within {timeout}s"
        kind, parts = wire.parse_frame(data, wire.DEFAULT_MAX_FRAME, {"authrep": 1, "rep": 1})
        return kind, parts[0]

    def auth(self, minion_id: str | None = None, identity: MinionIdentity | None = None) -> Any:
        """Authenticate (as ourselves by default); returns the auth reply body."""
        identity = identity or self.identity
        nonce = random_bytes(24)
        self.send(auth_frame(minion_id or self.id, identity.box_public, nonce))
        kind, body = self.next_frame()
        assert kind == "authrep", (kind, body)
        if body["sealed"] is not None and identity is self.identity:
            plain = self.boxes.decrypt(self.master_pub, body["sealed"])
            grant = wire.check(wire.unpack(plain), wire.SESSION_SHAPE, "grant")
            assert grant["nonce"] == nonce
            self.grant = grant
            self.master_sign_pub = body["master_sign_pub"]
            self.seq = 0
        return body

    def request(self, t: str, body: dict[str, Any], claim: str | None = None) -> bytes:
        """A sealed request frame from our key (claiming ``claim`` if given), not sent."""
        self.rid += 1
        self.seq += 1
        tok = self.grant["token"] if self.grant else random_bytes(16)
        plain = request_plain(t, self.rid, tok, self.seq, body)
        return req_frame(claim or self.id, self.boxes.encrypt(self.master_pub, plain))

    def reply(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next reply, opened."""
        kind, boxed = self.next_frame(timeout)
        assert kind == "rep", (kind, boxed)
        plain = self.boxes.decrypt(self.master_pub, boxed)
        return wire.check(wire.unpack(plain), wire.REPLY_SHAPE, "reply")

    def assert_dropped(self) -> None:
        """Prove that nothing answered what we sent and the connection is still served.

        The master handles one peer's frames in order, so once the reply to a probe
        auth is in, a reply to anything sent before it would be in too: exactly one
        frame back means nothing else was answered.
        """
        self.send(auth_frame("probe", PROBE.box_public, random_bytes(24)))
        kind, body = self.next_frame()
        assert kind == "authrep" and body["status"] == "pending", (kind, body)
        extra = self.recv(0.2)
        assert extra is None, f"the master answered a dropped frame: {wire.unpack(extra)}"

    def close(self) -> None:
        self.sock.close(0)
        self.ctx.term()


@pytest.fixture
def peers() -> Iterator[list[RawPeer]]:
    """Raw peers made by a test, closed after it."""
    made: list[RawPeer] = []
    yield made
    for peer in made:
        peer.close()


def raw_peer(
    peers: list[RawPeer], cluster: Cluster, minion_id: str, identity: MinionIdentity | None = None
) -> RawPeer:
    peer = RawPeer(cluster, minion_id, identity)
    peers.append(peer)
    return peer


def enroll(peers: list[RawPeer], cluster: Cluster, minion_id: str = "evil") -> RawPeer:
    """A raw peer whose key the operator accepted, authenticated (it holds the session key)."""
    peer = raw_peer(peers, cluster, minion_id)
    assert peer.auth()["status"] == "pending"
    res = cluster.ff_key("-a", minion_id, "-y")
    assert res.returncode == 0, res
    assert peer.auth()["status"] == "accepted"
    assert peer.grant is not None
    return peer


def start_web1(cluster: Cluster, **opts: Any) -> None:
    cluster.start_master()
    cluster.start_minion("web1", **opts)
    cluster.accept_and_wait("web1")


def assert_still_serving(cluster: Cluster, drop: tuple[str, ...] = ()) -> None:
    """Every real minion still answers, and no hostile input reached the error handler.

    ``drop`` names raw peers whose accepted keys go first (they do not answer jobs);
    deleting them also rotates the session key, which the minions must survive.
    """
    for minion_id in drop:
        res = cluster.ff_key("-d", minion_id, "-y")
        assert res.returncode == 0, res
    res = cluster.ff("*", "test.ping", "--out", "json", "-t", "5")
    assert res.returncode == 0, res
    assert res.json() == dict.fromkeys(cluster.minions, True), res
    for name in ("master", *cluster.minions):
        assert "Traceback" not in cluster.log(name), cluster.log(name)


def listen(cluster: Cluster, *prefixes: str) -> EventListener:
    """An event listener whose subscription is known to be live (PUB/SUB joins late)."""
    listener = EventListener(cluster.sock_dir, (*prefixes, "hostile-sync/"))
    deadline = time.monotonic() + 10
    while True:
        fire(cluster.sock_dir, "hostile-sync/ready", {})
        event = listener.get(0.1)
        if event is not None and event[0] == "hostile-sync/ready":
            break
        if time.monotonic() > deadline:
            listener.close()
            raise AssertionError("the event bus did not deliver to a new listener")
    # Drain duplicate sync events so that callers see only their own.
    while (event := listener.get(0.1)) is not None:
        assert event[0] == "hostile-sync/ready", event
    return listener


def collect(listener: EventListener, quiet: float = 0.5) -> list[tuple[str, dict[str, Any]]]:
    """Events until ``quiet`` seconds pass with none."""
    return list(listener.iter(quiet))


# -- 1. garbage at the request port -----------------------------------------------

_BODY = {"id": "web9", "pub": bytes(32), "nonce": bytes(24)}
GARBAGE: dict[str, tuple[list[bytes], str]] = {
    "random-bytes": ([random.Random(7).randbytes(512)], "not valid msgpack"),
    "invalid-msgpack": ([b"\x93\xa4auth\x01\xc1"], "not valid msgpack"),
    "truncated": ([auth_frame("web9", bytes(32), bytes(24))[:-9]], "not valid msgpack"),
    "empty": ([b""], "not valid msgpack"),
    "int-map-keys": ([wire.pack({1: 2})], "not valid msgpack"),
    "not-an-array": ([wire.pack({"kind": "auth"})], "is not a [kind, version, ...] array"),
    "wrong-kind": ([wire.pack(["exec", wire.PROTOCOL_VERSION, {}])], "unknown frame kind 'exec'"),
    "reply-kind": (
        [wire.pack(["authrep", wire.PROTOCOL_VERSION, {}])],
        "unknown frame kind 'authrep'",
    ),
    "wrong-version": ([wire.pack(["auth", 1, _BODY])], "protocol version 1 is not 2"),
    "bool-version": ([wire.pack(["auth", True, _BODY])], "protocol version True is not 2"),
    "float-version": ([wire.pack(["auth", 2.0, _BODY])], "protocol version 2.0 is not 2"),
    "part-count": (
        [wire.pack(["req", wire.PROTOCOL_VERSION, "web1"])],
        "req frame has 1 parts, expected 2",
    ),
    "auth-shape": ([wire.frame("auth", {"id": "web9"})], "auth: missing field 'pub'"),
    "auth-extra": ([wire.frame("auth", {**_BODY, "x": 1})], "auth: unexpected field 'x'"),
    "auth-bad-id": (
        [wire.frame("auth", {**_BODY, "id": "../../evil"})],
        "auth: invalid minion id '../../evil'",
    ),
    "auth-short-key": (
        [wire.frame("auth", {**_BODY, "pub": b"k"})],
        "auth: key or nonce has the wrong length",
    ),
    "req-types": ([wire.frame("req", 42, "text")], "id must be text and payload bytes"),
    "multi-part": (
        [auth_frame("web9", bytes(32), bytes(24))] * 2,
        "dropped a message of 3 frames from a minion",
    ),
}


@pytest.mark.parametrize("case", list(GARBAGE))
def test_garbage_at_request_port_is_dropped(
    cluster: Cluster, peers: list[RawPeer], case: str
) -> None:
    parts, message = GARBAGE[case]
    start_web1(cluster)
    peer = raw_peer(peers, cluster, "garbage")
    peer.send(*parts)
    peer.assert_dropped()
    wait_warning(cluster, "master", message)
    assert not (cluster.pki_dir.parent / "evil").exists()
    assert "web9" not in str(cluster.keys())
    assert_still_serving(cluster)


# -- 2. oversized frame ---------------------------------------------------------


def test_oversized_frame_refused_before_decoding(peers: list[RawPeer]) -> None:
    limit = 65536
    with Cluster(master_opts={"max_frame_size": limit}) as cluster:
        start_web1(cluster)
        peer = raw_peer(peers, cluster, "big")
        monitor = peer.sock.get_monitor_socket(zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED)
        try:
            # 0xc1 is never valid msgpack: had the master decoded it, it would say so.
            peer.assert_dropped()  # connected and served
            peer.send(b"\xc1" * (limit + 1024))
            deadline = time.monotonic() + 10
            events = []
            while zmq.EVENT_DISCONNECTED not in events and time.monotonic() < deadline:
                if monitor.poll(100):
                    events.append(recv_monitor_message(monitor)["event"])
            assert zmq.EVENT_DISCONNECTED in events, "the master did not drop the connection"
            # The peer reconnects and is served again; nothing answered the big frame.
            peer.assert_dropped()
        finally:
            peer.sock.disable_monitor()
            monitor.close(0)
        assert "not valid msgpack" not in cluster.log("master")
        # A frame just under the limit is decoded (and refused as garbage).
        peer.send(b"\xc1" * (limit - 16))
        wait_warning(cluster, "master", "not valid msgpack")
        peer.assert_dropped()
        assert_still_serving(cluster)


# -- 3. unknown and pending ids ---------------------------------------------------


def test_requests_from_unknown_and_pending_ids_are_dropped(
    cluster: Cluster, peers: list[RawPeer]
) -> None:
    start_web1(cluster)
    listener = listen(cluster, "ghost/", "lurker/", "ff/minion/lurker/")
    try:
        ghost = raw_peer(peers, cluster, "ghost")
        ghost.send(ghost.request("event", {"tag": "ghost/hi", "data": {}}))
        wait_warning(cluster, "master", "'ghost', which is not an accepted minion")
        ghost.assert_dropped()

        lurker = raw_peer(peers, cluster, "lurker")
        assert lurker.auth()["status"] == "pending"
        body = {"tag": "ff/minion/lurker/start", "data": {}}
        lurker.send(lurker.request("event", body))
        wait_warning(cluster, "master", "'lurker', which is not an accepted minion")
        lurker.assert_dropped()
        # Even a request claiming an accepted id, from a pending key, gets nowhere.
        lurker.send(lurker.request("event", {"tag": "lurker/x", "data": {}}, claim="web1"))
        wait_warning(cluster, "master", "does not decrypt with the sender's key")
        lurker.assert_dropped()
        assert collect(listener) == []
    finally:
        listener.close()
    keys = cluster.keys()
    assert keys["minions"] == ["web1"] and "lurker" in keys["minions_pre"]
    assert "ghost" not in str(keys)
    assert_still_serving(cluster)


# -- 4. returns claiming another id, and for unknown jobs -------------------------


def test_return_claiming_another_minion_is_dropped(cluster: Cluster, peers: list[RawPeer]) -> None:
    start_web1(cluster)
    evil = enroll(peers, cluster)
    # test.sleep keeps the job open while the forged return comes in (not a wait).
    res = cluster.ff("web1", "test.sleep", "1.5", "--async")
    assert res.returncode == 0, res
    jid = res.stdout.strip()
    listener = listen(cluster, f"ff/job/{jid}/ret/")
    try:
        evil.send(evil.request("ret", ret_body(jid, "forged", "test.sleep"), claim="web1"))
        line = wait_warning(cluster, "master", "does not decrypt with the sender's key")
        assert "dropped request" in line
        evil.assert_dropped()
        # The genuine return still arrives, and it is the only one.
        rets: list[tuple[str, dict[str, Any]]] = []
        deadline = time.monotonic() + 10
        while not rets and time.monotonic() < deadline:
            event = listener.get(0.5)
            if event is not None:
                rets.append(event)
        rets += collect(listener)
    finally:
        listener.close()
    assert [(tag, data["return"]) for tag, data in rets] == [(f"ff/job/{jid}/ret/web1", True)]
    assert_still_serving(cluster, drop=("evil",))


def test_return_for_unknown_job_is_refused(cluster: Cluster, peers: list[RawPeer]) -> None:
    start_web1(cluster)
    evil = enroll(peers, cluster)
    listener = listen(cluster, "ff/job/")
    try:
        for jid in (UNKNOWN_JID, "../../../etc/passwd"):
            evil.send(evil.request("ret", ret_body(jid, "forged")))
            reply = evil.reply()
            assert reply["ok"] is False and "unknown job" in str(reply["error"]), reply
        wait_warning(cluster, "master", "refused request from evil", "unknown job")
        assert collect(listener) == []
    finally:
        listener.close()
    res = cluster.ff("web1", "test.ping", "--out", "json")
    assert res.json() == {"web1": True}, res
    assert_still_serving(cluster, drop=("evil",))


# -- 5. replayed request ----------------------------------------------------------


def test_replayed_request_is_dropped(cluster: Cluster, peers: list[RawPeer]) -> None:
    start_web1(cluster)
    evil = enroll(peers, cluster)
    listener = listen(cluster, "evil/")
    try:
        captured = evil.request("event", {"tag": "evil/test", "data": {"n": 1}})
        evil.send(captured)
        reply = evil.reply()
        assert reply["ok"] is True, reply
        evil.send(captured)
        wait_warning(cluster, "master", "from evil was seen before")
        evil.assert_dropped()
        # The same counter under a fresh Box nonce is a replay too.
        evil.seq -= 1
        evil.send(evil.request("event", {"tag": "evil/test", "data": {"n": 2}}))
        evil.assert_dropped()
        events = collect(listener)
    finally:
        listener.close()
    assert events == [("evil/test", {"n": 1, "id": "evil"})]
    assert_still_serving(cluster, drop=("evil",))


# -- 6. unknown request type ------------------------------------------------------


def test_unknown_request_type_is_refused(cluster: Cluster, peers: list[RawPeer]) -> None:
    start_web1(cluster)
    evil = enroll(peers, cluster)
    marker = cluster.root / "exec-marker"
    body = {"fun": "cmd.run", "arg": [f"touch {marker}"], "tgt": "web1"}
    evil.send(evil.request("exec", body))
    reply = evil.reply()
    assert reply == {
        "rid": evil.rid,
        "ok": False,
        "body": None,
        "error": "unknown request type 'exec'",
    }
    wait_warning(cluster, "master", "refused request from evil", "unknown request type 'exec'")
    assert_still_serving(cluster, drop=("evil",))
    assert not marker.exists()


# -- 7. forged and replayed broadcasts through a man in the middle ---------------


class PubProxy:
    """XSUB -> XPUB forwarder between the master's publisher and a minion.

    It records every publication that passes and can inject frames towards the
    minion. All sockets live in the proxy thread; other threads talk to it over
    an inproc PAIR.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.captured: list[bytes] = []
        self.port = 0
        self.ctx: zmq.Context[Any] = zmq.Context()
        self._ctl_addr = f"inproc://ctl-{uuid.uuid4().hex}"
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._forward, name="pub-proxy", daemon=True)
        self._thread.start()
        assert self._ready.wait(5), "proxy did not start"
        self._ctl: zmq.Socket[Any] = self.ctx.socket(zmq.PAIR)
        self._ctl.setsockopt(zmq.LINGER, 0)
        self._ctl.connect(self._ctl_addr)

    def _forward(self) -> None:
        xsub = self.ctx.socket(zmq.XSUB)
        xpub = self.ctx.socket(zmq.XPUB)
        ctl = self.ctx.socket(zmq.PAIR)
        for sock in (xsub, xpub, ctl):
            sock.setsockopt(zmq.LINGER, 0)
        try:
            ctl.bind(self._ctl_addr)
            xsub.connect(self.upstream)
            self.port = xpub.bind_to_random_port("tcp://127.0.0.1")
            self._ready.set()
            poller = zmq.Poller()
            for sock in (xsub, xpub, ctl):
                poller.register(sock, zmq.POLLIN)
            while True:
                ready = dict(poller.poll())
                if xsub in ready:
                    msg = xsub.recv_multipart()
                    with self._lock:
                        self.captured.append(msg[-1])
                    xpub.send_multipart(msg)
                if xpub in ready:
                    xsub.send_multipart(xpub.recv_multipart())
                if ctl in ready:
                    msg = ctl.recv_multipart()
                    if msg[0] == b"stop":
                        return
                    xpub.send_multipart(msg[1:])
        finally:
            for sock in (xsub, xpub, ctl):
                sock.close(0)

    def frames(self) -> list[bytes]:
        with self._lock:
            return list(self.captured)

    def inject(self, data: bytes, topic: bytes = wire.BROADCAST_TOPIC) -> None:
        self._ctl.send_multipart([b"pub", topic, data])

    def close(self) -> None:
        self._ctl.send(b"stop")
        self._thread.join(5)
        self._ctl.close(0)
        assert not self._thread.is_alive(), "proxy thread did not stop"
        self.ctx.term()


def open_publications(peer: RawPeer, frames: list[bytes]) -> list[tuple[bytes, dict[str, Any]]]:
    """The frames that open with ``peer``'s session key and the master's signature."""
    assert peer.grant is not None
    opener = PublicationOpener(peer.master_sign_pub)
    session = Secret(peer.grant["session"])
    out = []
    for data in frames:
        _, (gen, sealed) = wire.parse_frame(data, wire.DEFAULT_MAX_FRAME, {"pub": 2})
        if gen != peer.grant["gen"]:
            continue
        try:
            out.append((data, wire.unpack(opener.open(sealed, session))))
        except AuthenticationFailed:
            continue
    return out


def test_forged_and_replayed_broadcasts_are_not_run(cluster: Cluster, peers: list[RawPeer]) -> None:
    cluster.start_master()
    proxy = PubProxy(f"tcp://127.0.0.1:{cluster.publish_port}")
    try:
        cluster.start_minion("web1", publish_port=proxy.port)
        cluster.accept_and_wait("web1")
        evil = enroll(peers, cluster)
        assert evil.grant is not None
        session, gen = evil.grant["session"], evil.grant["gen"]

        # (a) A malicious minion holds the session key but not the master's signing key.
        marker = cluster.root / "forged-marker"
        jid = jid_from_time(time.time())
        load = pub_load(jid, "web1", "cmd.run", [f"touch {marker}"])
        proxy.inject(sealed_publication(load, nacl.signing.SigningKey.generate(), session, gen))
        wait_warning(cluster, "web1", "dropped a publication", "signature is not the master's")

        # (b) A genuine publication, captured on the way and sent again.
        out = cluster.root / "replay-out"
        command = f"echo x >> {out}"
        res = cluster.ff("web1", "cmd.run", command, "--out", "json")
        assert res.returncode == 0 and res.json() == {"web1": ""}, res
        genuine = [
            (data, load)
            for data, load in open_publications(evil, proxy.frames())
            if load["fun"] == "cmd.run" and load["arg"] == [command]
        ]
        assert len(genuine) == 1, genuine
        data, load = genuine[0]
        proxy.inject(data)
        wait_warning(cluster, "web1", f"dropped replayed job {load['jid']}")
        assert out.read_text() == "x\n"
        assert_still_serving(cluster, drop=("evil",))
        assert not marker.exists()
        assert out.read_text() == "x\n"
    finally:
        proxy.close()


# -- 8. a known id presenting a different key ----------------------------------


def test_changed_minion_key_lands_in_denied_and_runs_nothing(cluster: Cluster) -> None:
    start_web1(cluster)
    accepted = (cluster.pki_dir / "minions" / "web1").read_text()
    cluster.stop_minion("web1")
    pki = cluster.minion_root("web1") / "etc/fluxforge/pki/minion"
    for name in ("minion.key", "minion.pub"):
        os.unlink(pki / name)
    cluster.start_minion("web1")
    wait_until(
        lambda: "web1" in cluster.keys()["minions_denied"],
        10,
        interval=0.1,
        what="web1's new key in minions_denied",
        detail=lambda: str(cluster.keys()),
    )
    assert (pki / "minion.pub").exists()
    new_key = (pki / "minion.pub").read_text()
    assert new_key != accepted
    assert (cluster.pki_dir / "minions_denied" / "web1").read_text() == new_key
    keys = cluster.keys()
    assert keys["minions"] == ["web1"] and keys["minions_denied"] == ["web1"]

    marker = cluster.root / "denied-marker"
    res = cluster.ff("web1", "cmd.run", f"touch {marker}", "-t", "2")
    assert res.returncode == 4, res
    res = cluster.ff("web1", "test.ping", "-t", "2")
    assert res.returncode == 4 and "web1" in res.stderr, res
    assert not marker.exists()
    assert (cluster.pki_dir / "minions" / "web1").read_text() == accepted
    assert "Traceback" not in cluster.log("master")


def _master_only(cluster: Cluster, peers: list[RawPeer]) -> RawPeer:
    cluster.start_master()
    return raw_peer(peers, cluster, "intruder")


def test_changed_minion_key_is_logged_as_warning(cluster: Cluster, peers: list[RawPeer]) -> None:
    peer = _master_only(cluster, peers)
    assert peer.auth("web1")["status"] == "pending"
    assert cluster.ff_key("-a", "web1", "-y").returncode == 0
    assert peer.auth("web1", MinionIdentity.generate())["status"] == "denied"
    assert peer.auth("web1")["status"] == "accepted"
    wait_warning(cluster, "master", "web1", "denied", timeout=2)


def test_unknown_ids_cannot_flood_the_log(cluster: Cluster, peers: list[RawPeer]) -> None:
    peer = _master_only(cluster, peers)
    for n in range(200):
        peer.send(req_frame(f"ghost{n}", random_bytes(64)))
    peer.assert_dropped()
    lines = [ln for ln in warnings_in(cluster, "master") if "not an accepted minion" in ln]
    assert 1 <= len(lines) <= 5, f"{len(lines)} warnings for 200 frames"


# -- 8. pillar is only ever its own minion's; the file server stays in its roots --


def test_a_minion_cannot_obtain_another_minions_pillar(
    cluster: Cluster, peers: list[RawPeer]
) -> None:
    cluster.write_tree(
        cluster.pillar_root,
        {"top.sls": "base:\n  web1:\n    - secret\n", "secret.sls": "token: web1-only-token\n"},
    )
    start_web1(cluster)
    res = cluster.ff("web1", "pillar.get", "token", "--out", "json")
    assert res.json() == {"web1": "web1-only-token"}, res
    evil = enroll(peers, cluster)

    # Its own pillar: nothing of web1's.
    evil.send(evil.request("pillar", {"env": ""}))
    reply = evil.reply()
    assert reply["ok"] and reply["body"] == {"pillar": {}, "error": ""}, reply

    # Asking for web1's by name: the body has no such field.
    evil.send(evil.request("pillar", {"env": "", "id": "web1"}))
    reply = evil.reply()
    assert not reply["ok"] and "unexpected field 'id'" in str(reply["error"]), reply

    # Claiming to be web1: the Box is from evil's key, so it does not open as web1's.
    evil.send(evil.request("pillar", {"env": ""}, claim="web1"))
    evil.assert_dropped()
    assert_still_serving(cluster, drop=("evil",))


def test_file_requests_outside_the_roots_are_refused(
    cluster: Cluster, peers: list[RawPeer]
) -> None:
    cluster.write_tree(cluster.file_root, {"ok.txt": "fine\n"})
    outside = cluster.root / "outside.txt"
    outside.write_text("private\n")
    os.symlink(outside, cluster.file_root / "link.txt")
    start_web1(cluster)
    evil = enroll(peers, cluster)

    evil.send(evil.request("file_fetch", {"env": "base", "path": "ok.txt", "offset": 0}))
    reply = evil.reply()
    assert reply["ok"] and reply["body"]["data"] == b"fine\n", reply

    attacks = [
        ("../outside.txt", 0),
        ("a/../../outside.txt", 0),
        (str(outside), 0),
        ("ok.txt\x00.png", 0),
        ("link.txt", 0),
        ("x" * 300, 0),
        ("ok.txt", -1),
    ]
    for path, offset in attacks:
        evil.send(evil.request("file_fetch", {"env": "base", "path": path, "offset": offset}))
        reply = evil.reply()
        assert not reply["ok"] and reply["body"] is None, (path, reply)
        assert "private" not in str(reply)
    evil.send(evil.request("file_list", {"env": "nosuch", "prefix": ""}))
    reply = evil.reply()
    assert not reply["ok"] and "nosuch" in str(reply["error"]), reply
    evil.send(evil.request("file_list", {"env": "base", "prefix": ""}))
    assert evil.reply()["body"] == ["ok.txt"]
    assert_still_serving(cluster, drop=("evil",))


def test_a_flood_of_pillar_requests_compiles_once(cluster: Cluster, peers: list[RawPeer]) -> None:
    # A slow pillar for evil, so that its requests all arrive while the first compiles.
    slow = (
        "{% for i in range(2000) %}{% for j in range(200) %}{% endfor %}{% endfor %}\nslow: done\n"
    )
    cluster.write_tree(cluster.pillar_root, {"top.sls": "base:\n  evil:\n    - slow\n"})
    (cluster.pillar_root / "slow.sls").write_text(slow)
    start_web1(cluster)
    evil = enroll(peers, cluster)

    for _ in range(20):
        evil.send(evil.request("pillar", {"env": ""}))
    replies = [evil.reply(timeout=30) for _ in range(20)]
    compiled = [r for r in replies if r["ok"]]
    refused = [r for r in replies if not r["ok"]]
    assert len(compiled) >= 1 and len(refused) >= 10, replies
    assert all(r["body"] == {"pillar": {"slow": "done"}, "error": ""} for r in compiled), compiled
    assert all("already running" in str(r["error"]) for r in refused), refused
    assert_still_serving(cluster, drop=("evil",))
