"""The warner that keeps hostile input from flooding the log."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from fluxforge.logs import Warner, open_private


def test_warner_allows_a_burst_then_counts_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    warner = Warner(logging.getLogger("t.warner"), interval=3600, burst=3)
    with caplog.at_level(logging.WARNING, "t.warner"):
        for n in range(50):
            warner.warn("bad-frame", f"dropped frame {n}")
        warner.warn("other", "a different kind")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["dropped frame 0", "dropped frame 1", "dropped frame 2", "a different kind"]


def test_warner_reports_suppressed_count_after_interval(caplog: pytest.LogCaptureFixture) -> None:
    warner = Warner(logging.getLogger("t.warner2"), interval=0.0, burst=1)
    warner.interval = 3600
    with caplog.at_level(logging.WARNING, "t.warner2"):
        warner.warn("k", "first")
        warner.warn("k", "second")
        warner.warn("k", "third")
        warner.interval = 0.0  # the interval has passed
        warner.warn("k", "fourth")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["first", "fourth (2 more like this suppressed)"]


def test_warner_logs_at_its_level(caplog: pytest.LogCaptureFixture) -> None:
    warner = Warner(logging.getLogger("t.warner3"), level=logging.INFO)
    with caplog.at_level(logging.INFO, "t.warner3"):
        warner.warn("k", "a note")
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [(logging.INFO, "a note")]


def test_log_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "log" / "master.log"
    open_private(str(path))
    assert os.stat(path).st_mode & 0o777 == 0o600
    os.chmod(path, 0o644)
    open_private(str(path))
    assert os.stat(path).st_mode & 0o777 == 0o600
