"""Shared fixtures: a real cluster on loopback, the test tiers, and leak checks.

Each folder under ``tests/`` is a tier, and every test in it carries the
tier's marker, so ``pytest -m unit`` (or ``functional``, ``host``,
``integration``, ``security``) runs one tier; ``./scripts/test`` runs them all.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import zmq

from fluxforge.testing import Cluster

TIERS = ("unit", "functional", "host", "integration", "security")
_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with the tier of the folder it lives in."""
    for item in items:
        try:
            tier = Path(str(item.path)).resolve().relative_to(_HERE).parts[0]
        except ValueError:
            continue
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A master config in a fresh folder (port 0: the master reports its ports); stopped after."""
    with Cluster() as c:
        yield c


def _open_fds() -> set[int]:
    try:
        return {int(name) for name in os.listdir("/proc/self/fd")}
    except OSError:  # not Linux: nothing to compare
        return set()


def _fd_target(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return "?"


# Threads that libraries start once per process and keep: not leaks of a test.
_LASTING_THREADS = ("asyncio_", "ThreadPoolExecutor-")


def _threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.is_alive() and t is not threading.main_thread()}


@pytest.fixture(scope="session", autouse=True)
def _lasting_zmq_context() -> None:
    """Start the process's shared zmq context up front.

    ``zmq.Context.instance()`` (which the local client uses) lives as long as
    the process and keeps the descriptors of its I/O thread; started here,
    those are not counted against the first test that happens to use it.
    """
    zmq.Context.instance().socket(zmq.DEALER).close(0)


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """Fail a test that leaves child processes, threads or file descriptors behind."""
    threads_before = _threads()
    fds_before = _open_fds()
    yield
    me = psutil.Process()
    alive = [p for p in me.children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE]
    if alive:
        for proc in alive:
            proc.kill()
        pytest.fail(f"test leaked processes: {[p.cmdline() for p in alive]}")
    extra_threads = [
        t for t in _threads() - threads_before if not t.name.startswith(_LASTING_THREADS)
    ]
    for thread in extra_threads:
        thread.join(timeout=2.0)
    leaked_threads = [t.name for t in extra_threads if t.is_alive()]
    if leaked_threads:
        pytest.fail(f"test leaked threads: {leaked_threads}")
    leaked_fds = _open_fds() - fds_before
    if leaked_fds:
        # A descriptor opened by the test's own teardown may still be closing.
        leaked_fds = {fd for fd in leaked_fds if os.path.exists(f"/proc/self/fd/{fd}")}
    if leaked_fds:
        pytest.fail(f"test leaked file descriptors: {sorted(_fd_target(fd) for fd in leaked_fds)}")
