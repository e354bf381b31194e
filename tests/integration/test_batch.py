"""Batch mode and targeting options of ``ff``, end to end on real processes.

How many minions run at once is read from the master's event bus, not from
timing: the master fires ``ff/job/<jid>/new`` when a sub-job is published and
``ff/job/<jid>/ret/<id>`` when a return arrives, in the order it handles
them, and ``ff`` publishes a replacement only after it has seen a return.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from fluxforge import config
from fluxforge.client import LocalClient
from fluxforge.events import EventListener
from fluxforge.master.keys import KeyStore
from fluxforge.protocol.crypto import MinionIdentity
from fluxforge.testing import Cluster

IDS = ("b1", "b2", "b3", "b4", "b5")


@contextlib.contextmanager
def job_bus(cluster: Cluster) -> Iterator[EventListener]:
    """A live listener on every job event of the cluster's running master."""
    client = LocalClient(config.load(str(cluster.master_conf)).master)
    try:
        listener = client.listen()
    finally:
        client.close()
    try:
        yield listener
    finally:
        listener.close()


def job_events(bus: EventListener, fun: str, returns: int) -> list[tuple[str, Any]]:
    """``("new", minions)`` and ``("ret", id)`` of jobs of ``fun``, in bus order.

    Reads until ``returns`` returns of ``fun`` jobs have been seen.
    """
    jids: set[str] = set()
    seen: list[tuple[str, Any]] = []
    while sum(kind == "ret" for kind, _ in seen) < returns:
        event = bus.get(10.0)
        assert event is not None, f"bus went quiet after {seen}"
        tag, data = event
        parts = tag.split("/")
        if len(parts) == 4 and parts[3] == "new" and data.get("fun") == fun:
            jids.add(parts[2])
            seen.append(("new", sorted(data["minions"])))
        elif len(parts) == 5 and parts[3] == "ret" and parts[2] in jids:
            seen.append(("ret", parts[4]))
    return seen


def most_running(seen: list[tuple[str, Any]]) -> int:
    """The largest number of minions running at once, replaying the events."""
    running: set[str] = set()
    most = 0
    for kind, value in seen:
        if kind == "new":
            assert not running & set(value), f"{value} started twice: {seen}"
            running |= set(value)
        else:
            running.discard(value)
        most = max(most, len(running))
    return most


def started(seen: list[tuple[str, Any]]) -> list[str]:
    return sorted(m for kind, value in seen if kind == "new" for m in value)


def test_batch_window_percent_and_down_minions(cluster: Cluster) -> None:
    cluster.start_master()
    cluster.start_minions(*IDS)
    cluster.accept_and_wait()
    with job_bus(cluster) as listener:
        check_window_percent_and_down_minions(cluster, listener)


def check_window_percent_and_down_minions(cluster: Cluster, listener: EventListener) -> None:
    res = cluster.ff("-b", "2", "b*", "test.sleep", "1", "--out", "json")
    assert res.returncode == 0, res
    assert res.json() == dict.fromkeys(IDS, True)
    seen = job_events(listener, "test.sleep", len(IDS))
    assert seen[0] == ("new", ["b1", "b2"]), seen
    assert started(seen) == list(IDS), seen
    assert most_running(seen) == 2, seen
    assert "5 minion(s) answered test.ping; running test.sleep on at most 2 at a time" in (
        res.stderr
    )
    assert res.stderr.count("Executing run on ") == sum(k == "new" for k, _ in seen), res
    assert "Executing run on b1, b2 (jid " in res.stderr

    # 50% of 5 is 2.5, rounded up: 3 at a time. Nested output shows each return.
    res = cluster.ff("--batch-size", "50%", "-E", "^b[0-9]$", "test.echo", "hi")
    assert res.returncode == 0, res
    for minion_id in IDS:
        assert f"{minion_id}:\n    hi\n" in res.stdout
    seen = job_events(listener, "test.echo", len(IDS))
    assert seen[0] == ("new", ["b1", "b2", "b3"]), seen
    assert started(seen) == list(IDS) and most_running(seen) <= 3, seen
    assert "at most 3 at a time (batch size 50%)" in res.stderr

    # A list target and a wait between returns; the window never exceeds 1.
    res = cluster.ff("-L", "b4,b2", "-b", "1", "--batch-wait", "0.2", "test.ping")
    assert res.returncode == 0, res
    seen = job_events(listener, "test.ping", 2 + 2)  # the ping itself, then the batch
    assert [v for k, v in seen if k == "new"][1:] == [["b2"], ["b4"]], seen

    # A minion that is down does not answer the ping: it is named and not run on.
    cluster.stop_minion("b5")
    res = cluster.ff("-b", "3", "b*", "test.echo", "x", "--out", "json", "-t", "2")
    assert res.returncode == 4, res
    assert res.json() == dict.fromkeys(IDS[:4], "x")
    assert "No answer to test.ping from 1 minion(s) within 2s; not running on them: b5" in (
        res.stderr
    )

    res = cluster.ff("-b", "2", "nomatch*", "test.ping")
    assert res.returncode == 3 and "No minions matched" in res.stderr, res


