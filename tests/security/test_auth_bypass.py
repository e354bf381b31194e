"""Authentication bypass: every request type checks the sender's key and channel token.

Mirrors Salt's CVE-2024-38822 (several master methods skipped the minion
token check, so a misbehaving minion could impersonate another). Here the
check is not per method: the master opens every request with the accepted
key of the id it claims and looks its token up among that minion's own
tokens before any handler runs. A token the master never issued, or one
issued to another minion, gets "reauth" and nothing else, whatever the
request type.
"""

from __future__ import annotations

from typing import Any

from fluxforge.protocol import wire
from fluxforge.protocol.crypto import random_bytes
from fluxforge.testing import Cluster
from fluxforge.testing.attack import (
    UNKNOWN_JID,
    RawPeer,
    assert_still_serving,
    collect,
    enroll,
    listen,
    ret_body,
    start_web1,
)

BODIES: dict[str, dict[str, Any]] = {
    "ret": ret_body(UNKNOWN_JID, "forged"),
    "prog": {"jid": UNKNOWN_JID, "fun": "test.ping", "elapsed": 1.0, "data": {}},
    "event": {"tag": "evil/forged", "data": {}},
    "grains": {"grains": {"forged": True}},
    "pillar": {"env": ""},
    "file_list": {"env": "base", "prefix": ""},
    "file_hash": {"env": "base", "path": "secret.txt"},
    "file_fetch": {"env": "base", "path": "secret.txt", "offset": 0},
}


def test_the_table_covers_every_request_type() -> None:
    assert set(BODIES) == set(wire.REQUEST_TYPES)


def test_no_request_type_is_served_without_the_senders_own_token(
    cluster: Cluster, peers: list[RawPeer]
) -> None:
    cluster.write_tree(cluster.file_root, {"secret.txt": "file-secret\n"})
    cluster.write_tree(
        cluster.pillar_root, {"top.sls": "base:\n  '*':\n    - p\n", "p.sls": "k: pillar-secret\n"}
    )
    start_web1(cluster)
    evil = enroll(peers, cluster)
    other = enroll(peers, cluster, "other")
    assert evil.grant is not None and other.grant is not None
    own_token = evil.grant["token"]
    listener = listen(cluster, "evil/", "ff/job/")
    try:
        for token in (random_bytes(16), other.grant["token"], b""):
            for kind, body in BODIES.items():
                evil.grant["token"] = token
                evil.send(evil.request(kind, body))
                reply = evil.reply()
                expected = {"rid": evil.rid, "tok": token, "seq": evil.seq}
                assert reply == {**expected, "ok": False, "body": None, "error": "reauth"}, (
                    kind,
                    reply,
                )
        events = collect(listener)
    finally:
        listener.close()
    assert [t for t, _ in events if not t.startswith("hostile-sync/")] == []
    # The grains were not stored either.
    client = cluster.client()
    try:
        data = client.command("minion_data", pattern="evil", pillar=False)
    finally:
        client.close()
    assert "forged" not in str(data), data
    # With its own token the same minion is served as itself, and only itself.
    evil.grant["token"] = own_token
    evil.send(evil.request("file_fetch", BODIES["file_fetch"]))
    assert evil.reply()["body"]["data"] == b"file-secret\n"
    assert_still_serving(cluster, drop=("evil", "other"))
