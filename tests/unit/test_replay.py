"""Replay windows: request counters and publication jids."""

from __future__ import annotations

from fluxforge.protocol.jids import JidFactory
from fluxforge.protocol.replay import CounterWindow, JidWindow

# -- CounterWindow ----------------------------------------------------------


def test_counter_accepts_each_value_once() -> None:
    w = CounterWindow(size=16)
    for value in range(100):
        assert w.accept(value) is True
        assert w.accept(value) is False
    assert w.highest == 99


def test_counter_out_of_order_within_window() -> None:
    w = CounterWindow(size=16)
    assert w.accept(10)
    assert w.accept(5)
    assert w.accept(7)
    assert w.accept(6)
    assert not w.accept(5)
    assert w.accept(0)  # 0 > 10 - 16
    assert w.highest == 10


def test_counter_rejects_far_below_window() -> None:
    w = CounterWindow(size=16)
    assert w.accept(100)
    assert not w.accept(84)  # exactly highest - size
    assert not w.accept(0)
    assert w.accept(85)  # just inside


def test_counter_rejects_negative() -> None:
    w = CounterWindow(size=16)
    assert not w.accept(-1)
    assert w.accept(0)


def test_counter_default_size() -> None:
    w = CounterWindow()
    assert w.size == 4096
    assert w.accept(5000)
    assert not w.accept(5000 - 4096)
    assert w.accept(5000 - 4095)


def test_counter_memory_is_bounded_and_replays_still_refused() -> None:
    w = CounterWindow(size=8)
    for value in range(1000):
        assert w.accept(value)
    assert len(w._seen) <= 2 * w.size + 1
    for value in range(1000):
        assert not w.accept(value), value


def test_counter_large_jump_closes_old_values() -> None:
    w = CounterWindow(size=8)
    assert w.accept(1)
    assert w.accept(1000)
    assert not w.accept(2)


# -- JidWindow --------------------------------------------------------------


def test_jid_duplicates_rejected() -> None:
    w = JidWindow()
    jid = "20240101000000000001"
    assert w.accept(jid)
    assert not w.accept(jid)
    assert w.accept("20240101000000000002")


def test_jid_out_of_order_accepted_once() -> None:
    w = JidWindow()
    assert w.accept("20240101000000000005")
    assert w.accept("20240101000000000003")
    assert not w.accept("20240101000000000003")


def test_jid_below_floor_rejected() -> None:
    w = JidWindow()
    w.floor = "20240101000000000000"
    assert not w.accept("20231231235959999999")
    assert w.accept("20240101000000000001")


def test_jid_many_unique_all_accepted() -> None:
    factory = JidFactory()
    w = JidWindow(keep=100)
    made = [factory.next() for _ in range(500)]
    assert all(w.accept(j) for j in made)
    assert len(w._seen) == 100
    # evicted ones raised the floor and are refused
    assert not any(w.accept(j) for j in made[:399])
    assert not any(w.accept(j) for j in made[400:])


def test_jid_evicted_at_floor_is_refused() -> None:
    w = JidWindow(keep=2)
    a, b, c = "20240101000000000001", "20240101000000000002", "20240101000000000003"
    assert w.accept(a) and w.accept(b) and w.accept(c)
    assert w.floor == a
    assert not w.accept(a)
