"""Job ids: 20 digits of UTC time, strictly increasing."""

from __future__ import annotations

import datetime
import itertools
import threading
import time
from collections.abc import Iterator

import pytest

from fluxforge.protocol import jids
from fluxforge.protocol.jids import JidFactory, jid_from_time, valid_jid


def _parse(jid: str) -> datetime.datetime:
    return datetime.datetime.strptime(jid, "%Y%m%d%H%M%S%f").replace(tzinfo=datetime.UTC)


def test_jid_is_20_digits_utc_near_now() -> None:
    before = datetime.datetime.now(datetime.UTC)
    jid = JidFactory().next()
    after = datetime.datetime.now(datetime.UTC)
    assert len(jid) == 20 and jid.isdigit()
    assert valid_jid(jid)
    moment = _parse(jid)
    assert before - datetime.timedelta(seconds=1) <= moment <= after + datetime.timedelta(seconds=1)
    assert abs((moment - before).total_seconds()) < 5


@pytest.fixture
def far_timezone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run with a local time zone 5h30 east of UTC."""
    monkeypatch.setenv("TZ", "XST-05:30")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("far_timezone")
def test_jid_is_utc_not_local_time() -> None:
    assert time.localtime().tm_gmtoff == 5 * 3600 + 1800
    jid = JidFactory().next()
    assert abs(_parse(jid).timestamp() - time.time()) < 5
    assert abs(_parse(jid_from_time(time.time())).timestamp() - time.time()) < 5


def test_strictly_increasing_in_tight_loop() -> None:
    factory = JidFactory()
    made = [factory.next() for _ in range(10000)]
    assert all(len(j) == 20 and j.isdigit() for j in made)
    assert all(a < b for a, b in itertools.pairwise(made))
    assert all(int(a) < int(b) for a, b in itertools.pairwise(made))
    # every jid is a real time
    for jid in made[::997]:
        _parse(jid)
    assert abs(_parse(made[-1]).timestamp() - time.time()) < 5


def test_unique_across_threads() -> None:
    factory = JidFactory()
    out: list[list[str]] = [[] for _ in range(4)]

    def work(i: int) -> None:
        out[i].extend(factory.next() for _ in range(2500))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [j for chunk in out for j in chunk]
    assert len(set(everything)) == 10000
    for chunk in out:
        assert chunk == sorted(chunk)


def test_clock_going_backwards_still_increases() -> None:
    factory = JidFactory()
    future = 29991231235959999998
    factory._last = future
    first = factory.next()
    second = factory.next()
    assert first == "29991231235959999999"
    assert second == "30000101000000000000"


def test_bump_carries_over_units() -> None:
    assert jids._bump(20240101000000000000) == 20240101000000000001
    assert jids._bump(20240101000000999999) == 20240101000001000000
    assert jids._bump(20241231235959999999) == 20250101000000000000
    assert jids._bump(20240228235959999999) == 20240229000000000000


def test_jid_from_time() -> None:
    assert jid_from_time(0) == "19700101000000000000"
    assert jid_from_time(1704067200.5) == "20240101000000500000"
    assert jid_from_time(1704067200.000001) == "20240101000000000001"
    now = time.time()
    assert abs(_parse(jid_from_time(now)).timestamp() - now) < 1e-3


def test_jid_from_time_orders_like_factory() -> None:
    before = jid_from_time(time.time() - 1)
    made = JidFactory().next()
    after = jid_from_time(time.time() + 1)
    assert before < made < after


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("20240101000000000000", True),
        ("2024010100000000000", False),
        ("202401010000000000000", False),
        ("2024010100000000000a", False),
        ("", False),
        (20240101000000000000, False),
        (None, False),
    ],
)
def test_valid_jid(value: object, ok: bool) -> None:
    assert valid_jid(value) is ok


def test_valid_jid_rejects_trailing_newline() -> None:
    assert not valid_jid("20240101000000000000\n")
