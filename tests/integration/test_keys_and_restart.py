"""Keys, session key rotation and master restarts, with real processes."""

from __future__ import annotations

import os
import sqlite3

from fluxforge.testing import Cluster, wait_until


def test_ff_key_listing_accept_reject_delete_fingerprints(cluster: Cluster) -> None:
    cluster.start_master()
    cluster.start_minions("k1", "k2", "k3")
    cluster.wait_pending("k1", "k2", "k3")
    assert cluster.keys() == {
        "minions": [],
        "minions_pre": ["k1", "k2", "k3"],
        "minions_rejected": [],
        "minions_denied": [],
    }
    res = cluster.ff_key("-L")
    assert res.stdout.splitlines() == [
        "Accepted Keys:",
        "Denied Keys:",
        "Unaccepted Keys:",
        "k1",
        "k2",
        "k3",
        "Rejected Keys:",
    ]
    res = cluster.ff_key("-a", "k[12]", "-y")
    assert res.returncode == 0 and "Key for minion k1 accepted (fingerprint " in res.stdout, res
    res = cluster.ff_key("-r", "k3", "-y")
    assert "Key for minion k3 rejected (fingerprint " in res.stdout
    keys = cluster.keys()
    assert keys["minions"] == ["k1", "k2"] and keys["minions_rejected"] == ["k3"]
    # An accepted minion answers without a restart (acceptance_wait_time is 1 s).
    cluster.wait_answering("k1", "k2", timeout=10)
    res = cluster.ff("k3", "test.ping")
    assert res.returncode == 3, res

    res = cluster.ff_key("-F", "--out", "json")
    prints = res.json()
    assert set(prints["accepted"]) == {"k1", "k2"}
    assert len(prints["accepted"]["k1"].split(":")) == 32
    res = cluster.ff_key("-f", "k1")
    assert res.stdout.startswith("Accepted Keys:\nk1:  ")

    # Prompts: answering no changes nothing.
    res = cluster.run("ff-key", "-d", "k1", input="n\n")
    assert res.returncode == 1 and "k1" in cluster.keys()["minions"]
    res = cluster.ff_key("-D", "-y")
    assert res.returncode == 0
    keys = cluster.keys()
    assert keys["minions"] == [] and keys["minions_rejected"] == []

    res = cluster.ff_key("-a", "nobody", "-y")
    assert res.returncode == 1 and "no" in res.stderr and "nobody" in res.stderr


def test_ff_key_works_without_a_running_master(cluster: Cluster) -> None:
    cluster.start_master()
    cluster.start_minions("off1")
    cluster.wait_pending("off1")
    cluster.stop_minion("off1")
    assert cluster.stop_master() == 0
    res = cluster.ff_key("-A", "-y")
    assert res.returncode == 0 and "off1 accepted" in res.stdout, res
    assert (cluster.pki_dir / "minions" / "off1").exists()
    assert cluster.keys()["minions"] == ["off1"]


def test_ff_key_exit_code_follows_the_error_class_with_or_without_a_master(
    cluster: Cluster,
) -> None:
    # A pending key file that is not a key: reading it is a KeyStoreError (exit 2),
    # whether ff-key reads the store itself or the master reads it for ff-key.
    pending = cluster.pki_dir / "minions_pre"
    pending.mkdir(parents=True)
    os.chmod(cluster.pki_dir, 0o700)  # or the master refuses to start
    (pending / "broken1").write_text("not a key\n")
    alone = cluster.ff_key("-f", "broken1")
    assert alone.returncode == 2 and "not a base64 key" in alone.stderr, alone
    cluster.start_master()
    served = cluster.ff_key("-f", "broken1")
    assert served.returncode == 2 and "not a base64 key" in served.stderr, served
    assert served.stderr == alone.stderr
    assert len(served.stderr.strip().splitlines()) == 1 and "Traceback" not in served.stderr
    # The master stays up and serves the next command.
    assert cluster.ff_key("-L").returncode == 0


