"""fluxforge.testing.waits: polling a condition, and waiting for new log lines."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from fluxforge.testing import LogWatch, WaitTimeout, wait_until


def test_wait_until_returns_the_first_truthy_value() -> None:
    calls: list[int] = []

    def third_time() -> str | None:
        calls.append(1)
        return "ready" if len(calls) == 3 else None

    assert wait_until(third_time, timeout=5, interval=0.001) == "ready"
    assert len(calls) == 3


def test_wait_until_checks_at_once_without_waiting() -> None:
    start = time.monotonic()
    assert wait_until(lambda: 42, timeout=5, interval=10) == 42
    assert time.monotonic() - start < 1


def test_wait_until_timeout_says_what_was_awaited() -> None:
    start = time.monotonic()
    with pytest.raises(WaitTimeout) as info:
        wait_until(
            lambda: [],
            timeout=0.2,
            interval=0.01,
            what="the moon to rise",
            detail=lambda: "sky: cloudy",
        )
    assert time.monotonic() - start >= 0.2
    message = str(info.value)
    assert message.splitlines() == [
        "timed out after 0.2s waiting for the moon to rise (last value: [])",
        "sky: cloudy",
    ]
    # A TimeoutError, and a test failure rather than an error.
    assert isinstance(info.value, TimeoutError) and isinstance(info.value, AssertionError)


def test_wait_until_lets_the_predicates_exception_through() -> None:
    def broken() -> None:
        raise ValueError("the daemon exited")

    with pytest.raises(ValueError, match="the daemon exited"):
        wait_until(broken, timeout=5)


def test_log_watch_ignores_lines_written_before_it_started(tmp_path: Path) -> None:
    log = tmp_path / "web1.out"
    log.write_text("minion web1 authenticated\n")
    watch = LogWatch(log)
    with pytest.raises(WaitTimeout) as info:
        watch.wait_for(r"web1 authenticated", timeout=0.2, interval=0.01)
    message = str(info.value)
    assert "'web1 authenticated'" in message and str(log) in message
    assert f"(nothing new in {log})" in message
    assert not watch.seen("authenticated")
    with log.open("a") as fh:
        fh.write("minion web1 authenticated again\n")
    match = watch.wait_for(r"web1 (\w+) again", timeout=1)
    assert match.group(1) == "authenticated"


def test_log_watch_waits_for_a_line_written_later(tmp_path: Path) -> None:
    log = tmp_path / "master.out"
    watch = LogWatch(log)  # the file does not exist yet

    def write() -> None:
        log.write_text("[INFO] master ready: publish tcp://127.0.0.1:40001\n")

    # The delay is the fake daemon's start-up time: the wait must outlast it.
    writer = threading.Timer(0.1, write)
    writer.start()
    try:
        match = watch.wait_for(r"publish tcp://[\d.]+:(\d+)", timeout=5, interval=0.01)
    finally:
        writer.join()
    assert match.group(1) == "40001"


def test_log_watch_finds_lines_in_order_and_only_whole_ones(tmp_path: Path) -> None:
    log = tmp_path / "db1.out"
    log.write_text("old: job 1 done\n")
    watch = LogWatch(log)
    with log.open("a") as fh:
        fh.write("job 2 done\njob 3 done\njob 4 do")
    assert watch.wait_for(r"job \d done", timeout=1).group(0) == "job 2 done"
    assert watch.wait_for(r"job \d done", timeout=1).group(0) == "job 3 done"
    # The last line is still being written: not matched until its newline.
    assert watch.find(r"job 4") is None
    assert watch.lines() == []
    with log.open("a") as fh:
        fh.write("ne\n")
    assert watch.seen(r"job 4 done")
    assert watch.wait_for(r"job 4 done", timeout=1)
    with pytest.raises(WaitTimeout, match=r"timed out after 0\.05s waiting for a line matching"):
        watch.wait_for(r"job \d done", timeout=0.05, interval=0.01)


def test_log_watch_counts_bytes_of_undecodable_lines(tmp_path: Path) -> None:
    log = tmp_path / "bin.out"
    log.write_bytes(b"")
    watch = LogWatch(log)
    log.write_bytes(b"\xff\xfe garbage\nnext line\n")
    assert watch.find("garbage") is not None
    assert watch.lines() == ["next line"]
