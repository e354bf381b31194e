"""The SQLite job cache and minion data cache pass the stores' conformance suite."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from fluxforge.master.stores import JobStore, MinionDataStore
from fluxforge.master.stores.jobcache import JobCache
from fluxforge.master.stores.minioncache import MinionCache
from fluxforge.testing import JobStoreSuite, MinionDataStoreSuite


class TestJobCache(JobStoreSuite):
    factory = JobCache


class TestMinionCache(MinionDataStoreSuite):
    factory = MinionCache


def test_the_sqlite_stores_have_the_interfaces_statically(tmp_path: Path) -> None:
    # mypy checks these assignments: the classes match the Protocols.
    jobs: JobStore = JobCache(str(tmp_path))
    minions: MinionDataStore = MinionCache(str(tmp_path))
    jobs.close()
    minions.close()


@pytest.mark.parametrize(("factory", "name"), [(JobCache, "jobs"), (MinionCache, "minions")])
def test_the_cache_files_are_private(tmp_path: Path, factory: type, name: str) -> None:
    # The minion data cache holds pillar, which may be secret; returns may be too.
    factory(str(tmp_path)).close()
    mode = stat.S_IMODE(os.stat(tmp_path / f"{name}.sqlite").st_mode)
    assert mode == 0o600
