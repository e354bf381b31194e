"""Replay guards for publications (by jid) and requests (by counter)."""

from __future__ import annotations

from collections import OrderedDict


class CounterWindow:
    """Accepts each counter value once, within a sliding window below the highest.

    Requests on one channel carry increasing counters; a value at or below
    ``highest - size`` or one already seen is a replay.
    """

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self.highest = -1
        self._seen: set[int] = set()

    def accept(self, value: int) -> bool:
        """Record ``value`` and say whether it is new."""
        if value < 0 or value <= self.highest - self.size or value in self._seen:
            return False
        self._seen.add(value)
        if value > self.highest:
            self.highest = value
            if len(self._seen) > 2 * self.size:
                floor = self.highest - self.size
                self._seen = {v for v in self._seen if v > floor}
        return True


class JidWindow:
    """Remembers recent job ids; a jid seen before, or older than the window, is a replay.

    jids are ``YYYYMMDDhhmmssffffff`` strings from the master's clock, so they
    compare in time order. ``floor`` is set at authentication from the
    master's clock, so a publication captured before this minion started
    cannot be replayed to it.
    """

    def __init__(self, keep: int = 10_000) -> None:
        self.keep = keep
        self.floor = ""
        self._seen: OrderedDict[str, None] = OrderedDict()

    def accept(self, jid: str) -> bool:
        """Record ``jid`` and say whether it may run."""
        if (self.floor and jid <= self.floor) or jid in self._seen:
            return False
        self._seen[jid] = None
        if len(self._seen) > self.keep:
            old, _ = self._seen.popitem(last=False)
            self.floor = max(self.floor, old)
        return True
