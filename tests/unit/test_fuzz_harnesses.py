"""The fuzz targets (tests/fuzz/harnesses.py) without atheris: seeds, saved crashers, mutations.

Every saved crasher (tests/fuzz/crashers/<target>/) must now be handled
with a documented error, and the seeds must exercise the code (most of them
are accepted, not refused at the first check). The coverage-guided runs are
``scripts/fuzz`` and the bounded step of ``scripts/test``.
"""

from __future__ import annotations

import importlib.util
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def _harnesses() -> Any:
    path = Path(__file__).parents[1] / "fuzz" / "harnesses.py"
    spec = importlib.util.spec_from_file_location("ff_fuzz_harnesses", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


harnesses = _harnesses()
NAMES = sorted(harnesses.TARGETS)


@pytest.fixture(autouse=True)
def _closed() -> Iterator[None]:
    yield
    harnesses.close()


@pytest.mark.parametrize("name", NAMES)
def test_seeds_are_real_inputs_that_the_target_accepts(name: str) -> None:
    target = harnesses.TARGETS[name]
    seeds = target.seeds()
    accepted = 0
    for seed in seeds:
        try:
            target.run(seed)
            accepted += 1
        except target.allowed:
            pass
    assert seeds and accepted * 2 >= len(seeds), f"{name}: {accepted} of {len(seeds)} accepted"


@pytest.mark.parametrize("name", NAMES)
def test_saved_crashers_and_mutated_seeds_raise_only_documented_errors(name: str) -> None:
    target = harnesses.TARGETS[name]
    for crasher in harnesses.crashers(name):
        harnesses.run_one(target, crasher.read_bytes())
    rnd = random.Random(name)
    seeds = target.seeds()
    for _ in range(200):
        data = bytearray(rnd.choice(seeds))
        for _ in range(rnd.randint(1, 4)):
            if data:
                data[rnd.randrange(len(data))] = rnd.randrange(256)
        harnesses.run_one(target, bytes(data))


def test_an_undocumented_error_is_a_crash() -> None:
    target = harnesses.Target("t", lambda data: {}[data], lambda: [b""], (ValueError,))
    with pytest.raises(harnesses.Crash, match="t: KeyError"):
        harnesses.run_one(target, b"x")
