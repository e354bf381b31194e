"""Worker exhaustion by bad packets and crafted auth requests.

Mirrors Salt's CVE-2023-20897 (after as many bad packets on the request
server as it had worker threads, the master stopped answering returns until
restarted) and CVE-2017-14696 (a crafted authentication request took the
master down). Here a bad frame costs one check on the loop and is dropped;
it never holds a worker thread, so no number of them stops a job's
returns. The test floods the request port with many times ``worker_threads``
frames of every malformed kind, from several peers, while a job is
running, and the job still completes.
"""

from __future__ import annotations

import random

from fluxforge.protocol import wire
from fluxforge.testing import Cluster
from fluxforge.testing.attack import (
    RawPeer,
    assert_still_serving,
    auth_frame,
    raw_peer,
    req_frame,
)

WORKERS = 2
ROUNDS = 50  # frames of each kind per peer: 25 times the worker threads


def bad_frames(rng: random.Random) -> list[bytes]:
    """Frames a worker-based master would choke on: garbage, and crafted auth and requests."""
    body = {"id": "web9", "pub": bytes(32), "nonce": bytes(24)}
    return [
        rng.randbytes(256),
        b"\x93\xa4auth\x02\xc1",
        wire.pack(["auth", wire.PROTOCOL_VERSION, {**body, "nonce": bytes(4096)}]),
        wire.pack(["auth", wire.PROTOCOL_VERSION, {**body, "pub": "not-bytes"}]),
        wire.pack(["auth", wire.PROTOCOL_VERSION, {**body, "id": {"nested": [1, 2, 3]}}]),
        wire.pack(["auth", wire.PROTOCOL_VERSION, [body] * 8]),
        wire.pack(["req", wire.PROTOCOL_VERSION, "web1", rng.randbytes(128)]),
        req_frame("web1", b""),
        req_frame("web1", "text"),
        auth_frame("../x", bytes(32), bytes(24)),
    ]


def test_bad_packets_do_not_stop_returns(cluster: Cluster, peers: list[RawPeer]) -> None:
    cluster.write_master_conf(worker_threads=WORKERS)
    cluster.start_master()
    cluster.start_minion("web1")
    cluster.accept_and_wait("web1")
    # A job that is running while the flood comes in: its return must still land.
    res = cluster.ff("web1", "test.sleep", "1", "--async")
    assert res.returncode == 0, res
    jid = res.stdout.strip()
    rng = random.Random(20231)
    flooders = [raw_peer(peers, cluster, f"flood{n}") for n in range(4)]
    frames = bad_frames(rng)
    for _ in range(ROUNDS):
        for peer in flooders:
            for frame in frames:
                peer.send(frame)
    for peer in flooders:
        peer.assert_dropped()
    job = cluster.wait_returns(jid, 1)
    assert job["returns"]["web1"]["return"] is True, job
    # A fresh auth from a real minion is still answered.
    cluster.start_minion("web2")
    cluster.accept_and_wait("web2")
    assert_still_serving(cluster)
