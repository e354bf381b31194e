"""End to end: real ff-master and ff-minion processes driven by the real CLI."""

from __future__ import annotations

import sqlite3
import time

from fluxforge.testing import Cluster, wait_until


def test_ping_cmd_and_exit_codes(cluster: Cluster) -> None:
    cluster.start_master()
    cluster.start_minions("web1", "web2", "db1")
    cluster.accept_and_wait()

    res = cluster.ff("*", "test.ping", "--out", "json")
    assert res.returncode == 0, res
    assert res.json() == {"web1": True, "web2": True, "db1": True}

    res = cluster.ff("web*", "cmd.run", "echo $((6*7))")
    assert res.returncode == 0, res
    assert "web1:\n    42\n" in res.stdout and "web2:\n    42\n" in res.stdout
    assert "db1" not in res.stdout

    res = cluster.ff("-L", "web1,db1", "cmd.run_all", "ls /nope", "--out", "json")
    assert res.returncode == 1, res
    out = res.json()
    assert set(out) == {"web1", "db1"}
    assert out["web1"]["retcode"] != 0 and "/nope" in out["web1"]["stderr"]

    res = cluster.ff("-E", "^web[0-9]+$", "test.echo", "hello", "--out", "json")
    assert res.json() == {"web1": "hello", "web2": "hello"}

    # cmd.run's parameter is declared str: `true` is the command, not a boolean.
    res = cluster.ff("db1", "cmd.run", "true", "--out", "json")
    assert res.returncode == 0 and res.json() == {"db1": ""}, res

    res = cluster.ff("nomatch*", "test.ping")
    assert res.returncode == 3 and "No minions matched" in res.stderr

    res = cluster.ff("web1", "cmd.rnu", "true", "--out", "json")
    assert res.returncode == 1
    assert "did you mean 'cmd.run'" in res.json()["web1"]

    res = cluster.ff("web1", "test.arg", "3", "x=[a, b]", "y=2024-01-01", "--out", "json")
    assert res.json()["web1"] == {"args": [3], "kwargs": {"x": ["a", "b"], "y": "2024-01-01"}}

    res = cluster.ff("web1", "test.retcode", "5")
    assert res.returncode == 1

    res = cluster.ff("-C", "E@^web and not web2", "test.ping", "--out", "json")
    assert res.returncode == 0 and res.json() == {"web1": True}, res

    res = cluster.ff("-E", "([", "test.ping")
    assert res.returncode == 2 and "regular expression" in res.stderr

    res = cluster.ff("*", "test.ping", "--async")
    assert res.returncode == 0 and len(res.stdout.strip()) == 20


def test_returns_recorded_in_job_cache_and_events(cluster: Cluster) -> None:
    cluster.start_master()
    cluster.start_minions("a1")
    cluster.accept_and_wait()
    client = cluster.client()
    listener = client.listen()  # live: the master's sync event came through it
    try:
        res = cluster.ff("a1", "test.echo", "cached", "--async")
        jid = res.stdout.strip()
        tags = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and f"ff/job/{jid}/ret/a1" not in tags:
            event = listener.get(1.0)
            if event:
                tags.append(event[0])
                if event[0] == f"ff/job/{jid}/ret/a1":
                    ret = event[1]
    finally:
        listener.close()
        client.close()
    assert f"ff/job/{jid}/new" in tags
    assert f"ff/job/{jid}/ret/a1" in tags
    assert set(ret) == {
        "jid",
        "id",
        "fun",
        "fun_args",
        "return",
        "retcode",
        "success",
        "duration",
    }
    assert ret["return"] == "cached" and ret["fun_args"] == ["cached"] and ret["success"]
    # The job cache commits in batches a few milliseconds after the event.
    db = cluster.root / "master/var/cache/fluxforge/master/jobs.sqlite"
    conn = sqlite3.connect(db)
    try:
        rows = wait_until(
            lambda: conn.execute("SELECT id FROM returns WHERE jid = ?", (jid,)).fetchall(),
            5,
            what=f"the return of job {jid} in jobs.sqlite",
        )
        assert rows == [("a1",)]
    finally:
        conn.close()


def test_long_job_heartbeats_keep_client_waiting(cluster: Cluster) -> None:
    cluster.start_master()
    cluster.start_minions("s1", "s2")
    cluster.accept_and_wait()
    cluster.stop_minion("s2")
    start = time.monotonic()
    res = cluster.ff("*", "test.sleep", "4", "-t", "2", "--out", "json")
    elapsed = time.monotonic() - start
    # s1 ran past the 2 s timeout but kept sending heartbeats; s2 is gone.
    assert res.json() == {"s1": True}, res
    assert res.returncode == 4
    assert "s2" in res.stderr
    assert elapsed >= 4.0


def test_targeted_jobs_reach_only_their_minions(cluster: Cluster) -> None:
    cluster.start_master()
    cluster.start_minions("t1", "t2")
    cluster.accept_and_wait()
    t1, t2 = cluster.watch("t1"), cluster.watch("t2")
    glob_jid = cluster.ff("t1", "test.ping", "--async").stdout.strip()
    list_jid = cluster.ff("-L", "t1", "test.ping", "--async").stdout.strip()
    t1.wait_for(f"running job {glob_jid}", timeout=10)
    t1.wait_for(f"running job {list_jid}", timeout=10)
    # A broadcast published after them reaches t2 after they would have (one
    # connection, in order): once t2 runs it, t2 has seen all it was going to.
    fence = cluster.ff("*", "test.ping", "--async").stdout.strip()
    t2.wait_for(f"running job {fence}", timeout=10)
    # Both resolve to t1 alone, so both are sealed to t1 on its topic: t2 never
    # even receives them.
    assert glob_jid not in cluster.log("t2") and list_jid not in cluster.log("t2")
