"""End to end: grains, pillar and every targeting form with real processes and the real CLI."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import psutil
import pytest

from fluxforge.testing import Cluster, wait_until

GRAINS = {
    "web1": {"roles": ["web", "app"], "tier": "gold"},
    "web2": {"roles": ["web"], "tier": "silver"},
    "db1": {"roles": ["db"], "tier": "Gold"},
}

PILLAR = {
    "top.sls": """
        base:
          '*':
            - common
          'roles:web':
            - match: grain
            - web
          db1:
            - db
        """,
    "common.sls": """
        site: {{ grains['id'] }}-site
        app:
          version: 2
          owner: ops
        """,
    "web.sls": """
        role_pillar: web
        app:
          version: 3
        secret: web-s3cret-{{ grains['id'] }}
        """,
    "db.sls": """
        role_pillar: db
        """,
}

NODEGROUPS = {"webs": "G@roles:web", "golds": ["web1", "db1"], "mixed": "N@webs and N@golds"}


def start_three(cluster: Cluster, **master_opts: Any) -> None:
    cluster.write_master_conf(nodegroups=NODEGROUPS, **master_opts)
    cluster.write_tree(cluster.pillar_root, PILLAR)
    cluster.start_master()
    for minion_id, grains in GRAINS.items():
        cluster.start_minion(minion_id, grains=grains)
    cluster.accept_and_wait(*GRAINS)


def targeted(cluster: Cluster, *args: str) -> set[str]:
    """The ids that answered ``test.ping`` for a target given as ff arguments."""
    res = cluster.ff(*args, "test.ping", "--out", "json")
    assert res.returncode == 0, res
    return set(res.json())


def wait_subscribed(cluster: Cluster, *ids: str, timeout: float = 10.0) -> None:
    """Wait until each minion's subscriber is connected to the master's publisher again.

    Nothing in the product says so without a job (and a job would make the
    minions re-authenticate, which the caller must avoid), so look at both
    ends of the TCP connection: the minion's, and the master's, which a
    process only holds once zmq's I/O thread has accepted it. The
    subscription is the next thing the minion sends, in the handshake that
    the accept starts.
    """
    assert cluster.master is not None
    master = psutil.Process(cluster.master.pid)

    def connected() -> bool:
        accepted = {
            c.raddr.port
            for c in master.net_connections("tcp")
            if c.raddr and c.laddr.port == cluster.publish_port
        }
        return all(
            any(
                c.raddr and c.raddr.port == cluster.publish_port and c.laddr.port in accepted
                for c in psutil.Process(cluster.minions[m].pid).net_connections("tcp")
            )
            for m in ids
        )

    wait_until(connected, timeout, what=f"{', '.join(ids)} to reconnect to the publisher")


def test_every_targeting_form(cluster: Cluster) -> None:
    start_three(cluster)

    assert targeted(cluster, "-G", "roles:web") == {"web1", "web2"}
    assert targeted(cluster, "-G", "tier:gold") == {"web1", "db1"}  # case-insensitive
    assert targeted(cluster, "-P", "roles:^d") == {"db1"}
    assert targeted(cluster, "-I", "role_pillar:web") == {"web1", "web2"}
    assert targeted(cluster, "-J", "app:version:^3$") == {"web1", "web2"}
    assert targeted(cluster, "-S", "127.0.0.0/8") == {"web1", "web2", "db1"}
    assert targeted(cluster, "-N", "webs") == {"web1", "web2"}
    assert targeted(cluster, "-N", "golds") == {"web1", "db1"}
    assert targeted(cluster, "-N", "mixed") == {"web1"}
    assert targeted(cluster, "-C", "G@roles:web and not L@web2") == {"web1"}
    assert targeted(cluster, "-C", "(G@tier:gold or E@^web2$) and not db1") == {"web1", "web2"}
    assert targeted(cluster, "-C", "I@role_pillar:db or S@127.0.0.1") == {"web1", "web2", "db1"}

    res = cluster.ff("-S", "10.255.255.0/24", "test.ping")
    assert res.returncode == 3, res
    res = cluster.ff("-C", "G@roles:web and", "test.ping")
    assert res.returncode == 2 and "position" in res.stderr, res
    res = cluster.ff("-N", "nosuch", "test.ping")
    assert res.returncode == 2 and "nosuch" in res.stderr, res

    # The minions decide the same way through match.*.
    res = cluster.ff("*", "match.grain", "roles:web", "--out", "json")
    assert res.json() == {"web1": True, "web2": True, "db1": False}, res
    res = cluster.ff("*", "match.compound", "I@role_pillar:db or web2", "--out", "json")
    assert res.json() == {"web1": False, "web2": True, "db1": True}, res

    # Each minion has its own pillar, merged in top order.
    res = cluster.ff("*", "pillar.items", "--out", "json")
    pillars = res.json()
    assert pillars["web1"] == {
        "site": "web1-site",
        "app": {"version": 3, "owner": "ops"},
        "role_pillar": "web",
        "secret": "web-s3cret-web1",
    }
    assert pillars["db1"] == {
        "site": "db1-site",
        "app": {"version": 2, "owner": "ops"},
        "role_pillar": "db",
    }
    res = cluster.ff("web2", "pillar.get", "app:owner", "--out", "json")
    assert res.json() == {"web2": "ops"}
    res = cluster.ff("web2", "pillar.get", "nope:x", "default=zz", "--out", "json")
    assert res.json() == {"web2": "zz"}


def test_grain_changes_persist_and_retarget(cluster: Cluster) -> None:
    cluster.start_master()
    cluster.start_minion("db1", grains=GRAINS["db1"])
    cluster.accept_and_wait("db1")

    res = cluster.ff("db1", "grains.setval", "deploy", "[blue, green]", "--out", "json")
    assert res.json() == {"db1": {"deploy": ["blue", "green"]}}, res
    # The master has the new grains before the job's return is in.
    assert targeted(cluster, "-G", "deploy:green") == {"db1"}
    res = cluster.ff("db1", "grains.setval", "cores", "4")
    res = cluster.ff("db1", "grains.get", "cores", "--out", "json")
    assert res.json() == {"db1": 4}, res

    cluster.stop_minion("db1")
    cluster.start_minion("db1", grains=GRAINS["db1"])
    cluster.wait_answering("db1")
    res = cluster.ff("db1", "grains.get", "deploy", "--out", "json")
    assert res.json() == {"db1": ["blue", "green"]}, res

    # The master's cache survives a restart; data cached before the restart
    # may be stale, so the master does not decide on it: db1 (down) is asked,
    # and reported as undecided rather than skipped.
    cluster.stop_minion("db1")
    cluster.stop_master()
    cluster.start_master()
    client = cluster.client()
    try:
        cached = client.command("minion_data", pattern="db1")
    finally:
        client.close()
    assert cached["db1"]["grains"]["deploy"] == ["blue", "green"]
    assert cached["db1"]["current"] is False
    res = cluster.ff("-G", "deploy:green", "test.ping", "-t", "1")
    assert res.returncode == 3 and "did not answer" in res.stderr and "db1" in res.stderr, res

    cluster.start_minion("db1", grains=GRAINS["db1"])
    cluster.wait_answering("db1")
    res = cluster.ff("db1", "grains.delval", "deploy", "destructive=True", "force=True")
    assert res.returncode == 0, res
    res = cluster.ff("-G", "deploy:green", "test.ping")
    assert res.returncode == 3, res


def test_pillar_errors_are_reported_and_values_never_logged(cluster: Cluster) -> None:
    cluster.write_master_conf(ext_pillar=[{"file_tree": {"root": "ext"}}])
    cluster.write_tree(
        cluster.pillar_root,
        {
            "top.sls": "base:\n  '*':\n    - creds\n",
            "creds.sls": "password: hunter2-secret\nbad: {{ nosuch.attr( }}\n",
        },
    )
    cluster.write_tree(Path(cluster.master_opts["root_dir"]) / "ext", {"web1.yaml": "ext_key: 1\n"})
    cluster.start_master()
    cluster.start_minions("web1", "web2")
    cluster.accept_and_wait("web1", "web2")

    res = cluster.ff("web1", "pillar.items")
    assert res.returncode == 1, res
    assert "creds.sls" in res.stdout and "line 2" in res.stdout, res

    (cluster.pillar_root / "creds.sls").write_text("password: hunter2-secret\n")
    res = cluster.ff("*", "ffutil.refresh_pillar")
    assert res.returncode == 0, res
    res = cluster.ff("*", "pillar.items", "--out", "json")
    assert res.json() == {
        "web1": {"password": "hunter2-secret", "ext_key": 1},
        "web2": {"password": "hunter2-secret"},
    }, res

    master_log = cluster.log("master")
    assert "creds.sls" in master_log
    for name in ("master", "web1", "web2"):
        assert "hunter2" not in cluster.log(name), name


def test_sync_custom_modules_and_grains_and_manage_jobs(cluster: Cluster) -> None:
    cluster.write_tree(
        cluster.file_root,
        {
            "_modules/hello.py": '''
                def world(name: str = "x") -> str:
                    """Greet ``name``."""
                    return f"hello {name}"
                ''',
            "_grains/extra.py": """
                def extra():
                    return {"synced_grain": "yes"}
                """,
        },
    )
    cluster.start_master()
    cluster.start_minions("web1", "web2")
    cluster.accept_and_wait("web1", "web2")

    res = cluster.ff("*", "hello.world", "bob")
    assert res.returncode == 1, res
    res = cluster.ff("*", "ffutil.sync_all", "--out", "json")
    assert res.returncode == 0, res
    for synced in res.json().values():
        assert synced["modules"] == ["modules.hello"]
        assert synced["grains"] == ["grains.extra"]
    res = cluster.ff("*", "hello.world", "bob", "--out", "json")
    assert res.json() == {"web1": "hello bob", "web2": "hello bob"}, res
    assert targeted(cluster, "-G", "synced_grain:yes") == {"web1", "web2"}

    # A removed module disappears at the next sync (which lists only what it copied).
    (cluster.file_root / "_modules/hello.py").unlink()
    res = cluster.ff("web1", "ffutil.sync_modules", "--out", "json")
    assert res.json() == {"web1": []}, res
    assert cluster.ff("web1", "hello.world").returncode == 1

    # test.sleep is the long-running job to find and kill, not a wait.
    res = cluster.ff("web1", "test.sleep", "30", "--async")
    jid = res.stdout.strip()

    def running() -> bool:
        jobs = cluster.ff("web1", "ffutil.running", "--out", "json").json()["web1"]
        return any(job["jid"] == jid for job in jobs)

    wait_until(running, 10, interval=0.1, what=f"job {jid} to show in ffutil.running")
    found = cluster.ff("web1", "ffutil.find_job", jid, "--out", "json").json()["web1"]
    assert found["fun"] == "test.sleep" and found["jid"] == jid
    res = cluster.ff("web1", "ffutil.kill_job", jid)
    assert res.returncode == 0, res
    job = cluster.wait_returns(jid, 1, timeout=10)
    assert "cancelled" in job["returns"]["web1"]["return"]
    assert cluster.ff("web1", "ffutil.find_job", jid, "--out", "json").json() == {"web1": {}}


@pytest.mark.parametrize("cache", ["deleted", "stale"])
def test_minions_the_master_knows_nothing_about_decide_for_themselves(
    cluster: Cluster, cache: str
) -> None:
    cluster.start_master()
    cluster.start_minion("web1", grains=GRAINS["web1"])
    cluster.start_minion("db1", grains=GRAINS["db1"])
    cluster.accept_and_wait("web1", "db1")
    cluster.stop_master()
    if cache == "deleted":
        cachedir = Path(cluster.master_opts["root_dir"]) / "var/cache/fluxforge/master"
        for name in os.listdir(cachedir):
            if name.startswith("minions.sqlite"):
                (cachedir / name).unlink()
    # "stale": the cache is there, but the minions have not authenticated with
    # the restarted master, so what it holds may be out of date.
    cluster.start_master()
    # No job may reach the minions before this one (a job makes them
    # re-authenticate and send grains), so wait for their subscriptions to
    # reconnect by looking at their sockets.
    wait_subscribed(cluster, "web1", "db1")

    # The master cannot tell whom -G selects, so every minion decides; db1
    # does not match and stays silent without counting as missing.
    res = cluster.ff("-G", "roles:web", "test.ping", "-t", "2", "--out", "json")
    assert res.returncode == 0, res
    assert res.json() == {"web1": True}
    assert "did not answer" in res.stderr and "db1" in res.stderr, res

    # Meanwhile both minions re-authenticated and sent their grains.
    res = cluster.ff("-G", "roles:web", "test.ping", "--out", "json")
    assert res.returncode == 0 and res.json() == {"web1": True}, res
    assert "did not answer" not in res.stderr, res
