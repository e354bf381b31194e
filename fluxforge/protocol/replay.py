"""Replay guards: publications (by jid, with a floor kept on disk), requests (by counter)
and auth proofs (by one-use challenge)."""

from __future__ import annotations

import hashlib
import hmac
import os
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable

from fluxforge.protocol.keyfiles import encode_key, write_file_atomic


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


class FloorFile:
    """The highest jid a minion accepted, kept in its cachedir across restarts.

    One fixed-size line, ``<jid> <master box key> <crc32>``, in a file of
    mode 0600. It is created whole (a temporary file renamed over it) and
    then overwritten in place, one ``pwrite`` of the same length per job the
    minion accepts, before the job runs: a process that dies at any moment
    leaves either the old line or the new one, and the kernel keeps the
    write if the process is killed. There is no fsync per job (that would
    cost a disk flush for every job); :meth:`close` syncs once at a clean
    stop. What a power loss can cost is the last few writes, and the line's
    checksum tells a torn one from a good one; the floor a minion takes at
    every auth (the master's clock, less a minute) covers what a reboot that
    long ago could have lost.

    The floor holds only for the master whose key is in the line: a minion
    that is moved to another master (a new pinned key) starts afresh.
    """

    LENGTH = 20 + 1 + 44 + 1 + 8 + 1

    def __init__(self, path: str) -> None:
        self.path = path
        self.saved = ""
        self._created = False

    def load(self, master: bytes) -> tuple[str, str]:
        """``(jid, problem)``: the floor kept for ``master`` ("" if none) and what was wrong."""
        try:
            with open(self.path, "rb") as fh:
                data = fh.read(self.LENGTH + 1)
        except FileNotFoundError:
            return "", ""
        except OSError as exc:
            return "", f"cannot read {self.path}: {exc.strerror}"
        fields = data.decode("ascii", "replace").split()
        if len(data) != self.LENGTH or len(fields) != 3:
            return "", f"{self.path} is damaged (not one floor line); ignoring it"
        jid, key, crc = fields
        body = f"{jid} {key}".encode("ascii")
        if crc != f"{zlib.crc32(body):08x}" or not (len(jid) == 20 and jid.isdigit()):
            return "", f"{self.path} is damaged (bad checksum); ignoring it"
        self._created = True
        if key != encode_key(master):
            return "", ""
        self.saved = jid
        return jid, ""

    def save(self, jid: str, master: bytes) -> None:
        """Raise the kept floor to ``jid`` (a lower or malformed one is ignored); OSError."""
        if jid <= self.saved or len(jid) != 20 or not jid.isdigit():
            return
        body = f"{jid} {encode_key(master)}"
        line = f"{body} {zlib.crc32(body.encode('ascii')):08x}\n"
        fd = -1
        if self._created:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CLOEXEC)
            except FileNotFoundError:  # removed under us: make it again
                self._created = False
        if fd < 0:
            os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
            write_file_atomic(self.path, line, 0o600)
            self._created = True
        else:
            try:
                os.pwrite(fd, line.encode("ascii"), 0)
            finally:
                os.close(fd)
        self.saved = jid

    def close(self) -> None:
        """Flush the kept floor to disk (once, at a clean stop)."""
        if not self.saved:
            return
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)
