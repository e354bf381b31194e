"""The swarm: many real minions in a few processes, against a real master."""

from __future__ import annotations

import sqlite3
from collections import Counter

from fluxforge.testing import Cluster

COUNT = 200


def test_swarm_every_minion_returns_once(cluster: Cluster) -> None:
    cluster.write_master_conf(auto_accept=True)
    cluster.start_master()
    cluster.start_swarm(COUNT, prefix="sw", procs=2)
    cluster.wait_count("sw*", COUNT, timeout=90)
    assert len(cluster.keys()["minions"]) == COUNT

    res = cluster.ff("sw*", "cmd.run", "echo $((40+2))", "--out", "json", "-t", "10")
    assert res.returncode == 0, res
    out = res.json()
    assert sorted(out) == sorted(f"sw{i}" for i in range(COUNT))
    assert set(out.values()) == {"42"}

    # A list target reaches exactly the named minions.
    named = [f"sw{i}" for i in range(0, COUNT, 7)]
    res = cluster.ff("-L", ",".join(named), "test.echo", "hi", "--out", "json")
    assert res.returncode == 0 and sorted(res.json()) == sorted(named), res

    # Returns are neither lost nor duplicated in the job cache.
    jids = []
    for _ in range(3):
        jids.append(cluster.ff("sw*", "test.ping", "--async").stdout.strip())
    for jid in jids:
        job = cluster.wait_returns(jid, COUNT, timeout=30)
        assert sorted(job["returns"]) == sorted(job["minions"])
        assert len(job["minions"]) == COUNT
    db = cluster.root / "master/var/cache/fluxforge/master/jobs.sqlite"
    conn = sqlite3.connect(db)
    try:
        for jid in jids:
            rows = conn.execute("SELECT id FROM returns WHERE jid = ?", (jid,)).fetchall()
            per_minion = Counter(r[0] for r in rows)
            assert len(per_minion) == COUNT and set(per_minion.values()) == {1}
    finally:
        conn.close()
