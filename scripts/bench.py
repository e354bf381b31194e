"""FluxForge benchmarks: real master, swarm minions and the real CLI on loopback.

Run through ``scripts/bench`` (which prepares the venv)::

    scripts/bench                          # N = 1,10,100,1000
    scripts/bench --minions 5000 --runs 5
    scripts/bench --json bench.json
    scripts/bench --compare-salt           # also Salt 3008.5 at N = 10 and 50
    scripts/bench --startup-only --compare-salt --runs 20   # the start-up table only
    scripts/bench --sealing 1000,5000 --sealing-only        # per-minion sealing vs session

Prints tables on stdout; ``--json FILE`` writes every figure. Timings are
wall-clock on this machine; nothing here asserts a goal, it reports.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from fluxforge import __version__, config
from fluxforge.client import LocalClient
from fluxforge.events import EventListener
from fluxforge.testing import Cluster, command

MIB = 1024 * 1024


def log(message: str) -> None:
    """Progress on stderr, so stdout holds only the tables."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def summary(samples: list[float]) -> dict[str, Any]:
    """Median and p95 of samples in seconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {"median": statistics.median(ordered), "p95": p95, "runs": len(ordered)}


def wall(argv: list[str], env: dict[str, str] | None = None) -> float:
    """Seconds one command takes, start to exit."""
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return elapsed


def tree_rss(pid: int) -> float:
    """RSS of a process and its children, in MiB."""
    proc = psutil.Process(pid)
    procs = [proc, *proc.children(recursive=True)]
    return sum(p.memory_info().rss for p in procs if p.is_running()) / MIB


def machine() -> dict[str, Any]:
    """What this ran on."""
    import msgpack
    import nacl
    import zmq

    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 1024**3, 1),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "fluxforge": __version__,
        "pyzmq": zmq.__version__,
        "libzmq": zmq.zmq_version(),
        "msgpack": ".".join(map(str, msgpack.version)),
        "pynacl": nacl.__version__,
    }


def publish_ping(client: LocalClient, tgt: str | list[str], tgt_type: str) -> str:
    """Publish a test.ping without waiting for it; returns the jid."""
    jid = str(client.command("prep_jid")["jid"])
    load: dict[str, Any] = {
        "jid": jid,
        "tgt": tgt,
        "tgt_type": tgt_type,
        "fun": "test.ping",
        "arg": [],
        "kwarg": {},
        "user": "bench",
        "ret": "",
        "timeout": 10.0,
    }
    client.command("publish", load=load)
    return jid


class Bench:
    """One cluster of N swarm minions and the measurements made on it."""

    def __init__(self, n: int, procs: int, runs: int) -> None:
        self.n = n
        self.runs = runs
        self.procs = procs
        self.cluster = Cluster(master_opts={"auto_accept": True, "log_level": "warning"})
        self.client: LocalClient | None = None
        self.start_to_answering = 0.0

    def __enter__(self) -> Bench:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.close()
        try:
            self.cluster.__exit__(None, None, None)
        except AssertionError as err:  # a slow shutdown is a finding, not a crash
            log(f"N={self.n}: shutdown: {err}")

    @property
    def master_pid(self) -> int:
        assert self.cluster.master is not None
        return self.cluster.master.pid

    def connect(self) -> LocalClient:
        """A fresh in-process client to the master."""
        if self.client is not None:
            self.client.close()
        self.client = LocalClient(config.load(str(self.cluster.master_conf)).master)
        return self.client

    def start(self) -> float:
        """Start the master and the swarm; seconds from swarm start to all authenticated."""
        c = self.cluster
        c.start_master()
        listener = EventListener(c.sock_dir, ("ff/auth",))
        try:
            time.sleep(0.2)
            start = time.perf_counter()
            c.start_swarm(self.n, prefix="m", procs=self.procs, log_level="warning")
            accepted: set[str] = set()
            deadline = start + 60 + self.n * 0.05
            while len(accepted) < self.n and time.perf_counter() < deadline:
                event = listener.get(1.0)
                if event and event[1].get("status") == "accepted":
                    accepted.add(event[1]["id"])
            herd = time.perf_counter() - start
        finally:
            listener.close()
        if len(accepted) < self.n:
            raise RuntimeError(f"only {len(accepted)} of {self.n} minions authenticated")
        self.wait_all()
        self.start_to_answering = time.perf_counter() - start
        return herd

    def wait_all(self, timeout: float = 120.0) -> float:
        """Seconds until a test.ping is answered by all N minions."""
        start = time.perf_counter()
        client = self.connect()
        while time.perf_counter() - start < timeout:
            try:
                job = client.run("m*", "test.ping", timeout=1)
                got = sum(1 for _ in job.returns())
            except Exception as exc:  # the master may still be starting
                log(f"waiting for minions: {exc}")
                time.sleep(0.2)
                client = self.connect()
                continue
            if got == self.n:
                return time.perf_counter() - start
        raise RuntimeError(f"minions not all answering after {timeout}s")

    def cli(self, *args: str) -> dict[str, Any]:
        """Wall time of ``ff`` with ``args``."""
        argv = [*command("ff"), *args]
        samples = [wall(argv, self.cluster.env) for _ in range(self.runs)]
        return summary(samples)

    def in_process(
        self, fun: str, arg: list[str], tgt: str = "m*", tgt_type: str = "glob"
    ) -> dict[str, Any]:
        """Publish -> last return, measured by a client in this process."""
        client = self.client or self.connect()
        samples = []
        for _ in range(self.runs):
            start = time.perf_counter()
            job = client.run(tgt, fun, arg, tgt_type=tgt_type, timeout=max(10.0, self.n / 100))
            count = sum(1 for _ in job.returns())
            samples.append(time.perf_counter() - start)
            if count != self.n:
                raise RuntimeError(f"{fun}: {count} of {self.n} returned")
        return summary(samples)

    def master_cpu_per_job(self, jobs: int) -> float:
        """Master CPU seconds per test.ping job to all N."""
        proc = psutil.Process(self.master_pid)
        client = self.client or self.connect()
        before = sum(proc.cpu_times()[:2])
        for _ in range(jobs):
            job = client.run("m*", "test.ping", timeout=10)
            for _ in job.returns():
                pass
        return (sum(proc.cpu_times()[:2]) - before) / jobs

    def ingest(self, total_returns: int) -> dict[str, Any]:
        """Publish jobs back to back and count returns/s the master turns into events."""
        client = self.client or self.connect()
        jobs = min(500, max(1, total_returns // self.n))
        listener = EventListener(self.cluster.sock_dir, ("ff/job/",))
        time.sleep(0.2)
        try:
            jids = set()
            start = time.perf_counter()
            for _ in range(jobs):
                jids.add(publish_ping(client, "m*", "glob"))
            expected = jobs * self.n
            got: set[tuple[str, str]] = set()
            last = start
            idle_deadline = time.perf_counter() + 30
            while len(got) < expected and time.perf_counter() < idle_deadline:
                event = listener.get(1.0)
                if event is None:
                    continue
                parts = event[0].split("/")
                if len(parts) == 5 and parts[3] == "ret" and parts[2] in jids:
                    got.add((parts[2], parts[4]))
                    last = time.perf_counter()
                    idle_deadline = last + 10
        finally:
            listener.close()
        # Anything the listener missed but the master stored still counts as ingested.
        stored = sum(len(client.command("job", jid=j)["returns"]) for j in jids)
        return {
            "jobs": jobs,
            "expected": expected,
            "events": len(got),
            "stored": stored,
            "lost": expected - stored,
            "returns_per_s": len(got) / (last - start) if last > start else 0.0,
        }

    def restart(self) -> float:
        """Seconds from starting a stopped master to all N answering again."""
        if self.client is not None:
            self.client.close()
            self.client = None
        self.cluster.stop_master()
        start = time.perf_counter()
        self.cluster.start_master()
        self.wait_all()
        return time.perf_counter() - start


def master_ingest(peers: int, jobs: int) -> dict[str, Any]:
    """Returns/s one master ingests: pre-sealed returns blasted at it, replies counted.

    ``peers`` accepted identities each return once for each of ``jobs`` jobs;
    the frames are built before the clock starts, so the figure is the
    master's (decrypt, check, store, fire, reply), not the sender's.
    """
    import zmq

    from fluxforge.protocol import wire
    from fluxforge.protocol.crypto import BoxCache, MinionIdentity, random_bytes
    from fluxforge.protocol.drain import recv_parts

    with Cluster(master_opts={"auto_accept": True, "log_level": "warning"}) as c:
        c.start_master()
        master_pub = decode_pub(c.pki_dir / "master.pub")
        ctx: zmq.Context[Any] = zmq.Context()
        socks, boxes, tokens, ids = [], [], [], []
        try:
            for i in range(peers):
                ident = MinionIdentity.generate()
                sock = ctx.socket(zmq.DEALER)
                sock.setsockopt(zmq.LINGER, 0)
                sock.setsockopt(zmq.SNDHWM, 0)
                sock.setsockopt(zmq.RCVHWM, 0)
                sock.connect(f"tcp://127.0.0.1:{c.ret_port}")
                nonce = random_bytes(24)
                box = BoxCache(ident.box_secret)
                body = {"id": f"blast{i}", "pub": ident.box_public, "nonce": nonce, "proof": None}
                reply: dict[str, Any] = {"challenge": None}
                # Two round trips: the challenge, then the proof that earns the grant.
                for _ in range(2):
                    if reply["challenge"] is not None:
                        claim = {"id": body["id"], "nonce": nonce, "challenge": reply["challenge"]}
                        body["proof"] = box.encrypt(master_pub, wire.pack(claim))
                    sock.send(wire.frame("auth", body))
                    if not sock.poll(10_000):
                        raise RuntimeError("master did not answer auth")
                    data = sock.recv()
                    _, (reply,) = wire.parse_frame(data, wire.DEFAULT_MAX_FRAME, {"authrep": 1})
                grant = wire.unpack(box.decrypt(master_pub, reply["sealed"]))
                socks.append(sock)
                boxes.append(box)
                tokens.append(grant["token"])
                ids.append(f"blast{i}")
            client = LocalClient(config.load(str(c.master_conf)).master)
            jids = []
            for _ in range(jobs):
                jids.append(publish_ping(client, ids, "list"))
            frames: list[list[bytes]] = [[] for _ in range(peers)]
            for i in range(peers):
                for seq, jid in enumerate(jids):
                    ret = {
                        "jid": jid,
                        "fun": "test.ping",
                        "fun_args": [],
                        "return": True,
                        "retcode": 0,
                        "success": True,
                        "duration": 0.0001,
                    }
                    plain = wire.pack(
                        {"t": "ret", "rid": seq + 1, "tok": tokens[i], "seq": seq, "body": ret}
                    )
                    frames[i].append(wire.frame("req", ids[i], boxes[i].encrypt(master_pub, plain)))
            poller = zmq.Poller()
            for sock in socks:
                poller.register(sock, zmq.POLLIN)
            expected, replies = peers * jobs, 0
            me = psutil.Process()
            sender_before = sum(me.cpu_times()[:2])
            master_proc = psutil.Process(c.master.pid if c.master else 0)
            master_before = sum(master_proc.cpu_times()[:2])
            loop_before = _thread_cpu(master_proc)
            start = time.perf_counter()
            for seq in range(jobs):
                for i in range(peers):
                    socks[i].send(frames[i][seq], zmq.NOBLOCK)
            deadline = time.perf_counter() + 60
            while replies < expected and time.perf_counter() < deadline:
                for sock, _ in poller.poll(1000):
                    while True:
                        try:
                            recv_parts(sock)
                        except zmq.Again:
                            break
                        replies += 1
            elapsed = time.perf_counter() - start
            sender_cpu = sum(me.cpu_times()[:2]) - sender_before
            master_cpu = sum(master_proc.cpu_times()[:2]) - master_before
            loop_cpu = _thread_cpu(master_proc) - loop_before
            stored = sum(len(client.command("job", jid=j)["returns"]) for j in jids)
            mproc = psutil.Process(c.master.pid if c.master else 0)
            cpu = mproc.cpu_times()

            client.close()
        finally:
            for sock in socks:
                sock.close(0)
            ctx.term()
    return {
        "returns": expected,
        "replies": replies,
        "stored": stored,
        "lost": expected - stored,
        "returns_per_s": replies / elapsed,
        "elapsed_s": elapsed,
        "sender_cpu_s": sender_cpu,
        "master_cpu_s": master_cpu,
        "master_cpu_us_per_return": master_cpu / max(replies, 1) * 1e6,
        "loop_cpu_us_per_return": loop_cpu / max(replies, 1) * 1e6,
        "master_cpu_s_total": cpu.user + cpu.system,
    }


def _thread_cpu(proc: psutil.Process) -> float:
    """CPU seconds of a process's main thread (the master's event loop)."""
    for thread in proc.threads():
        if thread.id == proc.pid:
            return float(thread.user_time + thread.system_time)
    return 0.0


def decode_pub(path: Path) -> bytes:
    """A public key from its key file."""
    from fluxforge.protocol.keyfiles import decode_key

    return decode_key(path.read_text(), str(path))


# The start-up rows, in the order the table shows them; BASELINE is what
# they are compared with: the two imports no FluxForge command can avoid.
BASELINE = "python -c 'import click, zmq'"
STARTUP_ROWS = (BASELINE, "ff --version", "ff-call --local test.ping", "ff <one of 50> test.ping")


def compile_bytecode() -> None:
    """Write FluxForge's bytecode cache, as pip does when it installs a package.

    An editable install has none until an interpreter writes it, and none is
    written under ``PYTHONDONTWRITEBYTECODE=1``: every command would then
    compile each of its modules at every start, which no installed copy does.
    """
    import compileall

    import fluxforge

    compileall.compile_dir(str(Path(fluxforge.__file__).parent), quiet=1)


def startup_costs(runs: int) -> dict[str, Any]:
    """Wall times of the start-up rows, side by side, while 50 minions run.

    49 swarm minions and one real ``ff-minion`` (``solo``, the one targeted)
    run under a master. Each of ``runs`` rounds runs every command once, the
    order rotated from round to round, so that all four see the same machine.
    ``ff-call`` uses a minion config of its own (no daemon runs on it).
    """
    compile_bytecode()
    with Cluster(master_opts={"auto_accept": True, "log_level": "warning"}) as c:
        c.start_master()
        c.start_swarm(49, prefix="m", procs=1, log_level="warning")
        proc = c.start_minion("solo", log_level="warning")
        c.wait_count("*", 50, timeout=60)
        local_conf = c.minion_conf("local", log_level="warning")
        argvs = {
            BASELINE: [sys.executable, "-c", "import click, zmq"],
            "ff --version": [*command("ff"), "--version"],
            "ff-call --local test.ping": [
                *command("ff-call"),
                *("-c", str(local_conf), "--local", "test.ping"),
            ],
            "ff <one of 50> test.ping": [*command("ff"), "solo", "test.ping"],
        }
        for argv in argvs.values():  # warm-up: caches, the page cache
            wall(argv, c.env)
        samples: dict[str, list[float]] = {key: [] for key in STARTUP_ROWS}
        for round_no in range(runs):
            shift = round_no % len(STARTUP_ROWS)
            for key in STARTUP_ROWS[shift:] + STARTUP_ROWS[:shift]:
                samples[key].append(wall(argvs[key], c.env))
        out: dict[str, Any] = {key: summary(times) for key, times in samples.items()}
        out["minion_rss_mib"] = tree_rss(proc.pid)
    return out


STATE_MINIONS = 10
STATE_COUNT = 20
# 20 states per minion: 12 managed files (one rendered from a template), 4
# directories, 4 commands guarded by `creates` (the common shapes of a tree).
STATE_TREE = {
    "top.sls": "base:\n  '*':\n    - bench\n",
    "motd.j2": "Welcome to {{ grains['id'] }} ({{ grains['kernel'] }})\n",
    "bench.sls": """\
{% set base = '/tmp/ff-bench-states/' ~ grains['id'] %}
{% for i in range(4) %}
dir{{ i }}:
  file.directory:
    - name: {{ base }}/d{{ i }}
    - makedirs: True
{% endfor %}
{% for i in range(11) %}
file{{ i }}:
  file.managed:
    - name: {{ base }}/d{{ i % 4 }}/f{{ i }}.conf
    - contents: "setting_{{ i }} = {{ i * 7 }}"
    - require:
      - file: dir{{ i % 4 }}
{% endfor %}
motd:
  file.managed:
    - name: {{ base }}/motd
    - source: ff://motd.j2
    - template: jinja
    - require:
      - file: dir0
{% for i in range(4) %}
marker{{ i }}:
  cmd.run:
    - name: touch {{ base }}/marker{{ i }}
    - creates: {{ base }}/marker{{ i }}
    - require:
      - file: file{{ i }}
{% endfor %}
""",
}


def state_apply(runs: int) -> dict[str, Any]:
    """``ff '*' state.apply`` of 20 states on 10 real minions: first run, then unchanged runs."""
    out: dict[str, Any] = {"minions": STATE_MINIONS, "states": STATE_COUNT}
    with Cluster(master_opts={"auto_accept": True, "log_level": "warning"}) as c:
        c.write_tree(c.file_root, STATE_TREE)
        c.start_master()
        ids = [f"s{i}" for i in range(STATE_MINIONS)]
        for minion_id in ids:
            c.start_minion(minion_id, log_level="warning")
        c.wait_count("s*", STATE_MINIONS, timeout=60)
        argv = [*command("ff"), "s*", "state.apply", "--out", "json", "-t", "30"]

        def checked() -> float:
            start = time.perf_counter()
            proc = subprocess.run(argv, env=c.env, capture_output=True, text=True, check=False)
            took = time.perf_counter() - start
            returns = json.loads(proc.stdout or "{}")
            counts = {len(r) if isinstance(r, dict) else 0 for r in returns.values()}
            if proc.returncode != 0 or len(returns) != STATE_MINIONS or counts != {STATE_COUNT}:
                raise RuntimeError(f"state.apply failed ({proc.returncode}): {proc.stderr[:300]}")
            return took

        out["first"] = checked()
        out["unchanged"] = summary([checked() for _ in range(runs)])
        argv.append("test=True")
        out["test"] = summary([checked() for _ in range(runs)])
    subprocess.run(["rm", "-rf", "/tmp/ff-bench-states"], check=False)
    return out


def measure(n: int, args: argparse.Namespace) -> dict[str, Any]:
    """Every per-N figure; a figure that fails is reported, not fatal."""
    log(f"N={n}: starting master and {n} swarm minions")
    wait = f"{max(5.0, n / 100):g}"  # ff's -t: a 2-core box runs 5,000 commands slowly
    with Bench(n, args.procs, args.runs) as b:
        result: dict[str, Any] = {"n": n, "auth_herd_s": b.start()}
        log(f"N={n}: all authenticated in {result['auth_herd_s']:.2f}s")
        # Cheap steps first: cmd.run forks N processes per job, and on a small
        # machine the backlog it leaves would distort whatever follows it.
        steps: list[tuple[str, Callable[[], Any]]] = [
            ("restart_to_answering_s", b.restart),
            ("cli test.ping", lambda: b.cli("m*", "test.ping", "-t", wait)),
            ("pub->last test.ping", lambda: b.in_process("test.ping", [])),
            # A compound target with a grain: the master resolves it against
            # every minion's cached grains, and every minion decides again.
            (
                "pub->last compound",
                lambda: b.in_process("test.ping", [], "G@kernel:Linux and m*", "compound"),
            ),
            ("master_cpu_per_job_s", lambda: b.master_cpu_per_job(max(3, args.runs))),
            ("ingest", lambda: b.ingest(args.ingest_returns)),
            ("master_rss_mib", lambda: tree_rss(b.master_pid)),
            ("cli cmd.run true", lambda: b.cli("m*", "cmd.run", "true", "-t", wait)),
            ("pub->last cmd.run true", lambda: b.in_process("cmd.run", ["true"])),
        ]
        for name, step in steps:
            log(f"N={n}: {name}")
            try:
                result[name] = step()
                log(f"N={n}: {name} = {json.dumps(result[name], default=str)}"[:300])
            except Exception as exc:
                log(f"N={n}: {name} failed: {exc}"[:300])
                result[name] = {"error": str(exc)[:300]}
    return result


def fmt(seconds: float) -> str:
    """Seconds as text with a unit that fits."""
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def print_tables(report: dict[str, Any]) -> None:
    """Human tables on stdout."""
    m = report["machine"]
    print(f"# FluxForge {m['fluxforge']} bench, {m['date']}")
    print(
        f"machine: {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}, "
        f"pyzmq {m['pyzmq']} (libzmq {m['libzmq']}), msgpack {m['msgpack']}, "
        f"pynacl {m['pynacl']}"
    )
    print()
    print_startup(report)
    mi = report.get("master_ingest")
    if mi:
        print(
            f"master ingest, one core: {mi['returns_per_s']:,.0f} returns/s "
            f"({mi['returns']:,} pre-sealed returns, {mi['lost']} lost); master CPU per return "
            f"{mi['master_cpu_us_per_return']:.0f} us, of which the event loop's thread "
            f"{mi['loop_cpu_us_per_return']:.0f} us\n"
        )
    st = report.get("state_apply", {})
    if "first" in st:
        print(
            f"| `ff '*' state.apply`, {st['states']} states on {st['minions']} minions | "
            "median | p95 |\n|---|---|---|"
        )
        print(f"| first run (every state changes) | {fmt(st['first'])} | |")
        for key, title in (("unchanged", "again (no changes)"), ("test", "test=True")):
            print(f"| {title} | {fmt(st[key]['median'])} | {fmt(st[key]['p95'])} |")
        print()
    elif st:
        print(f"state.apply: failed: {st.get('error')}\n")
    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        (
            "`ff '*' test.ping` CLI (median / p95)",
            lambda r: f"{fmt(r['cli test.ping']['median'])} / {fmt(r['cli test.ping']['p95'])}",
        ),
        (
            "`ff '*' cmd.run true` CLI (median / p95)",
            lambda r: (
                f"{fmt(r['cli cmd.run true']['median'])} / {fmt(r['cli cmd.run true']['p95'])}"
            ),
        ),
        (
            "publish -> last return, test.ping (median / p95)",
            lambda r: (
                f"{fmt(r['pub->last test.ping']['median'])} / "
                f"{fmt(r['pub->last test.ping']['p95'])}"
            ),
        ),
        (
            "publish -> last return, `-C 'G@kernel:Linux and m*'` test.ping (median / p95)",
            lambda r: (
                f"{fmt(r['pub->last compound']['median'])} / {fmt(r['pub->last compound']['p95'])}"
            ),
        ),
        (
            "publish -> last return, cmd.run true (median / p95)",
            lambda r: (
                f"{fmt(r['pub->last cmd.run true']['median'])} / "
                f"{fmt(r['pub->last cmd.run true']['p95'])}"
            ),
        ),
        ("start N minions -> all authenticated", lambda r: fmt(r["auth_herd_s"])),
        ("master restart -> all answering", lambda r: fmt(r["restart_to_answering_s"])),
        (
            "returns/s ingested (returns lost)",
            lambda r: f"{r['ingest']['returns_per_s']:,.0f} ({r['ingest']['lost']})",
        ),
        ("master CPU per job", lambda r: fmt(r["master_cpu_per_job_s"])),
        ("master RSS", lambda r: f"{r['master_rss_mib']:.1f} MiB"),
    ]
    results = report.get("results", [])

    def safe(cell: Callable[[dict[str, Any]], str], r: dict[str, Any]) -> str:
        try:
            return cell(r)
        except (KeyError, TypeError):
            return "failed"

    if results:
        print("| N minions | " + " | ".join(str(r["n"]) for r in results) + " |")
        print("|---|" + "---|" * len(results))
        for title, cell in rows:
            print(f"| {title} | " + " | ".join(safe(cell, r) for r in results) + " |")
    if "salt" in report:
        print("\n| vs Salt 3008.5 (CLI wall, median) | Salt | FluxForge | Salt / FluxForge |")
        print("|---|---|---|---|")
        for row in report["salt"]:
            for key in ("test.ping", "cmd.run true"):
                salt_s, ff_s = row["salt"][key]["median"], row["fluxforge"][key]["median"]
                print(
                    f"| `{key}` N={row['n']} | {fmt(salt_s)} | {fmt(ff_s)} | {salt_s / ff_s:.1f}x |"
                )
            for key, title in (("start_to_answering_s", "start N -> all answering"),):
                salt_s, ff_s = row["salt"][key], row["fluxforge"][key]
                print(
                    f"| {title} N={row['n']} | {fmt(salt_s)} | {fmt(ff_s)} | {salt_s / ff_s:.1f}x |"
                )
            print(
                f"| master RSS N={row['n']} | {row['salt']['master_rss_mib']:.0f} MiB | "
                f"{row['fluxforge']['master_rss_mib']:.0f} MiB | |"
            )
            print(
                f"| minion RSS | {row['salt']['minion_rss_mib']:.0f} MiB | "
                f"{report['startup']['minion_rss_mib']:.0f} MiB | |"
            )


def print_startup(report: dict[str, Any]) -> None:
    """The start-up table: each row against the baseline, and Salt's one-of-50 against ff's."""
    s = report["startup"]
    salt: dict[str, Any] = next((r["salt"] for r in report.get("salt", []) if r["n"] == 50), {})
    salt_one = salt.get("test.ping one", {}).get("median")
    base = s[BASELINE]["median"]
    print(
        f"| CLI start-up, {s[BASELINE]['runs']} rounds side by side | median | p95 | "
        f"/ `{BASELINE}` | `salt <one of 50> test.ping` / this |"
    )
    print("|---|---|---|---|---|")
    for key in STARTUP_ROWS:
        median = s[key]["median"]
        versus = f"{salt_one / median:.1f}x" if salt_one and key.startswith("ff <one") else ""
        print(
            f"| `{key}` | {fmt(median)} | {fmt(s[key]['p95'])} | {median / base:.2f}x | {versus} |"
        )
    if salt_one:
        p95 = salt["test.ping one"]["p95"]
        print(
            f"| `salt <one of 50> test.ping` (Salt {salt.get('version', '?')}) | "
            f"{fmt(salt_one)} | {fmt(p95)} | {salt_one / base:.2f}x | |"
        )
    print(f"\nRSS of one real ff-minion: {s['minion_rss_mib']:.1f} MiB\n")


def compare_salt(
    args: argparse.Namespace, sizes: tuple[int, ...] = (10, 50)
) -> list[dict[str, Any]]:
    """Salt and FluxForge side by side at each N of ``sizes``, in this run."""
    sys.path.insert(0, str(Path(__file__).parent))
    import salt_compare

    bin_dir = salt_compare.ensure_salt(str(Path(".bench/salt-venv").resolve()))
    rows = []
    for n in sizes:
        log(f"Salt N={n}")
        work = Path(".bench/work").resolve()
        work.mkdir(parents=True, exist_ok=True)
        salt = salt_compare.run_salt_bench(n, args.runs, str(work), bin_dir, log=log)
        time.sleep(3)  # let the machine settle after Salt's processes are gone
        log(f"FluxForge N={n}")
        ours: dict[str, Any] = {}
        with Bench(n, args.procs, args.runs) as b:
            b.start()
            ours["start_to_answering_s"] = b.start_to_answering
            for key, argv in (("test.ping", ["test.ping"]), ("cmd.run true", ["cmd.run", "true"])):
                try:
                    ours[key] = b.cli("m*", *argv, "-t", "10")
                except RuntimeError as exc:
                    log(f"FluxForge N={n}: {key} failed: {exc}"[:300])
                    ours[key] = {"median": float("nan"), "p95": float("nan"), "error": str(exc)}
            ours["master_rss_mib"] = tree_rss(b.master_pid)
        rows.append({"n": n, "salt": salt, "fluxforge": ours})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minions", default="1,10,100,1000", help="comma-separated N list")
    parser.add_argument("--runs", type=int, default=10, help="runs per timing (R)")
    parser.add_argument("--procs", type=int, default=os.cpu_count() or 1, help="swarm processes")
    parser.add_argument(
        "--ingest-returns", type=int, default=20000, help="returns to stream for the ingest figure"
    )
    parser.add_argument(
        "--ingest-peers", type=int, default=100, help="identities sending pre-sealed returns"
    )
    parser.add_argument(
        "--ingest-jobs", type=int, default=500, help="jobs each identity returns for"
    )
    parser.add_argument("--json", dest="json_file", help="also write every figure here")
    parser.add_argument(
        "--compare-salt", action="store_true", help="also run Salt 3008.5 at N = 10 and 50"
    )
    parser.add_argument(
        "--startup-only",
        action="store_true",
        help="only the start-up rows (with --compare-salt: and Salt at N = 50 only)",
    )
    parser.add_argument(
        "--sealing",
        default="",
        help="comma-separated N list: list jobs sealed to each minion against the session key",
    )
    parser.add_argument(
        "--sealing-swarm-max",
        type=int,
        default=5000,
        help="measure the sealing bench with a swarm up to this N (above it: the master alone)",
    )
    parser.add_argument("--sealing-only", action="store_true", help="only the sealing table")
    args = parser.parse_args()
    try:
        counts = [int(x) for x in args.minions.split(",") if x.strip()]
    except ValueError:
        parser.error(f"--minions must be numbers separated by commas, got {args.minions!r}")
    report: dict[str, Any] = {"machine": machine(), "args": vars(args)}
    if args.sealing:
        report["sealing"] = sealing_bench(args)
    if args.sealing_only:
        print_sealing(report)
        write_json(report, args.json_file)
        return
    log("CLI start-up costs")
    report["startup"] = startup_costs(args.runs)
    if not args.startup_only:
        log("master ingest (pre-sealed returns)")
        report["master_ingest"] = master_ingest(args.ingest_peers, args.ingest_jobs)
        log(f"state.apply, {STATE_COUNT} states on {STATE_MINIONS} minions")
        try:
            report["state_apply"] = state_apply(args.runs)
        except Exception as exc:
            log(f"state.apply failed: {exc}"[:300])
            report["state_apply"] = {"error": str(exc)[:300]}
        report["results"] = [measure(n, args) for n in counts]
    if args.compare_salt:
        report["salt"] = compare_salt(args, (50,) if args.startup_only else (10, 50))
    print_tables(report)
    if "sealing" in report:
        print()
        print_sealing(report)
    write_json(report, args.json_file)


def write_json(report: dict[str, Any], path: str | None) -> None:
    """Every figure as JSON in ``path``, if given."""
    if path:
        Path(path).write_text(json.dumps(report, indent=2, sort_keys=True))
        log(f"wrote {path}")


def sealing_bench(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Per-minion sealing against session sealing (``scripts/bench_sealing.py``)."""
    sys.path.insert(0, str(Path(__file__).parent))
    import bench_sealing

    sizes = [int(x) for x in args.sealing.split(",") if x.strip()]
    return bench_sealing.measure(sizes, args.runs, args.procs, summary, log, args.sealing_swarm_max)


def print_sealing(report: dict[str, Any]) -> None:
    import bench_sealing

    m = report["machine"]
    print(f"# FluxForge {m['fluxforge']} sealing bench, {m['date']}, {m['cores']} cores\n")
    bench_sealing.print_table(report["sealing"], fmt)


if __name__ == "__main__":
    main()
