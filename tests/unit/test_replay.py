"""Replay guards: request counters, publication jids and their floor on disk, auth challenges."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from fluxforge.protocol.jids import JidFactory
from fluxforge.protocol.replay import Challenges, CounterWindow, FloorFile, JidWindow

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


# -- Challenges ---------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_challenge_redeems_once_for_its_request() -> None:
    clock = Clock()
    c = Challenges(ttl=30, clock=clock)
    challenge = c.issue(b"web1", b"k" * 32, b"n" * 24)
    assert len(challenge) == Challenges.SIZE
    clock.now += 29
    assert c.redeem(challenge, b"web1", b"k" * 32, b"n" * 24) == ""
    assert "already used" in c.redeem(challenge, b"web1", b"k" * 32, b"n" * 24)


def test_challenge_is_bound_to_id_key_and_nonce() -> None:
    c = Challenges(clock=Clock())
    challenge = c.issue(b"web1", b"k" * 32, b"n" * 24)
    for parts in (
        (b"web2", b"k" * 32, b"n" * 24),
        (b"web1", b"j" * 32, b"n" * 24),
        (b"web1", b"k" * 32, b"m" * 24),
        (b"web1k", b"" + b"k" * 31, b"n" * 24),  # moving bytes between parts changes the MAC
    ):
        assert "did not give" in c.redeem(challenge, *parts), parts
    assert c.redeem(challenge, b"web1", b"k" * 32, b"n" * 24) == ""


def test_challenge_of_another_process_or_malformed_is_refused() -> None:
    clock = Clock()
    other = Challenges(clock=clock).issue(b"web1", b"k", b"n")
    c = Challenges(clock=clock)
    assert "did not give" in c.redeem(other, b"web1", b"k", b"n")
    assert "no challenge" in c.redeem(b"short", b"web1", b"k", b"n")
    assert "no challenge" in c.redeem(b"", b"web1", b"k", b"n")


def test_challenge_expires() -> None:
    clock = Clock()
    c = Challenges(ttl=30, clock=clock)
    challenge = c.issue(b"web1", b"k", b"n")
    clock.now += 30.5
    assert "older than 30s" in c.redeem(challenge, b"web1", b"k", b"n")
    # A stamp from the future (a forged one could not carry a good MAC anyway).
    clock.now -= 60
    assert "older than" in c.redeem(challenge, b"web1", b"k", b"n")


def test_redeemed_challenges_are_forgotten_once_expired() -> None:
    clock = Clock()
    c = Challenges(ttl=30, keep=1000, clock=clock)
    for n in range(100):
        nonce = n.to_bytes(4, "big")
        assert c.redeem(c.issue(b"web1", b"k", nonce), b"web1", b"k", nonce) == ""
    assert len(c._redeemed) == 100
    clock.now += 31
    nonce = b"last"
    assert c.redeem(c.issue(b"web1", b"k", nonce), b"web1", b"k", nonce) == ""
    assert len(c._redeemed) == 1


def test_redeemed_challenges_are_bounded() -> None:
    c = Challenges(ttl=30, keep=10, clock=Clock())
    for n in range(50):
        nonce = n.to_bytes(4, "big")
        assert c.redeem(c.issue(b"web1", b"k", nonce), b"web1", b"k", nonce) == ""
    assert len(c._redeemed) <= 10


# -- FloorFile ----------------------------------------------------------------

MASTER = b"m" * 32
JID = "20261202010203040506"


def test_floor_file_round_trip_is_0600(tmp_path: Path) -> None:
    path = tmp_path / "replay" / "web1.floor"
    f = FloorFile(str(path))
    assert f.load(MASTER) == ("", "")
    f.save(JID, MASTER)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert len(path.read_bytes()) == FloorFile.LENGTH
    later = "20261202010203040507"
    f.save(later, MASTER)
    f.save(JID, MASTER)  # lower: ignored
    f.close()
    assert FloorFile(str(path)).load(MASTER) == (later, "")


def test_floor_file_is_only_for_its_master(tmp_path: Path) -> None:
    path = str(tmp_path / "web1.floor")
    FloorFile(path).save(JID, MASTER)
    f = FloorFile(path)
    assert f.load(b"o" * 32) == ("", "")
    # The next save replaces the other master's floor.
    f.save("20261202010203040500", b"o" * 32)
    assert FloorFile(path).load(b"o" * 32) == ("20261202010203040500", "")
    assert FloorFile(path).load(MASTER) == ("", "")


def test_floor_file_damage_is_reported_and_ignored(tmp_path: Path) -> None:
    path = tmp_path / "web1.floor"
    FloorFile(str(path)).save(JID, MASTER)
    good = path.read_bytes()
    for damaged in (good[:-10], good.replace(b"2026", b"2027", 1), b"", b"x" * FloorFile.LENGTH):
        path.write_bytes(damaged)
        jid, problem = FloorFile(str(path)).load(MASTER)
        assert jid == "" and "damaged" in problem, damaged
    # A damaged file is replaced whole by the next save.
    f = FloorFile(str(path))
    f.load(MASTER)
    f.save(JID, MASTER)
    assert path.read_bytes() == good


def test_floor_file_ignores_malformed_jids_and_recreates_a_removed_file(tmp_path: Path) -> None:
    path = tmp_path / "web1.floor"
    f = FloorFile(str(path))
    for bad in ("", "123", "x" * 20, "9" * 21):
        f.save(bad, MASTER)
    assert not path.exists()
    f.save(JID, MASTER)
    path.unlink()
    f.save("20261202010203040599", MASTER)
    assert FloorFile(str(path)).load(MASTER) == ("20261202010203040599", "")
