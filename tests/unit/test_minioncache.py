"""The master's minion data cache: grains and pillar per minion, surviving restarts."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fluxforge.master.minioncache import MinionCache


def _reopened(path: Path, read: Callable[[MinionCache], Any]) -> Any:
    """What ``read`` finds in the cache at ``path`` opened afresh (closed after)."""
    cache = MinionCache(str(path))
    try:
        return read(cache)
    finally:
        cache.close()


def test_grains_and_pillar_survive_a_reopen(tmp_path: Path) -> None:
    cache = MinionCache(str(tmp_path))
    assert cache.get("web1") == (None, None)
    cache.set_grains("web1", {"roles": ["web"], "num_cpus": 4})
    assert cache.get("web1") == ({"roles": ["web"], "num_cpus": 4}, None)
    cache.set_pillar("web1", {"db": {"password": "x"}})
    cache.set_grains("db1", {"roles": ["db"]})
    cache.close()

    again = MinionCache(str(tmp_path))
    assert again.get("web1") == ({"roles": ["web"], "num_cpus": 4}, {"db": {"password": "x"}})
    assert again.grains("db1") == {"roles": ["db"]}
    assert again.ids() == ["db1", "web1"]
    again.close()


def test_new_grains_replace_old_and_keep_pillar(tmp_path: Path) -> None:
    cache = MinionCache(str(tmp_path))
    cache.set_pillar("web1", {"a": 1})
    cache.set_grains("web1", {"v": 1})
    cache.set_grains("web1", {"v": 2})
    cache.close()
    assert _reopened(tmp_path, lambda c: c.get("web1")) == ({"v": 2}, {"a": 1})


def test_forget_drops_an_entry_for_good(tmp_path: Path) -> None:
    cache = MinionCache(str(tmp_path))
    cache.set_grains("web1", {"v": 1})
    cache.set_grains("web2", {"v": 1})
    cache.forget(["web1", "never-seen"])
    assert cache.get("web1") == (None, None)
    cache.close()
    assert _reopened(tmp_path, lambda c: c.ids()) == ["web2"]


def test_the_cache_file_is_private(tmp_path: Path) -> None:
    # It holds pillar, which may be secret.
    MinionCache(str(tmp_path)).close()
    mode = stat.S_IMODE(os.stat(tmp_path / "minions.sqlite").st_mode)
    assert mode == 0o600


def test_a_failed_pillar_compile_leaves_the_pillar_unknown(tmp_path: Path) -> None:
    cache = MinionCache(str(tmp_path))
    cache.set_grains("web1", {"v": 1})
    cache.set_pillar("web1", {"old": True})
    cache.set_pillar("web1", None)
    assert cache.get("web1") == ({"v": 1}, None)
    cache.close()
    assert _reopened(tmp_path, lambda c: c.get("web1")) == ({"v": 1}, None)
