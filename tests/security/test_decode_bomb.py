"""Decode before check: an unauthenticated peer sends frames that declare millions of objects.

A frame of 15 MB can declare 15 million empty msgpack arrays; decoding one
took the master's loop about 4.5 s and 1 GiB, so ten of them kept every
job waiting for most of a minute. Outer frames are now counted from their
marker bytes and refused before anything is decoded (the class of Salt's
CVE-2023-20897, a master made unresponsive by bad packets: work an
unauthenticated peer makes the master do).
"""

from __future__ import annotations

from typing import Any

import zmq

from fluxforge.testing import Cluster

# An array header declaring 15 million items, and 15 million empty arrays.
ITEMS = 15_000_000
BOMB = b"\xdd" + ITEMS.to_bytes(4, "big") + b"\x90" * ITEMS
FRAMES = 10


def test_frames_declaring_millions_of_objects_cost_the_master_nothing(cluster: Cluster) -> None:
    cluster.start_master()
    cluster.start_minion("m1")
    cluster.accept_and_wait("m1")
    log = cluster.watch("master")
    ctx: zmq.Context[Any] = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(f"tcp://127.0.0.1:{cluster.ret_port}")
        for _ in range(FRAMES):
            sock.send(BOMB)
        log.wait_for(r"more than 32 msgpack objects", timeout=30)
    finally:
        sock.close(0)
        ctx.term()
    # Decoding them would hold the loop for most of a minute, past the 30 s
    # a command waits for the master: it would exit 2 instead.
    res = cluster.ff("*", "test.ping", "-t", "10", "--out", "json")
    assert res.returncode == 0, res
    assert res.json() == {"m1": True}
    assert cluster.master is not None and cluster.master.poll() is None
