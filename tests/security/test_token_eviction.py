"""Token eviction: an outsider who knows only a minion's public key floods auth for its id.

A minion's public key is no secret: it travels in clear at every auth. Each
auth request used to mint a request token, and a minion keeps only the
newest few, so a flood of auth requests naming ``web1`` with web1's public
key evicted the token web1 was using: its returns were refused ("reauth")
and, under a steady flood, lost. A token is now minted only for a sender
that proves it holds the minion's private key, so the flood changes nothing
of web1's channel.
"""

from __future__ import annotations

import threading

from fluxforge.protocol.crypto import random_bytes
from fluxforge.protocol.keyfiles import read_key_file
from fluxforge.testing import Cluster, wait_until
from fluxforge.testing.attack import (
    RawPeer,
    assert_still_serving,
    auth_frame,
    auth_proof,
    raw_peer,
    start_web1,
)

WINDOW = 8


class Flood:
    """Auth requests for one id and key, WINDOW at a time, from a thread, until stopped."""

    def __init__(self, peer: RawPeer, minion_id: str, public: bytes) -> None:
        self.peer = peer
        self.id = minion_id
        self.public = public
        self.own_boxes = peer.boxes
        self.master_pub = peer.master_pub
        self.answered = 0
        self.granted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="auth-flood", daemon=True)
        self._thread.start()

    def _frames(self) -> list[bytes]:
        """First round trips, and second ones whose proof is not from web1's key."""
        frames = [auth_frame(self.id, self.public, random_bytes(24)) for _ in range(WINDOW - 2)]
        nonce = random_bytes(24)
        forged = auth_proof(self.own_boxes, self.master_pub, self.id, nonce, bytes(24))
        frames.append(auth_frame(self.id, self.public, nonce, forged))
        frames.append(auth_frame(self.id, self.public, nonce, random_bytes(80)))
        return frames

    def _run(self) -> None:
        while not self._stop.is_set():
            for frame in self._frames():
                self.peer.send(frame)
            # Frames with a proof that does not hold are dropped unanswered.
            for _ in range(WINDOW - 2):
                data = self.peer.recv(1.0)
                if data is None:
                    break
                self.answered += 1
                _, body = self.peer.parse(data)
                if body.get("sealed") is not None:
                    self.granted += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        assert not self._thread.is_alive(), "the flood thread did not stop"


def test_auth_flood_with_only_the_public_key_leaves_the_minion_working(
    cluster: Cluster, peers: list[RawPeer]
) -> None:
    start_web1(cluster)
    public = read_key_file(str(cluster.pki_dir / "minions" / "web1"), private=False)
    flood = Flood(raw_peer(peers, cluster, "web1"), "web1", public)
    try:
        wait_until(
            lambda: flood.answered >= 200,
            30,
            what="the master to answer 200 flooded auth requests",
            detail=lambda: f"{flood.answered} answered",
        )
        # Returns travel while the flood goes on.
        for _ in range(3):
            res = cluster.ff("web1", "test.ping", "--out", "json", "-t", "10")
            assert res.returncode == 0 and res.json() == {"web1": True}, res
    finally:
        flood.stop()
    assert flood.granted == 0, f"{flood.granted} grants went to a sender without the private key"
    assert "reauth" not in cluster.log("web1"), cluster.log("web1")
    assert cluster.keys()["minions"] == ["web1"]
    assert_still_serving(cluster)
