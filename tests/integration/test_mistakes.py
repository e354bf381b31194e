"""Mistakes a user makes get a clear error, never a silent wrong result (issue 11, point 7)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from pathlib import Path

from fluxforge.events import PID_NAME
from fluxforge.master.ports import read_ports
from fluxforge.testing import Cluster, wait_until
from fluxforge.testing.cluster import command


def test_second_master_on_the_same_config_refuses_and_leaves_the_first_alone(
    cluster: Cluster,
) -> None:
    first = cluster.start_master()
    cluster.start_minion("web1")
    cluster.accept_and_wait("web1")
    sock_dir = Path(cluster.sock_dir)
    sockets = {p.name: p.stat().st_ino for p in sock_dir.glob("*.ipc")}
    assert len(sockets) == 3

    second = cluster.run("ff-master", "-c", str(cluster.master_conf), timeout=30)
    assert second.returncode == 2, second
    errors = [line for line in second.stderr.splitlines() if line.strip()]
    assert errors == [
        f"Error: another master (pid {first.pid}) is running on sock_dir {sock_dir}: "
        "stop it first, or give this master its own root_dir or sock_dir"
    ], second

    # The first master's sockets (the same files, not replacements), pid file
    # and ports report are untouched, and it still serves.
    assert {p.name: p.stat().st_ino for p in sock_dir.glob("*.ipc")} == sockets
    assert (sock_dir / PID_NAME).read_text() == f"{first.pid}\n"
    assert read_ports(cluster.sock_dir) == cluster.ports
    res = cluster.ff("web1", "test.ping", "--out", "json")
    assert res.returncode == 0 and res.json() == {"web1": True}, res
    assert first.poll() is None

    # Once the first has stopped, the lock is free again.
    assert cluster.stop_master() == 0
    cluster.start_master()


def test_daemons_refuse_a_file_without_their_section_or_a_salt_flat_file(
    cluster: Cluster,
) -> None:
    minion_only = cluster.minion_conf("web1")
    res = cluster.run("ff-master", "-c", str(minion_only), timeout=30)
    assert res.returncode == 2 and res.stderr.splitlines() == [
        f"Error: {minion_only}: no master: section (it has only minion:); add a line "
        "'master:' and indent the master's options under it (an empty 'master:' takes "
        "every default)"
    ], res
    res = cluster.run("ff-minion", "-c", str(cluster.master_conf), timeout=30)
    assert res.returncode == 2 and "no minion: section (it has only master:)" in res.stderr, res
    flat = cluster.root / "salt-minion.conf"
    flat.write_text("master: 127.0.0.1\nid: web1\n")
    res = cluster.run("ff-minion", "-c", str(flat), timeout=30)
    assert res.returncode == 2 and res.stderr.splitlines() == [
        f"Error: {flat}: top-level 'master: 127.0.0.1' looks like a Salt minion file; here "
        "the minion's options go under a section: add 'minion:' and indent 'master:' and "
        "the other options under it"
    ], res
    assert not Path(cluster.sock_dir).exists()  # nothing was started


def test_ff_key_before_any_master_ran_is_an_error_and_creates_no_key_store(
    cluster: Cluster,
) -> None:
    res = cluster.ff_key("-L")
    assert res.returncode == 2 and res.stderr.splitlines() == [
        f"Error: no master has run with {cluster.master_conf}: its pki_dir "
        f"{cluster.pki_dir} does not exist; start ff-master first, or pass -c PATH to "
        "the master's config"
    ], res
    assert not (cluster.root / "master").exists()


def test_list_target_names_unknown_ids_and_no_match_names_pending_keys(
    cluster: Cluster,
) -> None:
    cluster.start_master()
    cluster.start_minion("web1")
    cluster.accept_and_wait("web1")
    cluster.start_minion("web9")
    cluster.wait_pending("web9")

    res = cluster.ff("-L", "web1,nosuch", "test.ping", "--out", "json")
    assert res.returncode == 4, res
    assert res.json() == {"web1": True}
    assert res.stderr.splitlines() == ["No accepted minion with id: nosuch"], res

    res = cluster.ff("-L", "nosuch,web9,web1", "test.ping", "--out", "json")
    assert res.returncode == 4, res
    assert res.stderr.splitlines() == [
        "No accepted minion with id: nosuch, web9 (pending, not yet accepted)"
    ], res

    res = cluster.ff("-L", "web1,nosuch", "-b", "1", "test.ping", "--out", "json")
    assert res.returncode == 4 and "No accepted minion with id: nosuch" in res.stderr, res

    hint = (
        "No minions matched the target; nothing was run. It matches 1 pending key(s), "
        "not yet accepted: web9 (see ff-key -L; accept with ff-key -a ID)."
    )
    res = cluster.ff("web9*", "test.ping")
    assert res.returncode == 3 and res.stderr.splitlines() == [hint], res
    res = cluster.ff("-b", "1", "web9", "test.ping")
    assert res.returncode == 3 and res.stderr.splitlines() == [hint], res
    res = cluster.ff("db*", "test.ping")
    assert res.returncode == 3 and res.stderr.splitlines() == [
        "No minions matched the target; nothing was run."
    ], res


def test_ff_into_a_closed_pipe_exits_quietly(cluster: Cluster) -> None:
    cluster.start_master()
    cluster.start_minion("web1")
    cluster.accept_and_wait("web1")
    for args in (["*", "test.ping"], ["*", "test.ping", "--out", "json"]):
        read_end, write_end = os.pipe()
        os.close(read_end)  # the reader has gone before ff writes its first line
        try:
            proc = subprocess.run(
                [*command("ff"), *args],
                stdout=write_end,
                stderr=subprocess.PIPE,
                env=cluster.env,
                timeout=60,
                check=False,
            )
        finally:
            os.close(write_end)
        assert proc.stderr == b"" and proc.returncode == 141, proc


def test_ctrl_c_during_a_job_prints_its_jid(cluster: Cluster) -> None:
    cluster.start_master()
    cluster.start_minion("web1")
    cluster.accept_and_wait("web1")
    proc = subprocess.Popen(
        [*command("ff"), "-v", "web1", "test.sleep", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cluster.env,
        text=True,
    )
    try:
        assert proc.stderr is not None
        started = proc.stderr.readline()
        found = re.match(r"Executing job with jid (\d{20}) on 1 minion", started)
        assert found, started
        jid = found.group(1)
        # The job runs on the minion before the interrupt comes.
        wait_until(lambda: jid in cluster.log("web1"), 20, what="web1 to start the job")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert proc.returncode == 130
    assert err.splitlines() == [
        f"Error: interrupted: job {jid} goes on running on the minions; their returns are "
        "kept in the master's job cache under that jid"
    ], err
    assert cluster.job(jid) is not None


def test_a_minion_stopped_during_a_job_returns_it_as_aborted(cluster: Cluster) -> None:
    cluster.start_master()
    cluster.start_minion("web1")
    cluster.accept_and_wait("web1")
    proc = subprocess.Popen(
        [*command("ff"), "-v", "web1", "test.sleep", "60", "--out", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cluster.env,
        text=True,
    )
    try:
        assert proc.stderr is not None
        found = re.match(r"Executing job with jid (\d{20})", proc.stderr.readline())
        assert found
        jid = found.group(1)
        wait_until(lambda: jid in cluster.log("web1"), 20, what="web1 to start the job")
        log = cluster.watch("web1")
        assert cluster.stop_minion("web1") == 0
        log.wait_for(rf"job {jid} aborted by the stop", 10)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert proc.returncode == 1, err
    assert json.loads(out) == {"web1": "aborted: the minion was stopped while the job ran"}
    ret = cluster.job(jid)
    assert ret is not None and ret["returns"]["web1"]["retcode"] == 1, ret
