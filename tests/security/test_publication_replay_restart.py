"""Replay of a publication to a restarted minion (Salt's CVE-2022-22936: job publishes replayed).

An attacker on the path between master and minion records a genuine
publication and sends it again after the minion restarts. The minion's
window of jids seen lived only in memory, and the floor it set at auth
(the master's clock minus a grace) lets anything from the last minute
through, so the job ran a second time. The minion now keeps its replay
floor in its cachedir and refuses what it had accepted before the restart.
"""

from __future__ import annotations

from fluxforge.protocol import wire
from fluxforge.testing import Cluster
from fluxforge.testing.attack import PubProxy


def test_a_publication_from_before_a_restart_is_not_run_again(cluster: Cluster) -> None:
    cluster.start_master()
    proxy = PubProxy(f"tcp://127.0.0.1:{cluster.publish_port}")
    try:
        cluster.start_minion("web1", publish_port=proxy.port)
        cluster.accept_and_wait("web1")
        out = cluster.root / "replay-out"
        before = len(proxy.frames())
        res = cluster.ff("web1", "cmd.run", f"echo x >> {out}", "--out", "json")
        assert res.returncode == 0 and res.json() == {"web1": ""}, res
        captured = proxy.frames()[before:]
        assert len(captured) == 1, captured
        assert out.read_text() == "x\n"

        watch = cluster.watch("web1")
        assert cluster.stop_minion("web1") == 0
        cluster.start_minion("web1", publish_port=proxy.port)
        watch.wait_for(r"authenticated with master", timeout=20)
        # A job through the proxy: the restarted minion's subscription is live.
        res = cluster.ff("web1", "test.ping", "--out", "json", "-t", "10")
        assert res.returncode == 0 and res.json() == {"web1": True}, res

        proxy.inject(captured[0], topic=wire.minion_topic("web1"))
        watch.wait_for(r"\[WARNING\].*dropped replayed job \d{20}", timeout=10)
        assert out.read_text() == "x\n"
        res = cluster.ff("web1", "test.ping", "--out", "json", "-t", "10")
        assert res.returncode == 0 and res.json() == {"web1": True}, res
        assert out.read_text() == "x\n"
        assert "Traceback" not in cluster.log("web1")
    finally:
        proxy.close()