def test_batch_failhard_stops_starting_new_minions(cluster: Cluster) -> None:
    cluster.start_master()
    # b3 alone fails the command below: its environment sets the exit code.
    base = cluster.env
    for minion_id in IDS:
        cluster.env = {**base, "FF_EXIT": "3"} if minion_id == "b3" else base
        cluster.start_minion(minion_id)
    cluster.env = base
    cluster.accept_and_wait()
    command = "exit ${FF_EXIT:-0}"

    res = cluster.ff("-b", "1", "--failhard", "b*", "cmd.retcode", command, "--out", "json")
    assert res.returncode == 1, res
    assert res.json() == {"b1": 0, "b2": 0, "b3": 3}
    assert "--failhard: b3 failed; not starting the remaining 2 minion(s): b4, b5" in res.stderr

    # Without --failhard the batch goes on and the exit code still says a run failed.
    res = cluster.ff("-b", "2", "b*", "cmd.retcode", command, "--out", "json")
    assert res.returncode == 1, res
    assert res.json() == {"b1": 0, "b2": 0, "b3": 3, "b4": 0, "b5": 0}

    # With two running, whatever runs beside the failure still finishes. (Whether
    # b4 or even b5 started before b3's return was seen depends on timing.)
    with job_bus(cluster) as listener:
        res = cluster.ff("-b", "2", "--failhard", "b*", "cmd.retcode", command, "--out", "json")
        assert res.returncode == 1, res
        out = res.json()
        assert out["b3"] == 3 and {"b1", "b2"} <= set(out), res
        seen = job_events(listener, "cmd.retcode", len(out))
    assert started(seen) == sorted(out), (seen, res)
    assert "--failhard: b3 failed; " in res.stderr


FLAG_TARGETS = [
    ("-E", "^t1$", "pcre"),
    ("--pcre", "^t1$", "pcre"),
    ("-L", "t1", "list"),
    ("--list", "t1,nope", "list"),
    ("-G", "id:t1", "grain"),
    ("--grain", "id:t1", "grain"),
    ("-P", "id:^t1$", "grain_pcre"),
    ("--grain-pcre", "id:^t1$", "grain_pcre"),
    ("-I", "role:web", "pillar"),
    ("--pillar", "role:web", "pillar"),
    ("-J", "role:^web$", "pillar_pcre"),
    ("--pillar-pcre", "role:^web$", "pillar_pcre"),
    ("-S", "127.0.0.0/8", "ipcidr"),
    ("--ipcidr", "127.0.0.1", "ipcidr"),
    ("-N", "group1", "nodegroup"),
    ("--nodegroup", "group1", "nodegroup"),
    ("-C", "E@^t1$", "compound"),
    ("--compound", "E@^t1$ or L@t2", "compound"),
]


def test_every_targeting_option_reaches_the_master(cluster: Cluster) -> None:
    cluster.write_master_conf(nodegroups={"group1": ["t1"]})
    cluster.start_master()
    cluster.start_minions("t1", "t2")
    cluster.accept_and_wait()
    with job_bus(cluster) as listener:
        check_targeting_options(cluster, listener)


