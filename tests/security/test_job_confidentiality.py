"""Confidentiality between minions: a job the master resolves to web1 is readable by web1 alone.

Every accepted minion holds the broadcast session key. Here a hostile one
("evil", its key accepted by the operator) taps the master's publisher on
every topic (a raw SUB subscribed to everything: topics are not secret) and
also sees, through a proxy, everything sent towards web1. It must not open a
list, glob or grain job that resolves to web1 only, nor learn their
``cmd.run`` arguments; a broadcast ``*`` job it can open, as
docs/protocol.md says. web1 runs every one of them, and a job sealed to web1
cannot be replayed to it or forged by another minion.
"""

from __future__ import annotations

import time
from typing import Any

import nacl.signing
import zmq

from fluxforge.errors import AuthenticationFailed
from fluxforge.protocol import wire
from fluxforge.protocol.crypto import BoxCache, PublicationOpener
from fluxforge.protocol.jids import jid_from_time
from fluxforge.protocol.keyfiles import Secret, read_key_file
from fluxforge.testing import Cluster, wait_until
from fluxforge.testing.attack import (
    PubProxy,
    RawPeer,
    assert_still_serving,
    enroll,
    pub_load,
    wait_warning,
)

PUB_KINDS = {"pub": 2, "mpub": 1}


class Tap:
    """A raw SUB on the master's publisher, subscribed to every topic."""

    def __init__(self, port: int) -> None:
        self.ctx: zmq.Context[Any] = zmq.Context()
        self.sock: zmq.Socket[Any] = self.ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"")
        self.sock.connect(f"tcp://127.0.0.1:{port}")
        self.seen: list[tuple[bytes, bytes]] = []

    def drain(self) -> list[tuple[bytes, bytes]]:
        """Every ``(topic, frame)`` received so far."""
        while self.sock.poll(0):
            topic, data = self.sock.recv_multipart()
            self.seen.append((bytes(topic), bytes(data)))
        return self.seen

    def close(self) -> None:
        self.sock.close(0)
        self.ctx.term()


def open_all(peer: RawPeer, frames: list[bytes]) -> list[dict[str, Any]]:
    """The loads ``peer`` can open among ``frames``: with its session key or its own key."""
    assert peer.grant is not None
    opener = PublicationOpener(peer.master_sign_pub)
    session = Secret(peer.grant["session"])
    opened = []
    for data in frames:
        kind, parts = wire.parse_frame(data, wire.DEFAULT_MAX_FRAME, PUB_KINDS)
        try:
            if kind == "pub":
                payload = opener.open(parts[1], session)
            else:
                payload = opener.open_to(parts[0], peer.boxes, peer.master_pub)
        except AuthenticationFailed:
            continue
        opened.append(wire.unpack(payload))
    return opened


def kind_of(data: bytes) -> str:
    return wire.parse_frame(data, wire.DEFAULT_MAX_FRAME, PUB_KINDS)[0]


def start_watched_web1(cluster: Cluster) -> PubProxy:
    """A master, and web1 (grain ``role: vault``) behind a proxy that records what it gets."""
    cluster.start_master()
    proxy = PubProxy(f"tcp://127.0.0.1:{cluster.publish_port}")
    cluster.start_minion("web1", publish_port=proxy.port, grains={"role": "vault"})
    cluster.accept_and_wait("web1")
    return proxy


