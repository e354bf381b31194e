"""Event injection: a minion's key lets it fire only its own events, never the master's.

Mirrors Salt's CVE-2025-22236 (minion event bus authorization bypass: with
one minion's key, a crafted message could make the master act for other
minions). Every tag under ``ff/`` is reserved; an accepted minion may fire
its own ``ff/minion/<id>/`` and ``ff/beacon/<id>/`` tags and any tag outside
``ff/``, and the master overwrites the event's ``id`` with the id its key
proved. So a compromised minion cannot announce a job, a return of another
minion, a key change or another minion's start: the reactor and ``ff`` read
only what the master itself fired.
"""

from __future__ import annotations

from fluxforge.events import tags
from fluxforge.testing import Cluster
from fluxforge.testing.attack import (
    UNKNOWN_JID,
    RawPeer,
    assert_still_serving,
    collect,
    enroll,
    listen,
    start_web1,
    wait_warning,
)

RESERVED = [
    tags.AUTH,
    tags.KEY,
    tags.MASTER_START,
    tags.PRESENCE_CHANGE,
    tags.PRESENCE_PRESENT,
    tags.job_new(UNKNOWN_JID),
    tags.job_ret(UNKNOWN_JID, "web1"),
    tags.job_prog(UNKNOWN_JID, "web1"),
    "ff/minion/web1/start",
    "ff/minion/evil2/start",
    "ff/beacon/web1/inotify",
    "ff/reactor/run",
    "ff/run/20000101000000000000/new",
    "ff/hook/deploy",
    "ff/",
    "ff/minion/evi",
    "ff/minion/evil",  # its own prefix needs the trailing slash
]


def test_a_minion_cannot_fire_reserved_tags(cluster: Cluster, peers: list[RawPeer]) -> None:
    start_web1(cluster)
    evil = enroll(peers, cluster)
    listener = listen(cluster, "ff/", "evil/", "FF/")
    try:
        for tag in RESERVED:
            evil.send(evil.request("event", {"tag": tag, "data": {"id": "web1", "forged": True}}))
            reply = evil.reply()
            assert reply["ok"] is False, (tag, reply)
            assert "may not fire reserved tag" in str(reply["error"]), (tag, reply)
        wait_warning(cluster, "master", "refused request from evil", "reserved tag")
        # Its own reserved prefix and free tags pass, stamped with its own id.
        allowed = ["ff/minion/evil/custom", "ff/beacon/evil/load", "evil/deploy", "FF/job/x/new"]
        for tag in allowed:
            evil.send(evil.request("event", {"tag": tag, "data": {"id": "web1", "n": 1}}))
            assert evil.reply()["ok"] is True, tag
        events = [(t, d) for t, d in collect(listener) if not t.startswith("hostile-sync/")]
    finally:
        listener.close()
    forged = [(t, d) for t, d in events if d.get("forged")]
    assert forged == [], forged
    mine = [(t, d) for t, d in events if t in allowed]
    assert sorted(t for t, _ in mine) == sorted(allowed), events
    assert all(d["id"] == "evil" for _, d in mine), mine
    # The reserved ones a parser reads back name evil, not web1.
    parsed = tags.parse("ff/minion/evil/custom")
    assert parsed is not None and parsed.minion == "evil"
    assert_still_serving(cluster, drop=("evil",))


def test_tags_are_bounded(cluster: Cluster, peers: list[RawPeer]) -> None:
    start_web1(cluster)
    evil = enroll(peers, cluster)
    for tag in ("", "evil/" + "x" * tags.MAX_TAG_LENGTH):
        evil.send(evil.request("event", {"tag": tag, "data": {}}))
        reply = evil.reply()
        assert reply["ok"] is False and "characters" in str(reply["error"]), reply
    assert_still_serving(cluster, drop=("evil",))
