"""Replay guards: publications (by jid), requests (by counter) and auth proofs (by challenge)."""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections import OrderedDict
from collections.abc import Callable


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


class Challenges:
    """One-use auth challenges that cost the master no memory until one is redeemed.

    A challenge is the issuing time (8 bytes of a monotonic clock) and a MAC,
    under a key drawn per process, of that time and the request it answers
    (minion id, key and nonce). The master can thus check one it never
    stored; it remembers only redeemed ones, until they expire, so each is
    good for one proof within ``ttl`` seconds and never after a restart.
    Only a sender holding the minion's private key can redeem one (the
    proof is a Box from that key), so the set of redeemed ones grows only
    with genuine authentications; ``keep`` bounds it all the same.
    """

    SIZE = 8 + 16

    def __init__(
        self, ttl: float = 30.0, keep: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.keep = keep
        self._clock = clock
        self._key = os.urandom(32)
        self._redeemed: OrderedDict[bytes, float] = OrderedDict()

    def _mac(self, stamp: bytes, parts: tuple[bytes, ...]) -> bytes:
        mac = hashlib.blake2b(stamp, key=self._key, digest_size=16)
        for part in parts:
            mac.update(len(part).to_bytes(4, "big"))
            mac.update(part)
        return mac.digest()

    def issue(self, *parts: bytes) -> bytes:
        """A challenge bound to ``parts`` (the auth request it answers)."""
        stamp = int(self._clock() * 1e9).to_bytes(8, "big")
        return stamp + self._mac(stamp, parts)

    def redeem(self, challenge: bytes, *parts: bytes) -> str:
        """Use ``challenge`` for ``parts``: "" when it is good, else what is wrong with it."""
        if len(challenge) != self.SIZE:
            return "carries no challenge of this master"
        stamp, mac = challenge[:8], challenge[8:]
        if not hmac.compare_digest(mac, self._mac(stamp, parts)):
            return "answers a challenge this master process did not give for that request"
        now = self._clock()
        age = now - int.from_bytes(stamp, "big") / 1e9
        if not 0 <= age <= self.ttl:
            return f"answers a challenge older than {self.ttl:g}s"
        if challenge in self._redeemed:
            return "answers a challenge already used (replayed?)"
        while self._redeemed:
            oldest, expires = next(iter(self._redeemed.items()))
            if expires > now and len(self._redeemed) < self.keep:
                break
            del self._redeemed[oldest]
        self._redeemed[challenge] = now + self.ttl
        return ""

