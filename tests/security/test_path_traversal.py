"""Path traversal through every name a peer or client supplies: id, jid, saltenv, path, token.

Mirrors Salt's CVE-2020-11652 (master methods that did not sanitize paths
gave directory access), CVE-2017-14695 (a crafted minion id traversed out
of the key directory at auth) and CVE-2024-38824 (a traversal in
``recv_file`` wrote files into the master's cache). Here a minion id must
match the id rule before any file is named after it, a jid must be 20
digits, file-server environments are names from the config, file paths are
resolved inside the roots, and a request token is bytes compared in memory,
never a file name. Each attack below is refused, writes no file anywhere,
and the master keeps serving.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fluxforge.errors import UsageError
from fluxforge.protocol.crypto import MinionIdentity, random_bytes
from fluxforge.testing import Cluster
from fluxforge.testing.attack import (
    RawPeer,
    assert_still_serving,
    auth_frame,
    enroll,
    raw_peer,
    req_frame,
    request_plain,
    start_web1,
    wait_warning,
)

HOSTILE_IDS = [
    "../../evil",
    "../minions/evil",
    "/etc/evil",
    "a/b",
    "..",
    ".",
    "evil\x00.pub",
    "a\\..\\evil",
    "\u2025/evil",
    "evil\n",
    "x" * 300,
]

HOSTILE_ENVS = ["../", "../../etc", "/etc", "base/../..", "base\x00", ".."]
HOSTILE_PATHS = ["../outside.txt", "/etc/hostname", "sub/../../outside.txt", "ok.txt\x00x"]


def every_file(root: Path) -> set[str]:
    """Every file and directory under ``root``, relative, except sockets' churn."""
    out = set()
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            out.add(os.path.relpath(os.path.join(base, name), root))
    return out


@pytest.mark.parametrize("minion_id", HOSTILE_IDS)
def test_a_crafted_id_at_auth_names_no_file(
    cluster: Cluster, peers: list[RawPeer], minion_id: str
) -> None:
    start_web1(cluster)
    before = every_file(cluster.root)
    peer = raw_peer(peers, cluster, "crafted")
    peer.send(auth_frame(minion_id, MinionIdentity.generate().box_public, random_bytes(24)))
    peer.assert_dropped()
    wait_warning(cluster, "master", "invalid minion id")
    added = {p for p in every_file(cluster.root) - before if not p.endswith((".log", "-journal"))}
    # The liveness probe's own pending key is the only new file.
    probe = os.path.relpath(cluster.pki_dir / "minions_pre" / "probe", cluster.root)
    assert added <= {probe}, added
    assert "evil" not in str(cluster.keys())
    assert_still_serving(cluster)


def test_jids_from_minions_and_clients_are_digits_only(
    cluster: Cluster, peers: list[RawPeer]
) -> None:
    start_web1(cluster)
    evil = enroll(peers, cluster)
    for jid in ("../../../etc/passwd", "20000101000000000000/../x", "/tmp/x", ""):
        evil.send(evil.request("prog", {"jid": jid, "fun": "x", "elapsed": 1, "data": {}}))
        reply = evil.reply()
        assert reply["ok"] is False and "unknown job" in str(reply["error"]), reply
    client = cluster.client()
    try:
        for jid in ("../../../etc/passwd", "2000010100000000000/", "20000101000000000000x"):
            with pytest.raises(UsageError, match="jid"):
                client.command("job", jid=jid)
    finally:
        client.close()
    assert_still_serving(cluster, drop=("evil",))


def test_file_server_environments_and_paths_stay_in_the_roots(
    cluster: Cluster, peers: list[RawPeer]
) -> None:
    cluster.write_tree(cluster.file_root, {"ok.txt": "fine\n", "sub/a.txt": "a\n"})
    outside = cluster.root / "outside.txt"
    outside.write_text("private\n")
    start_web1(cluster)
    evil = enroll(peers, cluster)
    for env in HOSTILE_ENVS:
        for kind, body in (
            ("file_list", {"env": env, "prefix": ""}),
            ("file_hash", {"env": env, "path": "ok.txt"}),
            ("file_fetch", {"env": env, "path": "ok.txt", "offset": 0}),
            ("pillar", {"env": env}),
        ):
            evil.send(evil.request(kind, body))
            reply = evil.reply(timeout=10)
            if kind == "pillar":
                # An environment that is not configured is an error naming it, never files.
                assert reply["body"]["pillar"] == {}, (env, reply)
                assert "is not in pillar_roots" in reply["body"]["error"], (env, reply)
                continue
            assert reply["ok"] is False and reply["body"] is None, (kind, env, reply)
    for path in HOSTILE_PATHS:
        evil.send(evil.request("file_hash", {"env": "base", "path": path}))
        reply = evil.reply()
        assert not reply["ok"] or reply["body"] is None, (path, reply)
        assert "private" not in str(reply)
    for prefix in ("../", "/etc", "sub/../../"):
        evil.send(evil.request("file_list", {"env": "base", "prefix": prefix}))
        reply = evil.reply()
        assert not reply["ok"] or reply["body"] == [], (prefix, reply)
    assert_still_serving(cluster, drop=("evil",))


def test_a_token_is_never_a_path(cluster: Cluster, peers: list[RawPeer]) -> None:
    """A request whose token is text (a path, say) fails the shape check and is dropped."""
    start_web1(cluster)
    evil = enroll(peers, cluster)
    body = {"tag": "evil/x", "data": {}}
    plain = request_plain("event", 99, b"", 1, body).replace(b"\xc4\x00", b"\xa9../../tok")
    evil.send(req_frame("evil", evil.boxes.encrypt(evil.master_pub, plain)))
    wait_warning(cluster, "master", "request", "'tok'")
    evil.assert_dropped()
    assert_still_serving(cluster, drop=("evil",))


def test_key_patterns_cannot_reach_outside_the_key_directories(cluster: Cluster) -> None:
    start_web1(cluster)
    victim = cluster.root / "victim"
    victim.write_text("keep\n")
    for op in ("-a", "-r", "-d"):
        for pattern in ("../../../victim", "../*", "/etc/*", "minions/../../*"):
            res = cluster.ff_key(op, pattern, "-y")
            assert "Traceback" not in res.stderr, res
    assert victim.read_text() == "keep\n"
    assert cluster.keys()["minions"] == ["web1"]
    assert_still_serving(cluster)
