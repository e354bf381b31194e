"""Catastrophic backtracking: an operator's ``-P`` regex meets a grain a hostile minion chose.

The master resolves grain-regex targets against the grains minions report,
and used to run the regex with Python's ``re`` on its event loop: a pattern
such as ``(a|aa)+$`` against a grain of sixty ``a`` and a ``!`` takes
longer than anyone waits, and the master answered nobody meanwhile. Target
regexes now run with a CPU-time bound per match (``target_regex_timeout``)
and the GIL released, and the master resolves targets in a worker thread: a
match out of time is no match, logged once, and every other job flows.
"""

from __future__ import annotations

import subprocess

from fluxforge.testing import Cluster
from fluxforge.testing.cluster import command

HOSTILE = "a" * 60 + "!"
REGEX = "(a|aa)+$"


def test_a_catastrophic_grain_regex_neither_hangs_ff_nor_stops_other_jobs(
    cluster: Cluster,
) -> None:
    # A generous bound on the master, so the hostile resolution is still
    # running while the other job is served.
    cluster.write_master_conf(target_regex_timeout=1.0)
    cluster.start_master()
    cluster.start_minion("evil", grains={"location": HOSTILE})
    cluster.start_minion("web1", grains={"location": "paris"})
    cluster.accept_and_wait("evil", "web1")
    master_log = cluster.watch("master")
    evil_log = cluster.watch("evil")
    # The hostile job runs while another operator's job goes on beside it.
    argv = ["-C", f"P@location:{REGEX} or web1", "test.ping", "-t", "10", "--out", "json"]
    hostile = subprocess.Popen(
        [*command("ff"), *argv],
        env=cluster.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The master is answering: a resolve waits on no regex of hostile data.
        other = cluster.ff("*", "test.ping", "-t", "10", "--out", "json", timeout=40)
        assert other.returncode == 0, other
        assert other.json() == {"evil": True, "web1": True}
        # ff gives up on the master after 30 s; a master stuck in the regex
        # would make it exit 2 (or never), not answer for web1.
        out, err = hostile.communicate(timeout=45)
    finally:
        if hostile.poll() is None:
            hostile.kill()
            hostile.communicate()
    assert hostile.returncode == 0, (out, err)
    assert '"web1": true' in out and "evil" not in out, out
    # One warning, naming the pattern. The job was sealed to web1 alone (the
    # master ruled evil out), so evil never saw it.
    master_log.wait_for(r"target regex '\(a\|aa\)\+\$' ran out of time", timeout=20)
    # A job every minion may run is a broadcast: evil checks the pattern
    # itself, with the same bound, and still answers for the other half.
    everyone = ["-C", f"P@location:{REGEX} or G@location:*", "test.ping", "-t", "10"]
    both = cluster.ff(*everyone, "--out", "json", timeout=60)
    assert both.returncode == 0 and both.json() == {"evil": True, "web1": True}, both
    evil_log.wait_for(r"target regex '\(a\|aa\)\+\$' ran out of time", timeout=20)
    assert cluster.master is not None and cluster.master.poll() is None