def test_rotation_loses_no_job_and_locks_out_the_removed_minion(cluster: Cluster) -> None:
    cluster.start_master()
    cluster.start_minions("r1", "r2", "r3")
    cluster.accept_and_wait()
    r2 = cluster.watch("r2")
    res = cluster.ff_key("-d", "r2", "-y")
    assert res.returncode == 0
    # The very first job after the rotation is answered by every remaining minion.
    res = cluster.ff("*", "test.ping", "--out", "json", "-t", "5")
    assert res.returncode == 0, res
    assert res.json() == {"r1": True, "r3": True}
    # r2 got that publication too, under a session key it can no longer fetch.
    r2.wait_for("cannot fetch the new session key", timeout=15)
    r2.wait_for("dropped a publication of unknown key", timeout=15)
    # r2 runs nothing sent after its removal, even addressed to it by name.
    after = cluster.watch("r2")
    jid = cluster.ff("-L", "r1,r2,r3", "test.echo", "after", "--async").stdout.strip()
    job = cluster.wait_returns(jid, 2, timeout=10)
    # A broadcast after it reaches r2 after the job would have: once r2 has dropped
    # a publication since, it has dealt with the job (if it got it at all).
    res = cluster.ff("*", "test.ping", "--out", "json")
    assert res.json() == {"r1": True, "r3": True}, res
    after.wait_for("dropped a publication of unknown key", timeout=15)
    assert f"running job {jid}" not in cluster.log("r2")
    assert sorted(job["returns"]) == ["r1", "r3"], job
    # Rejecting an accepted key rotates too.
    res = cluster.ff_key("-r", "r3", "--include-accepted", "-y")
    assert "r3 rejected" in res.stdout, res
    res = cluster.ff("*", "test.ping", "--out", "json")
    assert res.json() == {"r1": True}


def test_master_restart_minions_come_back_and_cache_survives(cluster: Cluster) -> None:
    cluster.start_master()
    cluster.start_minions("m1", "m2")
    cluster.accept_and_wait()
    jid = cluster.ff("*", "test.echo", "before", "--async").stdout.strip()
    cluster.wait_returns(jid, 2)
    assert cluster.stop_master() == 0
    cluster.start_master()

    def both_answer() -> bool:
        res = cluster.ff("*", "test.ping", "--out", "json", "-t", "2")
        return res.returncode == 0 and res.json() == {"m1": True, "m2": True}

    wait_until(both_answer, 10, what="m1 and m2 to answer after the master restarted")
    conn = sqlite3.connect(cluster.root / "master/var/cache/fluxforge/master/jobs.sqlite")
    try:
        assert conn.execute("SELECT count(*) FROM returns WHERE jid = ?", (jid,)).fetchone() == (2,)
    finally:
        conn.close()


def test_daemon_startup_errors_are_one_line_exit_2(cluster: Cluster) -> None:
    cluster.master_conf.write_text("master:\n  publsh_port: 1\n")
    res = cluster.run("ff-master", "-c", str(cluster.master_conf))
    assert res.returncode == 2
    assert "did you mean 'publish_port'" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1

    cluster.write_master_conf()
    cluster.start_master()
    # A second master on the same ports: port in use.
    other = cluster.root / "other.conf"
    other.write_text(
        f"master:\n  root_dir: {cluster.root}/other\n  interface: 127.0.0.1\n"
        f"  publish_port: {cluster.publish_port}\n  ret_port: {cluster.ret_port}\n"
    )
    res = cluster.run("ff-master", "-c", str(other))
    assert res.returncode == 2 and "already in use" in res.stderr, res

    # An unreadable minion key.
    conf = cluster.minion_conf("bad1")
    pki = cluster.minion_root("bad1") / "etc/fluxforge/pki/minion"
    pki.mkdir(parents=True)
    os.chmod(pki, 0o700)
    (pki / "minion.key").write_text("not a key\n")
    os.chmod(pki / "minion.key", 0o600)
    res = cluster.run("ff-minion", "-c", str(conf))
    assert res.returncode == 2 and "minion.key" in res.stderr, res
    assert "Traceback" not in res.stderr

    res = cluster.run("ff", "-c", "/nonexistent.conf", "*", "test.ping")
    assert res.returncode == 2 and "no such config file" in res.stderr


def test_ff_call_local_needs_no_master(cluster: Cluster) -> None:
    conf = cluster.minion_conf("solo", grains={"role": "lonely"})
    res = cluster.run("ff-call", "-c", str(conf), "--local", "grains.items", "--out", "json")
    assert res.returncode == 0, res
    grains = res.json()["local"]
    assert grains["id"] == "solo" and grains["role"] == "lonely"
    assert isinstance(grains["mem_total"], int) and "127.0.0.1" in grains["ipv4"]
    res = cluster.run("ff-call", "-c", str(conf), "--local", "cmd.run", "exit 3")
    assert res.returncode == 1
    res = cluster.run("ff-call", "-c", str(conf), "--local", "test.echo", "hi")
    assert res.stdout == "local:\n    hi\n"
