"""Exhaustion by one peer: what an outsider or one accepted minion can make the master hold.

Replies used to pile up without bound for a minion that stops reading (the
ROUTER's send high-water mark was 0: 600 unread file replies took the master
from 381 to 1,532 MiB), requests waiting for the worker pool were not
limited per minion, an authenticated body was decoded whatever it held (a
million keys, or containers 500 deep), and an auth frame of any size up to
16 MiB was decoded before its size was looked at. Each is now bounded: a
reply queue of ``reply_hwm`` messages per minion, ``max_requests_in_flight``
pool requests per minion, the inner object and depth limits read from the
marker bytes, and an auth frame size.
"""

from __future__ import annotations

from typing import Any

import psutil
import zmq

from fluxforge.protocol import wire
from fluxforge.protocol.crypto import random_bytes
from fluxforge.testing import Cluster
from fluxforge.testing.attack import (
    RawPeer,
    assert_still_serving,
    auth_frame,
    collect,
    enroll,
    listen,
    raw_peer,
    start_web1,
    wait_warning,
)

CHUNK = 2**20  # file_chunk_size: every fetch of the big file is a 1 MiB reply
REQUESTS = 600
WAVE = 8


def _socket(peer: RawPeer, cluster: Cluster, **options: int) -> zmq.Socket[Any]:
    sock: zmq.Socket[Any] = peer.ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    for name, value in options.items():
        sock.setsockopt(getattr(zmq, name), value)
    sock.connect(f"tcp://127.0.0.1:{cluster.ret_port}")
    return sock


def _opened(peer: RawPeer, data: bytes) -> dict[str, Any]:
    _, (boxed,) = wire.parse_frame(data, wire.DEFAULT_MAX_FRAME, {"rep": 1})
    plain = peer.boxes.decrypt(peer.master_pub, boxed)
    return wire.check(wire.unpack(plain), wire.REPLY_SHAPE, "reply")


def _rss(cluster: Cluster) -> int:
    assert cluster.master is not None
    return int(psutil.Process(cluster.master.pid).memory_info().rss)


def test_replies_a_minion_does_not_read_do_not_grow_the_master(
    cluster: Cluster, peers: list[RawPeer]
) -> None:
    cluster.write_tree(cluster.file_root, {"big.bin": "x" * CHUNK})
    start_web1(cluster)
    evil = enroll(peers, cluster)
    # One connection that never reads (and holds next to nothing in its own
    # buffers, so the replies stay on the master's side), one that reads.
    mute = _socket(evil, cluster, RCVHWM=1, RCVBUF=4096)
    probe = _socket(evil, cluster)
    fetch = {"env": "base", "path": "big.bin", "offset": 0}
    try:

        def answered_probe() -> None:
            # The pool runs work in order: once this answer is in, every
            # fetch sent before it has been read (give or take one per thread).
            while True:
                probe.send(evil.request("file_hash", {"env": "base", "path": "big.bin"}))
                assert probe.poll(30_000), "the master did not answer the probe"
                if _opened(evil, probe.recv())["ok"]:
                    return

        answered_probe()
        before = _rss(cluster)
        for _ in range(REQUESTS // WAVE):
            for _ in range(WAVE):
                mute.send(evil.request("file_fetch", fetch))
            answered_probe()
        grown = _rss(cluster) - before
    finally:
        mute.close(0)
        probe.close(0)
    # Unbounded, the master would hold 600 MiB of replies; max_reply_bytes (16 MiB) caps it.
    assert grown < 200 * 2**20, f"the master grew by {grown / 2**20:.0f} MiB"
    wait_warning(cluster, "master", "dropped a reply to evil", "max_reply_bytes")
    assert_still_serving(cluster, drop=("evil",))


def test_requests_in_flight_per_minion_are_capped(cluster: Cluster, peers: list[RawPeer]) -> None:
    cluster.write_tree(cluster.file_root, {"big.bin": "x" * CHUNK})
    start_web1(cluster)
    evil = enroll(peers, cluster)
    count = 200
    for _ in range(count):
        evil.send(evil.request("file_hash", {"env": "base", "path": "big.bin"}))
    replies = [evil.reply(timeout=30) for _ in range(count)]
    served = [r for r in replies if r["ok"]]
    refused = [r for r in replies if not r["ok"]]
    assert served and refused, f"{len(served)} served, {len(refused)} refused"
    assert all("max_requests_in_flight" in str(r["error"]) for r in refused), refused[:3]
    wait_warning(cluster, "master", "refused request from evil", "in flight")
    # The cap is evil's alone: web1 asks the file server too.
    res = cluster.ff("web1", "cp.list_master", "--out", "json")
    assert res.returncode == 0 and res.json() == {"web1": ["big.bin"]}, res
    assert_still_serving(cluster, drop=("evil",))


def test_a_request_body_bomb_is_refused_before_decoding(
    cluster: Cluster, peers: list[RawPeer]
) -> None:
    start_web1(cluster)
    evil = enroll(peers, cluster)
    listener = listen(cluster, "evil/")
    try:
        keys = {str(i): 0 for i in range(1_000_000)}
        evil.send(evil.request("event", {"tag": "evil/keys", "data": keys}))
        wait_warning(cluster, "master", "request from evil", "more than 100000 msgpack objects")
        evil.assert_dropped()
        deep: dict[str, Any] = {}
        for _ in range(500):
            deep = {"a": deep}
        evil.send(evil.request("event", {"tag": "evil/deep", "data": deep}))
        wait_warning(cluster, "master", "request from evil", "nests containers more than 32")
        evil.assert_dropped()
        assert collect(listener) == []
    finally:
        listener.close()
    assert_still_serving(cluster, drop=("evil",))


def test_a_big_auth_frame_is_refused_by_its_size(cluster: Cluster, peers: list[RawPeer]) -> None:
    start_web1(cluster)
    peer = raw_peer(peers, cluster, "intruder")
    peer.send(auth_frame("intruder", peer.identity.box_public, random_bytes(2**20)))
    wait_warning(cluster, "master", "auth frame of", "over the limit of 1024")
    peer.assert_dropped()
    assert "intruder" not in str(cluster.keys())
    assert_still_serving(cluster)
