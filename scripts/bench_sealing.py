"""The cost of sealing a targeted job to each minion's own key, against one session-key seal.

Used by ``scripts/bench --sealing 1000,5000`` (see docs/performance.md). Two
measurements for each N, each made once with ``publication_sealing: session``
(the old way: one SecretBox per job, the same frame sent on each minion's
topic) and once with ``auto`` (signed and encrypted once, the job key in a Box per minion):

* ``swarm``: a real master and N + 1 swarm minions; a ``test.ping`` listed
  to N of them (one is left out, so the job is targeted, not a broadcast):
  publish -> last return, and the master's CPU per job;
* ``direct``: :meth:`Master.publish` alone, called in this process on a
  master that has N accepted keys (their Box keys computed, as after auth)
  and nobody subscribed: the CPU the master's loop spends to pack, sign,
  seal and hand every frame of one such job to zmq; once with the list of
  N ids as the target (the load grows with N), once with a short glob the
  master resolved to the same N.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from typing import Any

import psutil

from fluxforge import config
from fluxforge.client import LocalClient
from fluxforge.config import MasterConfig
from fluxforge.master.daemon import Master
from fluxforge.protocol.crypto import MinionIdentity
from fluxforge.testing import Cluster

MODES = ("session", "auto")
TITLES = {"session": "session key (before)", "auto": "each minion's own key"}


def _load(tgt: str | list[str]) -> dict[str, Any]:
    return {
        "jid": "20260101000000000001",
        "tgt": tgt,
        "tgt_type": "glob" if isinstance(tgt, str) else "list",
        "fun": "test.ping",
        "arg": [],
        "kwarg": {},
        "user": "bench",
        "ret": "",
        "timeout": 10.0,
    }


def direct(n: int, mode: str, runs: int, glob: bool = False) -> dict[str, Any]:
    """CPU seconds of one ``Master.publish`` of a job to ``n`` minions, in this thread.

    The job's target is the list of the ``n`` ids (the load grows with N), or
    with ``glob`` a short glob that the master resolved to them.
    """
    with tempfile.TemporaryDirectory(prefix="ff-seal-") as root:
        cfg = MasterConfig(
            root_dir=root,
            pki_dir=f"{root}/pki",
            cachedir=f"{root}/cache",
            sock_dir=f"{root}/sock",
            publication_sealing=mode,
        )
        master = Master(cfg)
        try:
            master.pub.bind(f"ipc://{root}/sock/pub.ipc")
            ids = [f"m{i}" for i in range(n)]
            master.sessions.accepted = {i: MinionIdentity.generate().box_public for i in ids}
            for public in master.sessions.accepted.values():
                master.sessions.boxes.key(public)  # as each minion's auth leaves it
            load = _load("m[0-9]*" if glob else ids)
            master.publish(load, ids)  # warm-up
            samples = []
            for _ in range(runs):
                start = time.thread_time()
                master.publish(load, ids)
                samples.append(time.thread_time() - start)
        finally:
            master.close()
    samples.sort()
    return {"median": samples[len(samples) // 2], "runs": runs}


def swarm(
    n: int, mode: str, runs: int, procs: int, summary: Callable[[list[float]], dict[str, Any]]
) -> dict[str, Any]:
    """Publish -> last return and master CPU per job, a list job to N of N + 1 swarm minions."""
    opts = {"auto_accept": True, "log_level": "warning", "publication_sealing": mode}
    with Cluster(master_opts=opts) as c:
        c.start_master()
        c.start_swarm(n + 1, prefix="m", procs=procs, log_level="warning")
        c.wait_count("m*", n + 1, timeout=60 + n * 0.05)
        ids = [f"m{i}" for i in range(n)]
        client = LocalClient(config.load(str(c.master_conf)).master)
        try:

            def once() -> float:
                start = time.perf_counter()
                job = client.run(ids, "test.ping", tgt_type="list", timeout=max(10.0, n / 100))
                count = sum(1 for _ in job.returns())
                took = time.perf_counter() - start
                if count != n:
                    raise RuntimeError(f"{count} of {n} returned")
                return took

            once()  # warm-up
            timings = summary([once() for _ in range(runs)])
            assert c.master is not None
            proc = psutil.Process(c.master.pid)
            before = sum(proc.cpu_times()[:2])
            for _ in range(runs):
                once()
            cpu = (sum(proc.cpu_times()[:2]) - before) / runs
        finally:
            client.close()
    return {"pub_last": timings, "master_cpu_s": cpu}


def measure(
    sizes: list[int],
    runs: int,
    procs: int,
    summary: Callable[[list[float]], dict[str, Any]],
    log: Callable[[str], None],
    swarm_max: int,
) -> list[dict[str, Any]]:
    """Both ways at each N; the swarm only up to ``swarm_max`` minions."""
    rows = []
    for n in sizes:
        row: dict[str, Any] = {"n": n}
        for mode in MODES:
            log(f"sealing N={n} {mode}: direct")
            row[f"direct {mode}"] = direct(n, mode, max(runs, 20))
            row[f"glob {mode}"] = direct(n, mode, max(runs, 20), glob=True)
            if n <= swarm_max:
                log(f"sealing N={n} {mode}: swarm of {n + 1}")
                try:
                    row[f"swarm {mode}"] = swarm(n, mode, runs, procs, summary)
                except Exception as exc:  # a failed figure is reported, not fatal
                    log(f"sealing N={n} {mode}: swarm failed: {exc}"[:300])
                    row[f"swarm {mode}"] = {"error": str(exc)[:300]}
        rows.append(row)
    return rows


def print_table(rows: list[dict[str, Any]], fmt: Callable[[float], str]) -> None:
    """One table: each figure with the session key and with each minion's own key."""
    print("| list job to N of N + 1 minions | " + " | ".join(TITLES[m] for m in MODES) + " |")
    print("|---|" + "---|" * len(MODES))

    def cell(row: dict[str, Any], key: str, pick: Callable[[dict[str, Any]], str]) -> str:
        try:
            return pick(row[key])
        except (KeyError, TypeError):
            return "not run" if key not in row else "failed"

    for row in rows:
        n = f"{row['n']:,}"
        figures: list[tuple[str, str, Callable[[dict[str, Any]], str]]] = [
            (
                f"publish -> last return, N={n} (median / p95)",
                "swarm",
                lambda r: f"{fmt(r['pub_last']['median'])} / {fmt(r['pub_last']['p95'])}",
            ),
            (f"master CPU per job, N={n}", "swarm", lambda r: fmt(r["master_cpu_s"])),
            (
                f"`Master.publish` CPU alone, N={n} (median)",
                "direct",
                lambda r: fmt(r["median"]),
            ),
            (
                f"`Master.publish` CPU alone, a glob resolved to N={n} (median)",
                "glob",
                lambda r: fmt(r["median"]),
            ),
        ]
        for title, kind, pick in figures:
            cells = [cell(row, f"{kind} {mode}", pick) for mode in MODES]
            print(f"| {title} | " + " | ".join(cells) + " |")
    print()
