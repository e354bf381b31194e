"""Tools for attack tests: hand-built frames, a raw peer on the request port, a publication proxy.

Security tests (``tests/security``) drive real daemons with these: a
:class:`RawPeer` speaks the request protocol frame by frame (as an outsider,
or with an accepted minion's keys after :func:`enroll`), and a
:class:`PubProxy` sits between the master's publisher and a minion to
capture and inject publications.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import nacl.secret
import nacl.signing
import zmq

from fluxforge.errors import AuthenticationFailed
from fluxforge.events import EventListener, fire
from fluxforge.protocol import wire
from fluxforge.protocol.crypto import BoxCache, MinionIdentity, PublicationOpener, random_bytes
from fluxforge.protocol.keyfiles import Secret, read_key_file
from fluxforge.testing import Cluster, wait_until

# One key for every liveness probe, so the probe id stays merely pending.
PROBE = MinionIdentity.generate()
UNKNOWN_JID = "20000101000000000000"


# -- frames -------------------------------------------------------------------


def auth_frame(minion_id: Any, public: bytes, nonce: bytes, proof: bytes | None = None) -> bytes:
    """A clear ``auth`` frame (the first round trip without ``proof``)."""
    return wire.frame("auth", {"id": minion_id, "pub": public, "nonce": nonce, "proof": proof})


def auth_proof(
    boxes: BoxCache, master_pub: bytes, minion_id: str, nonce: bytes, challenge: bytes
) -> bytes:
    """The proof of an auth's second round trip: a Box from the minion's key to the master's."""
    claim = {"id": minion_id, "nonce": nonce, "challenge": challenge}
    return boxes.encrypt(master_pub, wire.pack(claim))


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

    def parse(self, data: bytes) -> tuple[str, Any]:
        """The kind and only part of a frame from the master."""
        kind, parts = wire.parse_frame(data, wire.DEFAULT_MAX_FRAME, {"authrep": 1, "rep": 1})
        return kind, parts[0]

    def next_frame(self, timeout: float = 5.0) -> tuple[str, Any]:
        data = self.recv(timeout)
        assert data is not None, f"no answer from the master within {timeout}s"
        return self.parse(data)

    def auth(self, minion_id: str | None = None, identity: MinionIdentity | None = None) -> Any:
        """Authenticate (as ourselves by default); returns the auth reply body.

        Both round trips: for an accepted key, the challenge of the first is
        answered with a proof from our key when ``identity`` is ours (with
        another's public key alone there is nothing to prove it with).
        """
        identity = identity or self.identity
        minion_id = minion_id or self.id
        nonce = random_bytes(24)
        self.send(auth_frame(minion_id, identity.box_public, nonce))
        kind, body = self.next_frame()
        assert kind == "authrep" and body["nonce"] == nonce, (kind, body)
        if body["challenge"] is not None and identity is self.identity:
            proof = auth_proof(self.boxes, self.master_pub, minion_id, nonce, body["challenge"])
            self.send(auth_frame(minion_id, identity.box_public, nonce, proof))
            kind, body = self.next_frame()
            assert kind == "authrep" and body["nonce"] == nonce, (kind, body)
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


