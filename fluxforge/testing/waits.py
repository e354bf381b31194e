"""Waiting on a real signal instead of sleeping for a guessed time.

:func:`wait_until` polls a condition until it holds and returns what it
returned; :class:`LogWatch` waits for a line in a log file that was written
after the watch started::

    watch = LogWatch(cluster.root / "web1.out")
    cluster.ff_key("-a", "web1", "-y")
    watch.wait_for(r"web1: authenticated with master", timeout=10)

Both fail with :class:`WaitTimeout`, whose message says what was waited for.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

DEFAULT_INTERVAL = 0.05


class WaitTimeout(TimeoutError, AssertionError):
    """A wait ran out of time; the message says what it waited for.

    An :class:`AssertionError` too, so that a test reports it as a failure.
    """


def wait_until(
    predicate: Callable[[], T | None],
    timeout: float,
    interval: float = DEFAULT_INTERVAL,
    *,
    what: str = "the condition",
    detail: Callable[[], str] | None = None,
) -> T:
    """Call ``predicate`` until it returns a truthy value, and return that value.

    It is called at once, then every ``interval`` seconds, for ``timeout``
    seconds at most (and once more at the deadline). An exception from it
    ends the wait. On timeout, :class:`WaitTimeout` says ``what`` was awaited,
    the last value seen and, if given, ``detail()`` (e.g. a daemon's log).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        left = deadline - time.monotonic()
        if left <= 0:
            break
        time.sleep(min(interval, left))
    message = f"timed out after {timeout:g}s waiting for {what} (last value: {value!r})"
    if detail is not None:
        message += f"\n{detail()}"
    raise WaitTimeout(message)


class LogWatch:
    """Lines appended to a log file after the watch was created.

    The watch remembers the file's size when it is created: lines before
    that are never matched. Each match moves the watch past the matched
    line, so successive :meth:`wait_for` calls find lines in order. A file
    that does not exist yet is watched from its start.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self.offset = self.path.stat().st_size
        except FileNotFoundError:
            self.offset = 0

    def _raw_lines(self) -> list[bytes]:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n")
        return data[:end].split(b"\n") if end >= 0 else []

    def lines(self) -> list[str]:
        """Every whole line written after the watch position (a partial last line is left)."""
        return [raw.decode("utf-8", errors="replace") for raw in self._raw_lines()]

    def find(self, pattern: str | re.Pattern[str]) -> re.Match[str] | None:
        """The first new line matching regex ``pattern``, moving the watch past it; or None."""
        regex = re.compile(pattern)
        consumed = 0
        for raw in self._raw_lines():
            consumed += len(raw) + 1
            match = regex.search(raw.decode("utf-8", errors="replace"))
            if match is not None:
                self.offset += consumed
                return match
        return None

    def seen(self, pattern: str | re.Pattern[str]) -> bool:
        """Whether a new line matches regex ``pattern`` (the watch does not move)."""
        regex = re.compile(pattern)
        return any(regex.search(line) for line in self.lines())

    def wait_for(
        self,
        pattern: str | re.Pattern[str],
        timeout: float,
        interval: float = DEFAULT_INTERVAL,
    ) -> re.Match[str]:
        """Wait until a new line matches regex ``pattern``; return its match."""
        regex = re.compile(pattern)
        return wait_until(
            lambda: self.find(regex),
            timeout,
            interval,
            what=f"a line matching {regex.pattern!r} in {self.path}",
            detail=self._tail,
        )

    def _tail(self, count: int = 40) -> str:
        lines = self.lines()
        if not lines:
            return f"(nothing new in {self.path})"
        shown = "\n".join(lines[-count:])
        return f"last {min(count, len(lines))} new lines of {self.path}:\n{shown}"