def test_a_minion_cannot_read_jobs_targeted_at_another(
    cluster: Cluster, peers: list[RawPeer]
) -> None:
    proxy = start_watched_web1(cluster)
    tap = Tap(cluster.publish_port)
    try:
        evil = enroll(peers, cluster)
        # evil reports grains of its own, so that the grain target rules it out.
        evil.send(evil.request("grains", {"grains": {"role": "web"}}))
        assert evil.reply()["ok"] is True
        client = cluster.client()
        try:
            wait_until(
                lambda: (
                    client.command("resolve", tgt="role:vault", tgt_type="grain")
                    == {"minions": ["web1"], "unknown": []}
                ),
                10,
                what="the grain target to resolve to web1 only",
            )
        finally:
            client.close()

        def probe() -> bool:
            cluster.ff("-L", "web1", "test.ping", "--async")
            return bool(tap.drain())

        # The tap's subscription reaches the publisher some time after it connects.
        wait_until(probe, 10, interval=0.2, what="the tap to receive a publication")

        secrets = {}
        for name, target in (
            ("list", ("-L", "web1")),
            ("glob", ("web1",)),
            ("grain", ("-G", "role:vault")),
        ):
            secret = f"s3cret-{name}-arg"
            out = cluster.root / f"{name}-out"
            command = f"echo {secret} > {out}"
            res = cluster.ff(*target, "cmd.run", command, "--out", "json")
            assert res.returncode == 0 and res.json() == {"web1": ""}, res
            assert out.read_text() == f"{secret}\n"
            secrets[command] = secret

        # A broadcast reaches everyone under the session key: evil reads it.
        public = f"echo public > {cluster.root / 'broadcast-out'}"
        res = cluster.ff("*", "cmd.run", public, "--async")
        assert res.returncode == 0, res
        jid = res.stdout.strip()
        cluster.wait_returns(jid, 1)
        assert (cluster.root / "broadcast-out").read_text() == "public\n"
        # The broadcast came last on one connection: once the tap has it, it has all.
        wait_until(
            lambda: any(load["jid"] == jid for load in open_all(evil, [d for _, d in tap.drain()])),
            10,
            what="the tap to receive the broadcast",
        )

        tapped = tap.drain()
        frames = [data for _, data in tapped] + proxy.frames()
        opened = [load["arg"] for load in open_all(evil, frames) if load["fun"] == "cmd.run"]
        assert opened and all(arg == [public] for arg in opened), opened
        for data in frames:
            assert not any(s.encode() in data for s in secrets.values())
        # evil did receive web1's jobs (topics are not secret); it could not open them.
        to_web1 = [d for t, d in tapped if t == wire.minion_topic("web1") and kind_of(d) == "mpub"]
        assert len(to_web1) >= len(secrets), tapped
        assert_still_serving(cluster, drop=("evil",))
    finally:
        tap.close()
        proxy.close()


def test_a_job_sealed_to_a_minion_cannot_be_replayed_or_forged(
    cluster: Cluster, peers: list[RawPeer]
) -> None:
    proxy = start_watched_web1(cluster)
    try:
        evil = enroll(peers, cluster)
        out = cluster.root / "replay-out"
        res = cluster.ff("-L", "web1", "cmd.run", f"echo x >> {out}", "--async")
        assert res.returncode == 0, res
        jid = res.stdout.strip()
        cluster.wait_returns(jid, 1)
        sealed_to_web1 = [d for d in proxy.frames() if kind_of(d) == "mpub"]
        assert sealed_to_web1, "no job sealed to web1 was seen"

        # (a) Captured on the way and sent again: the jid window drops it.
        for data in sealed_to_web1:
            proxy.inject(data, wire.minion_topic("web1"))
        wait_warning(cluster, "web1", f"dropped replayed job {jid}")

        # (b) evil seals a job to web1 with its own key and signature: web1 cannot open it.
        marker = cluster.root / "forged-marker"
        load = pub_load(jid_from_time(time.time()), "web1", "cmd.run", [f"touch {marker}"])
        signed = nacl.signing.SigningKey.generate().sign(wire.pack(load))
        web1_pub = read_key_file(str(cluster.pki_dir / "minions" / "web1"), private=False)
        forged = BoxCache(evil.identity.box_secret).encrypt(web1_pub, bytes(signed))
        proxy.inject(wire.frame("mpub", forged), wire.minion_topic("web1"))
        wait_warning(cluster, "web1", "does not open with this minion's key")

        assert_still_serving(cluster, drop=("evil",))
        assert out.read_text() == "x\n"
        assert not marker.exists()
    finally:
        proxy.close()