def check_targeting_options(cluster: Cluster, listener: EventListener) -> None:
    # The forms the master evaluates today, exactly.
    res = cluster.ff("-E", "^t1$", "test.echo", "e", "--out", "json")
    assert res.returncode == 0 and res.json() == {"t1": "e"}, res
    res = cluster.ff("--list", "t2", "test.echo", "l", "--out", "json")
    assert res.returncode == 0 and res.json() == {"t2": "l"}, res

    # Every option: the job is published with its target type, or the master
    # (or the client's syntax check) refuses that type by name, or the target
    # is understood and matches nobody.
    for number, (flag, tgt, tgt_type) in enumerate(FLAG_TARGETS):
        marker = f"flag-{number}"
        res = cluster.ff(flag, tgt, "test.echo", marker, "--async", "-t", "2")
        if res.returncode == 2:
            assert repr(tgt_type) in res.stderr or tgt_type in res.stderr, (flag, res)
            continue
        if res.returncode == 3:
            continue
        assert res.returncode == 0, (flag, res)
        jid = res.stdout.strip()
        while True:
            event = listener.get(10.0)
            assert event is not None, (flag, res)
            if event[0] == f"ff/job/{jid}/new":
                break
        assert event[1]["arg"] == [marker]
        # The master expands a nodegroup into the target it names.
        if tgt_type != "nodegroup":
            assert event[1]["tgt_type"] == tgt_type, (flag, event)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-E", "-L", "x"], "give at most one targeting option, got -E/--pcre and -L/--list"),
        (["--grain", "-C", "x"], "got -G/--grain and -C/--compound"),
        (["-N", "-S", "-I", "x"], "got -I/--pillar and -S/--ipcidr and -N/--nodegroup"),
        (["-b", "0", "x"], "got '0'"),
        (["-b", "abc", "x"], "got 'abc'"),
        (["-b", "150%", "x"], "above 0% up to 100% (e.g. 10 or 25%), got '150%'"),
        (["--batch-wait", "1", "x"], "--batch-wait needs -b/--batch"),
        (["--failhard", "x"], "--failhard needs -b/--batch"),
        (["-b", "2", "--async", "x"], "--async cannot be combined with -b/--batch"),
        (["-b", "2", "--batch-wait", "-1", "x"], "--batch-wait must be a number of seconds"),
    ],
)
def test_usage_errors(cluster: Cluster, args: list[str], message: str) -> None:
    # Caught before the master is asked: none is running.
    res = cluster.ff(*args, "test.ping")
    assert res.returncode == 2, res
    assert message in res.stderr, res


def test_undecided_minions_are_waited_for_but_not_missing(cluster: Cluster) -> None:
    cluster.start_master()
    cluster.start_minions("t1", "t2")
    cluster.accept_and_wait()
    # An accepted key whose minion never connected: the master has no grains for
    # it, so a grain target cannot be decided there and goes to everyone.
    KeyStore(str(cluster.pki_dir)).register("ghost", MinionIdentity.generate().box_public)
    assert cluster.ff_key("-a", "ghost", "-y").returncode == 0
    note = (
        "1 minion(s) with no cached grains or pillar did not answer (not targeted, or down): ghost"
    )

    res = cluster.ff("-G", "id:t1", "test.echo", "g", "--out", "json", "-t", "1")
    assert res.returncode == 0, res
    assert res.json() == {"t1": "g"}
    assert note in res.stderr and "No return from" not in res.stderr, res

    res = cluster.ff("-b", "1", "-G", "id:t*", "test.echo", "b", "--out", "json", "-t", "1")
    assert res.returncode == 0, res
    assert res.json() == {"t1": "b", "t2": "b"}
    assert note in res.stderr and "No answer to test.ping" not in res.stderr, res

    # Only undecided minions, and none of them answers: nothing matched.
    res = cluster.ff("-G", "id:ghost", "test.ping", "-t", "1")
    assert res.returncode == 3, res
    assert note in res.stderr and "No minions matched" in res.stderr, res
