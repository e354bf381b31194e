"""Batch mode without processes: the size, the sliding window, the notes."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from fluxforge.client.batch import BatchSize, Window, parse_batch_size
from fluxforge.client.local import succeeded, unknown_note
from fluxforge.errors import UsageError


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1", BatchSize(Fraction(1), False)),
        ("10", BatchSize(Fraction(10), False)),
        (" 3 ", BatchSize(Fraction(3), False)),
        ("10%", BatchSize(Fraction(10), True)),
        ("100%", BatchSize(Fraction(100), True)),
        ("12.5%", BatchSize(Fraction(25, 2), True)),
        ("0.5%", BatchSize(Fraction(1, 2), True)),
    ],
)
def test_parse_batch_size(text: str, size: BatchSize) -> None:
    assert parse_batch_size(text) == size


@pytest.mark.parametrize(
    "text", ["0", "-1", "abc", "", "2.5", "0%", "150%", "100.1%", "%", "-5%", "1e2", "nan%", "٣"]
)
def test_parse_batch_size_rejects(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_batch_size(text)
    assert f"got {text!r}" in str(caught.value)
    assert "batch size" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "minions", "count"),
    [
        ("2", 5, 2),
        ("10", 3, 10),  # the window simply never fills
        ("50%", 4, 2),
        ("50%", 5, 3),  # rounded up
        ("10%", 3, 1),  # 0.3 rounds up to 1
        ("1%", 1, 1),
        ("30%", 10, 3),  # exact: no float rounding up to 4
        ("100%", 7, 7),
        ("12.5%", 8, 1),
        ("12.5%", 9, 2),
    ],
)
def test_batch_size_count(text: str, minions: int, count: int) -> None:
    assert parse_batch_size(text).count(minions) == count


def test_batch_size_str() -> None:
    assert str(parse_batch_size("25%")) == "25%"
    assert str(parse_batch_size("12.5%")) == "12.5%"
    assert str(parse_batch_size("4")) == "4"


def test_window_starts_size_then_one_per_return() -> None:
    w = Window(["a", "b", "c", "d", "e"], 2, 0.0, now=0.0)
    assert w.take(0.0) == ["a", "b"]
    assert w.take(1.0) == []  # both slots busy
    assert w.next_start() is None  # waiting for a return
    w.finish("b", 2.0)
    assert w.take(2.0) == ["c"]
    w.finish("a", 3.0)
    w.finish("c", 3.0)
    assert w.take(3.0) == ["d", "e"]
    assert not w.done
    w.finish("d", 4.0)
    w.finish("e", 4.0)
    assert w.done and w.take(5.0) == []


def test_window_batch_wait_delays_the_replacement() -> None:
    w = Window(["a", "b", "c"], 1, 5.0, now=0.0)
    assert w.take(0.0) == ["a"]
    w.finish("a", 1.0)
    assert w.next_start() == 6.0
    assert w.take(5.9) == []
    assert w.take(6.0) == ["b"]
    w.finish("b", 7.0)
    assert w.take(11.0) == []
    assert w.take(12.0) == ["c"]


def test_window_stop_lets_running_finish() -> None:
    w = Window(["a", "b", "c", "d"], 2, 0.0, now=0.0)
    assert w.take(0.0) == ["a", "b"]
    w.finish("a", 1.0)
    assert w.stop() == ["c", "d"]
    assert w.take(1.0) == [] and w.next_start() is None
    assert not w.done  # b still runs
    w.finish("b", 2.0)
    assert w.done and w.skipped == ["c", "d"]


def test_window_size_larger_than_minions_and_repeats() -> None:
    w = Window(["a", "b", "a"], 10, 0.0, now=0.0)
    assert w.take(0.0) == ["a", "b"]
    w.finish("a", 1.0)
    w.finish("b", 1.0)
    assert w.done


def test_window_empty_is_done() -> None:
    assert Window([], 3, 0.0, now=0.0).done


def test_window_rejects_size_zero() -> None:
    with pytest.raises(ValueError):
        Window(["a"], 0, 0.0, now=0.0)


@pytest.mark.parametrize("seed", range(20))
def test_window_simulation_never_exceeds_size(seed: int) -> None:
    """Random return order: each minion starts once, never more than size at once."""
    rng = random.Random(seed)
    minions = [f"m{i}" for i in range(rng.randint(1, 30))]
    size = rng.randint(1, 6)
    wait = rng.choice([0.0, 0.5, 2.0])
    w = Window(minions, size, wait, now=0.0)
    now = 0.0
    started: list[str] = []
    while not w.done:
        started += w.take(now)
        assert len(w.running) <= size
        next_start = w.next_start()
        if w.running and (next_start is None or rng.random() < 0.7):
            now += rng.random()
            w.finish(rng.choice(sorted(w.running)), now)
        else:
            assert next_start is not None
            now = max(now, next_start)
    assert started == minions


def test_succeeded() -> None:
    assert succeeded({"success": True, "retcode": 0})
    assert succeeded({"success": True})
    assert not succeeded({"success": False, "retcode": 0})
    assert not succeeded({"success": True, "retcode": 3})
    assert not succeeded({})


def test_unknown_note() -> None:
    assert unknown_note(["a", "b"]) == (
        "2 minion(s) with no cached grains or pillar did not answer (not targeted, or down): a, b"
    )
