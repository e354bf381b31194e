"""Protocol downgrade: frames of an older version or an older payload format are refused.

Mirrors Salt's CVE-2025-62349 (a minion could get past the fix for
CVE-2024-38822 by sending request-server messages in an earlier payload
format). Here there is one protocol version and one shape per frame: a
frame of another version, a request without its token and counter, or a
publication that is only encrypted and not signed, is dropped with a
warning, on the master and on the minion alike; nothing falls back.
"""

from __future__ import annotations

import time

import nacl.secret

from fluxforge.protocol import wire
from fluxforge.protocol.jids import jid_from_time
from fluxforge.testing import Cluster
from fluxforge.testing.attack import (
    RawPeer,
    assert_still_serving,
    collect,
    enroll,
    listen,
    proxied_minion,
    pub_load,
    start_web1,
    wait_warning,
)

OLD = wire.PROTOCOL_VERSION - 1


def test_the_master_refuses_older_frames_and_shapes(cluster: Cluster, peers: list[RawPeer]) -> None:
    start_web1(cluster)
    evil = enroll(peers, cluster)
    listener = listen(cluster, "evil/")
    try:
        current = evil.request("event", {"tag": "evil/old", "data": {}})
        kind, _version, *rest = wire.unpack(current)
        evil.send(wire.pack([kind, OLD, *rest]))
        wait_warning(cluster, "master", f"protocol version {OLD} is not {wire.PROTOCOL_VERSION}")
        evil.assert_dropped()
        # The current version with the older inner shape: no token, no counter.
        plain = wire.pack({"t": "event", "rid": 7, "body": {"tag": "evil/old", "data": {}}})
        evil.send(wire.frame("req", "evil", evil.boxes.encrypt(evil.master_pub, plain)))
        wait_warning(cluster, "master", "request: missing field")
        evil.assert_dropped()
        auth = wire.frame("auth", {"id": "evil", "pub": evil.identity.box_public})
        evil.send(wire.pack(["auth", OLD, wire.unpack(auth)[2]]))
        evil.assert_dropped()
        events = collect(listener)
    finally:
        listener.close()
    assert [t for t, _ in events if t == "evil/old"] == []
    assert_still_serving(cluster, drop=("evil",))


def test_the_minion_refuses_older_and_unsigned_publications(
    cluster: Cluster, peers: list[RawPeer]
) -> None:
    with proxied_minion(cluster, peers) as (proxy, evil):
        assert evil.grant is not None
        session, gen = evil.grant["session"], evil.grant["gen"]
        box = nacl.secret.SecretBox(session)
        markers = []
        for build in ("old-version", "unsigned", "clear"):
            marker = cluster.root / f"downgrade-{build}"
            markers.append(marker)
            load = pub_load(jid_from_time(time.time()), "web1", "cmd.run", [f"touch {marker}"])
            packed = wire.pack(load)
            if build == "old-version":
                frame = wire.pack(["pub", OLD, gen, bytes(box.encrypt(packed))])
                needle = f"protocol version {OLD}"
            elif build == "unsigned":
                frame = wire.frame("pub", gen, bytes(box.encrypt(packed)))
                needle = "signature is not the master's"
            else:
                frame = wire.frame("pub", gen, packed)
                needle = "does not decrypt with the session key"
            proxy.inject(frame)
            wait_warning(cluster, "web1", needle)
        assert_still_serving(cluster, drop=("evil",))
        assert [m for m in markers if m.exists()] == []
