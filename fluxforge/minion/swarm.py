"""A swarm: many minions in one process, sharing one event loop.

Each swarm minion is a real :class:`~fluxforge.minion.daemon.Minion` with
its own keys (under ``pki_dir/swarm/<id>``), its own sockets, and the real
auth, decrypt, verify, target-match, execute and return path. What they
share is what a process has once: the zmq context, the loaded modules, the
worker threads and the core grains. ``ff-minion --swarm N`` spreads the
minions over ``--procs`` processes so that every core is used.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import gc
import logging
import os
import signal
import subprocess
import sys
from typing import Any

import zmq

from fluxforge.config import MinionConfig
from fluxforge.grains.core import all_grains
from fluxforge.minion.daemon import Minion
from fluxforge.plugins.loader import execution_functions, state_functions
from fluxforge.protocol.crypto import MinionIdentity

log = logging.getLogger("fluxforge.swarm")

# Each minion holds two sockets; zmq adds a few descriptors of its own.
FDS_PER_MINION = 4


def swarm_ids(prefix: str, start: int, stop: int) -> list[str]:
    """The ids of swarm minions ``start`` to ``stop - 1``."""
    return [f"{prefix}{i}" for i in range(start, stop)]


def minion_config(base: MinionConfig, minion_id: str) -> MinionConfig:
    """The config of one swarm minion: the base with its own id and key folder."""
    return dataclasses.replace(
        base, id=minion_id, pki_dir=os.path.join(base.pki_dir, "swarm", minion_id)
    )


async def run_slice(base: MinionConfig, ids: list[str], stop: asyncio.Event) -> None:
    """Run the minions ``ids`` in this process until ``stop`` is set."""
    ctx: zmq.Context[Any] = zmq.Context()
    ctx.setsockopt(zmq.LINGER, 0)
    ctx.set(zmq.MAX_SOCKETS, max(1024, 2 * len(ids) + 64))
    # One loader of each kind and one cachedir for the whole slice: a synced
    # module or state reaches every swarm minion of the process at once.
    funcs = execution_functions(base.cachedir)
    states = state_functions(base.cachedir)
    pool = concurrent.futures.ThreadPoolExecutor(base.worker_threads, thread_name_prefix="job")
    core = all_grains(base)
    minions = []
    for minion_id in ids:
        cfg = minion_config(base, minion_id)
        grains = {**core, "id": minion_id}
        identity = MinionIdentity.load(cfg.pki_dir)
        minions.append(Minion(cfg, identity, ctx, funcs, pool, grains, states))
    # Thousands of long-lived minion objects make every full garbage
    # collection walk a large heap; move them out of the collector's sight.
    gc.collect()
    gc.freeze()
    loop = asyncio.get_running_loop()
    starters = [loop.create_task(m.start()) for m in minions]
    log.info("swarm of %d minions started (%s .. %s)", len(ids), ids[0], ids[-1])
    await stop.wait()
    for task in starters:
        task.cancel()
    for task in starters:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await asyncio.gather(*(m.stop() for m in minions), return_exceptions=True)
    pool.shutdown(wait=False, cancel_futures=True)
    ctx.term()


def serve_slice(base: MinionConfig, ids: list[str]) -> None:
    """Run one slice of a swarm in the foreground until SIGTERM or SIGINT."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_slice(base, ids, stop)

    asyncio.run(main())


def split(count: int, parts: int) -> list[tuple[int, int]]:
    """Split ``range(count)`` into ``parts`` contiguous ranges of near-equal size."""
    parts = max(1, min(parts, count))
    size, extra = divmod(count, parts)
    ranges, start = [], 0
    for i in range(parts):
        stop = start + size + (1 if i < extra else 0)
        ranges.append((start, stop))
        start = stop
    return ranges


def serve_swarm(config_path: str, count: int, prefix: str, procs: int, log_level: str) -> int:
    """Start ``procs`` processes that together run ``count`` minions; wait for them.

    SIGTERM or SIGINT is passed on to every process; returns the worst exit code.
    """
    children = []
    for start, stop in split(count, procs):
        argv = [
            sys.argv[0],
            "-c",
            config_path,
            "--log-level",
            log_level,
            "--swarm-range",
            f"{prefix}:{start}:{stop}",
        ]
        children.append(subprocess.Popen(argv))

    def forward(signum: int, frame: Any) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    codes = [child.wait() for child in children]
    return max((abs(c) for c in codes), default=0)
