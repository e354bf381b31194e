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
import time
from typing import Any

import nacl.signing
import pytest
import zmq
from zmq.utils.monitor import recv_monitor_message

from fluxforge.protocol import wire
from fluxforge.protocol.crypto import MinionIdentity, random_bytes
from fluxforge.protocol.jids import jid_from_time
from fluxforge.testing import Cluster, wait_until
from fluxforge.testing.attack import (
    UNKNOWN_JID,
    RawPeer,
    assert_still_serving,
    auth_frame,
    collect,
    enroll,
    listen,
    open_publications,
    proxied_minion,
    pub_load,
    raw_peer,
    req_frame,
    ret_body,
    sealed_publication,
    start_web1,
    wait_warning,
    warnings_in,
)

# -- 1. garbage at the request port -----------------------------------------------

_BODY = {"id": "web9", "pub": bytes(32), "nonce": bytes(24), "proof": None}
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
    # Version 2 is the last without proof of the key at auth: a downgrade to it is refused.
    "wrong-version": ([wire.pack(["auth", 2, _BODY])], "protocol version 2 is not 3"),
    "bool-version": ([wire.pack(["auth", True, _BODY])], "protocol version True is not 3"),
    "float-version": ([wire.pack(["auth", 3.0, _BODY])], "protocol version 3.0 is not 3"),
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
    """Salt's CVE-2024-38823: its request server took replayed requests."""
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
    assert evil.grant is not None
    assert reply == {
        "rid": evil.rid,
        "tok": evil.grant["token"],
        "seq": evil.seq,
        "ok": False,
        "body": None,
        "error": "unknown request type 'exec'",
    }
    wait_warning(cluster, "master", "refused request from evil", "unknown request type 'exec'")
    assert_still_serving(cluster, drop=("evil",))
    assert not marker.exists()


# -- 7. forged and replayed broadcasts through a man in the middle ---------------


def test_forged_and_replayed_broadcasts_are_not_run(cluster: Cluster, peers: list[RawPeer]) -> None:
    """Salt's CVE-2022-22936: minions ran replayed job publications."""
    with proxied_minion(cluster, peers) as (proxy, evil):
        assert evil.grant is not None
        session, gen = evil.grant["session"], evil.grant["gen"]

        # (a) A malicious minion holds the session key but not the master's signing key.
        marker = cluster.root / "forged-marker"
        jid = jid_from_time(time.time())
        load = pub_load(jid, "web1", "cmd.run", [f"touch {marker}"])
        proxy.inject(sealed_publication(load, nacl.signing.SigningKey.generate(), session, gen))
        wait_warning(cluster, "web1", "dropped a publication", "signature is not the master's")

        # (b) A genuine broadcast, captured on the way and sent again (evil never returns).
        out = cluster.root / "replay-out"
        command = f"echo x >> {out}"
        res = cluster.ff("*", "cmd.run", command, "--async")
        assert res.returncode == 0, res
        returns = cluster.wait_returns(res.stdout.strip(), 1)["returns"]
        assert list(returns) == ["web1"] and returns["web1"]["return"] == "", returns
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
