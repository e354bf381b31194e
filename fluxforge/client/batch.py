"""Batch mode: run a job on a few minions at a time (``ff -b N``).

As in Salt, a batch first finds which targeted minions are up by running
``test.ping`` on the target, then keeps a sliding window of at most N of
them running the job: as soon as one returns (and ``--batch-wait`` seconds
have passed) the next one starts, so the job is always running on N minions
until the list runs out. Each start is a job of its own with a list target,
and one event listener, live before the first publish, serves them all so
that no return is missed.

The pieces:

:func:`parse_batch_size`
    ``10`` or ``25%`` from the command line, as a :class:`BatchSize`.
:class:`Window`
    Which minions may start when; pure logic on given times, no processes.
:class:`Batch`
    Drives a :class:`~fluxforge.client.LocalClient` through the ping and the
    window, yielding returns as they arrive.
"""

from __future__ import annotations

import heapq
import math
import re
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fluxforge.client import LocalClient
from fluxforge.client.local import succeeded, unknown_note
from fluxforge.errors import UsageError
from fluxforge.events import EventListener, tags

if TYPE_CHECKING:
    from fractions import Fraction

__all__ = ["Batch", "BatchSize", "Window", "parse_batch_size"]

_NUMBER = re.compile(r"^[0-9]+(\.[0-9]+)?\Z")


@dataclass(frozen=True)
class BatchSize:
    """How many minions run at once: a count, or a percentage of those that answered."""

    value: Fraction
    percent: bool

    def count(self, minions: int) -> int:
        """The window size for ``minions`` minions that answered the ping.

        A percentage is rounded up and is at least 1; a count is used as is.
        """
        if not self.percent:
            return int(self.value)
        return max(1, math.ceil(self.value * minions / 100))

    def __str__(self) -> str:
        text = str(self.value) if self.value.denominator == 1 else str(float(self.value))
        return f"{text}%" if self.percent else text


def parse_batch_size(text: str) -> BatchSize:
    """Parse ``-b``: a whole number of minions (1 or more) or a percentage above 0% up to 100%.

    Raises :class:`~fluxforge.errors.UsageError` naming the value otherwise
    (``0``, ``abc``, ``2.5``, ``0%``, ``150%``).
    """
    from fractions import Fraction  # here: a plain job (no -b) spares fractions and decimal

    word = text.strip()
    percent = word.endswith("%")
    number = word[:-1].strip() if percent else word
    if percent and _NUMBER.match(number):
        value = Fraction(number)
        if 0 < value <= 100:
            return BatchSize(value, True)
    elif number.isdigit() and number.isascii() and int(number) >= 1:
        return BatchSize(Fraction(int(number)), False)
    raise UsageError(
        "batch size must be a whole number of minions (1 or more) or a percentage "
        f"above 0% up to 100% (e.g. 10 or 25%), got {text!r}"
    )


class Window:
    """The sliding window: which minions to start, and when.

    There are ``size`` slots. A slot is free from the start; when its minion
    finishes at time ``t`` it is free again at ``t + wait``. Minions start
    in the order given. :meth:`stop` (for ``--failhard``) starts no more;
    those already running still finish. Times are whatever clock the caller
    uses (``time.monotonic()``); nothing here reads a clock.
    """

    def __init__(self, minions: Sequence[str], size: int, wait: float, now: float) -> None:
        if size < 1:
            raise ValueError("window size must be at least 1")
        self.queue: deque[str] = deque(dict.fromkeys(minions))
        self.wait = wait
        self.running: set[str] = set()
        self.stopped = False
        self.skipped: list[str] = []
        self._free: list[float] = [now] * min(size, max(len(self.queue), 1))

    def take(self, now: float) -> list[str]:
        """The minions to start at ``now`` (possibly none); they count as running."""
        started: list[str] = []
        while self.queue and not self.stopped and self._free and self._free[0] <= now:
            heapq.heappop(self._free)
            minion_id = self.queue.popleft()
            self.running.add(minion_id)
            started.append(minion_id)
        return started

    def finish(self, minion_id: str, now: float) -> None:
        """``minion_id`` returned (or was given up on) at ``now``: free its slot."""
        self.running.remove(minion_id)
        heapq.heappush(self._free, now + self.wait)

    def stop(self) -> list[str]:
        """Start no more minions; returns those that will now never start."""
        self.stopped = True
        self.skipped.extend(self.queue)
        self.queue.clear()
        return list(self.skipped)

    def next_start(self) -> float | None:
        """When the next minion can start, or None if that waits for a return or never comes."""
        if self.stopped or not self.queue or not self._free:
            return None
        return self._free[0]

    @property
    def done(self) -> bool:
        """Nothing runs and nothing more will start."""
        return not self.running and (self.stopped or not self.queue)


@dataclass
class _Running:
    jid: str
    last_seen: float


