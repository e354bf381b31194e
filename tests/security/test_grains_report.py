"""Grains reports: an accepted minion reports grains that cost the master to keep.

A 12 MiB report with a million keys held the master's loop for 1.4 s (ten
of them delayed everyone's jobs by 17 s), and grains nested 500 deep raised
a RecursionError logged thousands of lines at a time. A report is now
refused, with one line, when it breaks the inner limits (counted from its
marker bytes before decoding: the request is dropped) or the grains limits
(``max_grains_size``, ``max_grains_objects`` and 16 levels: the minion is
told). The master keeps serving and keeps the minion's last good grains.
"""

from __future__ import annotations

from typing import Any

from fluxforge.testing import Cluster
from fluxforge.testing.attack import (
    RawPeer,
    assert_still_serving,
    enroll,
    start_web1,
    wait_warning,
    warnings_in,
)


def _nested(levels: int) -> dict[str, Any]:
    grains: dict[str, Any] = {"leaf": 1}
    for _ in range(levels):
        grains = {"a": grains}
    return grains


def _cached_grains(cluster: Cluster, minion_id: str) -> Any:
    client = cluster.client()
    try:
        return client.command("minion_data", pattern=minion_id)[minion_id]["grains"]
    finally:
        client.close()


def test_huge_or_deep_grains_are_refused_and_the_master_keeps_serving(
    cluster: Cluster, peers: list[RawPeer]
) -> None:
    start_web1(cluster)
    evil = enroll(peers, cluster)
    evil.send(evil.request("grains", {"grains": {"id": "evil", "os": "Evil"}}))
    assert evil.reply()["ok"] is True

    # Beyond the inner limits: dropped before decoding.
    million = {f"k{i}": "v" * 4 for i in range(1_000_000)}
    evil.send(evil.request("grains", {"grains": million}))
    wait_warning(cluster, "master", "request from evil", "more than 100000 msgpack objects")
    evil.assert_dropped()
    evil.send(evil.request("grains", {"grains": _nested(500)}))
    wait_warning(cluster, "master", "request from evil", "nests containers more than 32")
    evil.assert_dropped()

    # Within them, beyond the grains limits: refused with a reply.
    refusals = [
        ({f"k{i}": i for i in range(20_000)}, "max_grains_objects"),
        (_nested(20), "more than 16 deep"),
        ({"blob": "x" * 2**20}, "max_grains_size"),
    ]
    for grains, reason in refusals:
        evil.send(evil.request("grains", {"grains": grains}))
        reply = evil.reply()
        assert reply["ok"] is False and reason in str(reply["error"]), reply
        wait_warning(cluster, "master", "refused request from evil", reason)

    # One line each, not a traceback or a line per level.
    assert "RecursionError" not in cluster.log("master")
    assert len(warnings_in(cluster, "master")) < 20, warnings_in(cluster, "master")
    assert _cached_grains(cluster, "evil") == {"id": "evil", "os": "Evil"}
    assert_still_serving(cluster, drop=("evil",))


def test_a_minion_does_not_send_grains_its_master_would_drop(cluster: Cluster) -> None:
    # Custom grains 40 levels deep: past the inner limit, so the master would
    # drop the request unanswered; the minion refuses it itself and says why.
    start_web1(cluster)
    cluster.start_minion("deep", grains=_nested(40))
    cluster.accept_and_wait("deep")
    wait_warning(cluster, "deep", "could not send grains", "more than 32 deep; not sent")
    assert "RecursionError" not in cluster.log("master") + cluster.log("deep")
    assert_still_serving(cluster)
