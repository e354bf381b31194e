"""Shared fixtures: a real cluster on loopback, and leak checks."""

from __future__ import annotations

from collections.abc import Iterator

import psutil
import pytest

from fluxforge.testing import Cluster


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A master config on free ports in a fresh folder; processes are stopped after."""
    with Cluster() as c:
        yield c


@pytest.fixture(autouse=True)
def no_leaked_processes() -> Iterator[None]:
    """Fail a test that leaves child processes running."""
    yield
    me = psutil.Process()
    alive = [p for p in me.children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE]
    if alive:
        for proc in alive:
            proc.kill()
        pytest.fail(f"test leaked processes: {[p.cmdline() for p in alive]}")