@dataclass
class Batch:
    """One batch run of ``fun`` on the minions ``tgt`` selects.

    Iterate :meth:`returns`; afterwards ``matched`` tells whether the target
    selected anyone, ``down`` lists targeted minions that did not answer the
    ping, ``missing`` those that started but did not return in time,
    ``failed`` those whose return failed and ``skipped`` those never started
    because of ``failhard``. ``note`` receives one-line progress messages
    (``ff`` prints them on stderr).
    """

    client: LocalClient
    tgt: str | list[str]
    tgt_type: str
    fun: str
    arg: list[Any]
    kwarg: dict[str, Any]
    size: BatchSize
    wait: float = 0.0
    timeout: float = 5.0
    failhard: bool = False
    note: Callable[[str], None] = print
    matched: bool = False
    up: list[str] = field(default_factory=list)
    down: list[str] = field(default_factory=list)
    silent_unknown: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    jids: list[str] = field(default_factory=list)

    def returns(
        self, on_progress: Callable[[str, dict[str, Any]], None] | None = None
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield ``(minion_id, return)`` of the batched job as returns arrive."""
        listener = self.client.listen()
        try:
            self._ping(listener)
            if self.up:
                yield from self._run(listener, on_progress)
        finally:
            listener.close()

    # -- finding the minions that are up -------------------------------------

    def _ping(self, listener: EventListener) -> None:
        job = self.client.run(
            self.tgt, "test.ping", [], {}, self.tgt_type, self.timeout, listener=listener
        )
        self.up = sorted(minion_id for minion_id, _ in job.returns())
        self.matched = bool(job.minions or self.up)
        self.down = job.missing
        self.silent_unknown = job.silent_unknown
        if self.down:
            self.note(
                f"No answer to test.ping from {len(self.down)} minion(s) within "
                f"{self.timeout:g}s; not running on them: {', '.join(self.down)}"
            )
        if self.silent_unknown:
            self.note(unknown_note(self.silent_unknown))
        if self.up:
            size = self.size.count(len(self.up))
            self.note(
                f"{len(self.up)} minion(s) answered test.ping; running {self.fun} on "
                f"at most {min(size, len(self.up))} at a time (batch size {self.size})"
            )

    # -- the window ---------------------------------------------------------

    def _run(
        self,
        listener: EventListener,
        on_progress: Callable[[str, dict[str, Any]], None] | None,
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        window = Window(self.up, self.size.count(len(self.up)), self.wait, time.monotonic())
        running: dict[str, _Running] = {}
        given_up: dict[str, str] = {}  # minion id -> jid, for those counted missing
        while not window.done:
            now = time.monotonic()
            started = window.take(now)
            if started:
                self._start(started, listener, running, window)
                continue
            wakes = [r.last_seen + self.timeout for r in running.values()]
            next_start = window.next_start()
            if next_start is not None:
                wakes.append(next_start)
            event = listener.get(min(wakes) - now) if wakes else None
            if event is None:
                yield from self._expire(running, window, given_up)
                continue
            tag, data = event
            parsed = tags.parse(tag)
            if parsed is None or parsed.family != "job" or not parsed.minion:
                continue
            jid, kind, minion_id = parsed.jid, parsed.event, parsed.minion
            current = running.get(minion_id)
            if current is None or current.jid != jid:
                if kind == "ret" and given_up.get(minion_id) == jid:
                    # Late, but still while the batch runs: show it after all.
                    del given_up[minion_id]
                    self.missing.remove(minion_id)
                    yield self._judge(minion_id, data, window)
                continue
            if kind == "prog":
                current.last_seen = time.monotonic()
                if on_progress is not None:
                    on_progress(minion_id, data)
            elif kind == "ret":
                yield self._returned(minion_id, data, running, window)

    def _start(
        self,
        minions: list[str],
        listener: EventListener,
        running: dict[str, _Running],
        window: Window,
    ) -> None:
        job = self.client.run(
            minions, self.fun, self.arg, self.kwarg, "list", self.timeout, listener=listener
        )
        self.jids.append(job.jid)
        self.note(f"Executing run on {', '.join(minions)} (jid {job.jid})")
        now = time.monotonic()
        published = set(job.minions) | set(job.unknown)
        for minion_id in minions:
            if minion_id in published:
                running[minion_id] = _Running(job.jid, now)
            else:  # its key went away since the ping
                self.missing.append(minion_id)
                window.finish(minion_id, now)

    def _returned(
        self,
        minion_id: str,
        ret: dict[str, Any],
        running: dict[str, _Running],
        window: Window,
    ) -> tuple[str, dict[str, Any]]:
        del running[minion_id]
        window.finish(minion_id, time.monotonic())
        return self._judge(minion_id, ret, window)

    def _judge(
        self, minion_id: str, ret: dict[str, Any], window: Window
    ) -> tuple[str, dict[str, Any]]:
        """Note a failed return, and with ``failhard`` stop the window."""
        if not succeeded(ret):
            self.failed.append(minion_id)
            if self.failhard and not window.stopped:
                self.skipped = skipped = window.stop()
                self.note(
                    f"--failhard: {minion_id} failed; not starting the remaining "
                    f"{len(skipped)} minion(s): {', '.join(skipped)}"
                    if skipped
                    else f"--failhard: {minion_id} failed; every minion had already started"
                )
        return minion_id, ret

    def _expire(
        self, running: dict[str, _Running], window: Window, given_up: dict[str, str]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Give up on minions silent for ``timeout``, after a look at the job cache."""
        now = time.monotonic()
        silent = [m for m, r in running.items() if now >= r.last_seen + self.timeout]
        by_jid: dict[str, list[str]] = {}
        for minion_id in silent:
            by_jid.setdefault(running[minion_id].jid, []).append(minion_id)
        for jid, minions in by_jid.items():
            cached = (self.client.command("job", jid=jid) or {}).get("returns", {})
            for minion_id in minions:
                if minion_id in cached:
                    yield self._returned(minion_id, cached[minion_id], running, window)
                else:
                    self.note(f"No return from {minion_id} within {self.timeout:g}s (jid {jid})")
                    given_up[minion_id] = jid
                    del running[minion_id]
                    self.missing.append(minion_id)
                    window.finish(minion_id, now)