class _Forwarder:
    """A proxy thread that owns its sockets; other threads reach it over an inproc PAIR.

    A subclass binds its front socket in ``_forward`` (setting :attr:`port`
    and then ``_ready``), and stops when the PAIR says ``stop``.
    """

    def _start(self, upstream: str, name: str) -> None:
        self.upstream = upstream
        self.port = 0
        self.ctx: zmq.Context[Any] = zmq.Context()
        self._ctl_addr = f"inproc://{name}-{uuid.uuid4().hex}"
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._forward, name=name, daemon=True)
        self._thread.start()
        assert self._ready.wait(5), "proxy did not start"
        self._ctl: zmq.Socket[Any] = self.ctx.socket(zmq.PAIR)
        self._ctl.setsockopt(zmq.LINGER, 0)
        self._ctl.connect(self._ctl_addr)

    def _forward(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._ctl.send(b"stop")
        self._thread.join(5)
        self._ctl.close(0)
        assert not self._thread.is_alive(), "proxy thread did not stop"
        self.ctx.term()


class PubProxy(_Forwarder):
    """XSUB -> XPUB forwarder between the master's publisher and a minion.

    It records every publication that passes and can inject frames towards the
    minion. All sockets live in the proxy thread; other threads talk to it over
    an inproc PAIR.
    """

    def __init__(self, upstream: str) -> None:
        self.captured: list[bytes] = []
        self._start(upstream, "pub-proxy")

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


@contextlib.contextmanager
def proxied_minion(
    cluster: Cluster, peers: list[RawPeer], minion_id: str = "web1"
) -> Iterator[tuple[PubProxy, RawPeer]]:
    """A master, ``minion_id`` subscribed through a :class:`PubProxy`, and an enrolled ``evil``.

    ``evil`` holds the session key, as any accepted minion does: what it can
    forge or replay towards ``minion_id`` goes in through the proxy.
    """
    cluster.start_master()
    proxy = PubProxy(f"tcp://127.0.0.1:{cluster.publish_port}")
    try:
        cluster.start_minion(minion_id, publish_port=proxy.port)
        cluster.accept_and_wait(minion_id)
        evil = enroll(peers, cluster)
        assert evil.grant is not None
        yield proxy, evil
    finally:
        proxy.close()


def open_publications(peer: RawPeer, frames: list[bytes]) -> list[tuple[bytes, dict[str, Any]]]:
    """The broadcasts that open with ``peer``'s session key and the master's signature."""
    assert peer.grant is not None
    opener = PublicationOpener(peer.master_sign_pub)
    session = Secret(peer.grant["session"])
    out = []
    for data in frames:
        kind, parts = wire.parse_frame(data, wire.DEFAULT_MAX_FRAME, {"pub": 2, "mpub": 1})
        if kind != "pub" or parts[0] != peer.grant["gen"]:
            continue  # sealed to one minion, or of another generation
        sealed = parts[1]
        try:
            out.append((data, wire.unpack(opener.open(sealed, session))))
        except AuthenticationFailed:
            continue
    return out


Tamper = Callable[[bytes], "bytes | None"]


class ReqProxy(_Forwarder):
    """ROUTER -> DEALER forwarder in front of the master's request port.

    Every peer that connects gets its own DEALER towards the master, so the
    master still sees one peer per minion. The proxy records the replies that
    pass (:attr:`replies`, as ``(peer, frame)``), can hold back requests that a
    predicate picks (:meth:`hold`: they are kept in :attr:`held` and never
    forwarded) and can inject frames towards a peer. ``on_request`` and
    ``on_reply`` see every frame on its way (in the proxy's thread) and may
    return other bytes, or None to drop it: a man in the middle. All sockets
    live in the proxy thread; other threads talk to it over an inproc PAIR.
    """

    def __init__(self, upstream: str) -> None:
        self.requests: list[tuple[bytes, bytes]] = []
        self.replies: list[tuple[bytes, bytes]] = []
        self.on_request: Tamper = lambda data: data
        self.on_reply: Tamper = lambda data: data
        self.held: list[tuple[bytes, bytes]] = []
        self._picks: list[Any] = []
        self._start(upstream, "req-proxy")

    def _forward(self) -> None:
        front = self.ctx.socket(zmq.ROUTER)
        ctl = self.ctx.socket(zmq.PAIR)
        backs: dict[bytes, zmq.Socket[Any]] = {}
        peers: dict[zmq.Socket[Any], bytes] = {}
        for sock in (front, ctl):
            sock.setsockopt(zmq.LINGER, 0)
        poller = zmq.Poller()
        try:
            ctl.bind(self._ctl_addr)
            self.port = front.bind_to_random_port("tcp://127.0.0.1")
            self._ready.set()
            for sock in (front, ctl):
                poller.register(sock, zmq.POLLIN)
            while True:
                for sock in dict(poller.poll()):
                    if sock is ctl:
                        msg = ctl.recv_multipart()
                        if msg[0] == b"stop":
                            return
                        front.send_multipart(msg[1:])
                    elif sock is front:
                        peer, data = front.recv_multipart()
                        with self._lock:
                            self.requests.append((peer, data))
                        if self._pick(peer, data):
                            continue
                        tampered = self.on_request(data)
                        if tampered is None:
                            continue
                        back = backs.get(peer)
                        if back is None:
                            back = backs[peer] = self.ctx.socket(zmq.DEALER)
                            back.setsockopt(zmq.LINGER, 0)
                            back.connect(self.upstream)
                            peers[back] = peer
                            poller.register(back, zmq.POLLIN)
                        back.send(tampered)
                    else:
                        data = sock.recv()
                        with self._lock:
                            self.replies.append((peers[sock], data))
                        tampered = self.on_reply(data)
                        if tampered is not None:
                            front.send_multipart([peers[sock], tampered])
        finally:
            for sock in (front, ctl, *backs.values()):
                sock.close(0)

    def _pick(self, peer: bytes, data: bytes) -> bool:
        with self._lock:
            for n, pick in enumerate(self._picks):
                if pick(data):
                    del self._picks[n]
                    self.held.append((peer, data))
                    return True
        return False

    def hold(self, pick: Any) -> None:
        """Hold back (never forward) the next request for which ``pick(frame)`` is true."""
        with self._lock:
            self._picks.append(pick)

    def held_frames(self) -> list[tuple[bytes, bytes]]:
        with self._lock:
            return list(self.held)

    def replies_to(self) -> list[tuple[bytes, bytes]]:
        with self._lock:
            return list(self.replies)

    def inject(self, peer: bytes, data: bytes) -> None:
        """Send ``data`` to ``peer`` as if the master had."""
        self._ctl.send_multipart([b"inject", peer, data])
