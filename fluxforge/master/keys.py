"""The master's store of minion keys: accepted, pending, rejected, denied.

One file per minion id in a folder per state under ``pki_dir``; the file
holds the minion's public key in text form. Ids are checked against
:func:`fluxforge.protocol.ids.check_id` before they touch the filesystem. The running master is the
only writer while it runs (``ff-key`` asks it over the local socket); with
no master running ``ff-key`` uses this store directly.

New pending keys are limited, since anyone who reaches the request port
can offer one: at most ``max_pending`` of them are kept, and the caller of
:meth:`KeyStore.register` may refuse a new one (per source, with a
:class:`NewKeyLimiter`). A key not recorded is answered :data:`LIMITED`,
which is not a state: nothing is written.

Accepting can require fingerprints (``expect``): the check and the move
happen in one call, so a key swapped in after the operator looked at it
is never accepted.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from fluxforge.errors import KeyStoreError
from fluxforge.protocol.ids import check_id, valid_id
from fluxforge.protocol.keyfiles import decode_key, encode_key, fingerprint, write_file_atomic

ACCEPTED, PENDING, REJECTED, DENIED = "accepted", "pending", "rejected", "denied"
STATES = (ACCEPTED, PENDING, REJECTED, DENIED)
# The answer to an auth whose new key was not recorded (too many pending keys,
# or too many new ones from its source); the minion retries later.
LIMITED = "limited"
FOLDERS = {
    ACCEPTED: "minions",
    PENDING: "minions_pre",
    REJECTED: "minions_rejected",
    DENIED: "minions_denied",
}
# ff-key --out json names each state as Salt does.
JSON_NAMES = {
    ACCEPTED: "minions",
    PENDING: "minions_pre",
    REJECTED: "minions_rejected",
    DENIED: "minions_denied",
}


@dataclass(frozen=True)
class KeyChange:
    """What a key operation did: ``moved`` ids and whether accepted keys were removed."""

    moved: list[str]
    removed_accepted: bool
    fingers: dict[str, str] = dataclasses.field(default_factory=dict, compare=False)


class NewKeyLimiter:
    """New pending keys per source (a peer address): a token bucket of ``per_minute`` each.

    A source may add ``per_minute`` keys at once, then one every
    ``60 / per_minute`` seconds. ``per_minute`` 0 means no limit. At most
    ``max_sources`` buckets are kept (the oldest go first); a forgotten
    source starts with a full bucket, which costs an attacker with that many
    addresses nothing it could not have anyway.
    """

    def __init__(self, per_minute: int, max_sources: int = 10_000) -> None:
        self.per_minute = per_minute
        self.max_sources = max_sources
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, source: str, now: float | None = None) -> bool:
        """Take one new key from ``source``'s bucket; False when it is empty."""
        if self.per_minute <= 0:
            return True
        now = time.monotonic() if now is None else now
        tokens, then = self._buckets.pop(source, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - then) * self.per_minute / 60.0)
        allowed = tokens >= 1.0
        self._buckets[source] = (tokens - 1.0 if allowed else tokens, now)
        while len(self._buckets) > self.max_sources:
            self._buckets.popitem(last=False)
        return allowed


class KeyStore:
    """Minion keys on disk, by state."""

    def __init__(
        self,
        pki_dir: str,
        auto_accept: bool = False,
        autosign_file: str = "",
        max_pending: int = 0,
    ) -> None:
        self.pki_dir = pki_dir
        self.auto_accept = auto_accept
        self.autosign_file = autosign_file
        self.max_pending = max_pending  # 0: no limit
        self._pending_count: int | None = None  # cached; None: count again
        # pki_dir first: makedirs gives only the last folder the mode, and
        # the daemons refuse a pki_dir that group or others may use.
        os.makedirs(pki_dir, mode=0o700, exist_ok=True)
        for folder in FOLDERS.values():
            os.makedirs(os.path.join(pki_dir, folder), mode=0o700, exist_ok=True)

    def _path(self, state: str, minion_id: str) -> str:
        return os.path.join(self.pki_dir, FOLDERS[state], check_id(minion_id))

    def read(self, state: str, minion_id: str) -> bytes | None:
        """The public key of ``minion_id`` in ``state``, or None."""
        path = self._path(state, minion_id)
        try:
            with open(path, encoding="ascii") as fh:
                return decode_key(fh.read(), path)
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise KeyStoreError(f"{path}: cannot read key: {exc}")

    def _write(self, state: str, minion_id: str, public: bytes) -> None:
        write_file_atomic(self._path(state, minion_id), encode_key(public) + "\n", 0o644)

    def _remove(self, state: str, minion_id: str) -> None:
        if state == PENDING:
            self._pending_count = None
        try:
            os.unlink(self._path(state, minion_id))
        except FileNotFoundError:
            pass

    def ids(self, state: str) -> list[str]:
        """Sorted ids of the keys in ``state``."""
        folder = os.path.join(self.pki_dir, FOLDERS[state])
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return []
        return sorted(n for n in names if valid_id(n))

    def listing(self) -> dict[str, list[str]]:
        """Every state and its sorted ids."""
        return {state: self.ids(state) for state in STATES}

    def accepted_keys(self) -> dict[str, bytes]:
        """Map of accepted id to public key."""
        out = {}
        for minion_id in self.ids(ACCEPTED):
            key = self.read(ACCEPTED, minion_id)
            if key is not None:
                out[minion_id] = key
        return out

    def _autosign(self, minion_id: str) -> bool:
        if self.auto_accept:
            return True
        if not self.autosign_file:
            return False
        try:
            with open(self.autosign_file, encoding="utf-8") as fh:
                globs = [ln.strip() for ln in fh if ln.strip() and not ln.startswith("#")]
        except OSError:
            return False
        return any(fnmatch.fnmatchcase(minion_id, g) for g in globs)

    def pending_full(self) -> bool:
        """Whether pending keys are at ``max_pending``, so no new one is recorded."""
        if not self.max_pending:
            return False
        if self._pending_count is None:
            self._pending_count = len(self.ids(PENDING))
        return self._pending_count >= self.max_pending

    def register(
        self, minion_id: str, public: bytes, admit: Callable[[], bool] | None = None
    ) -> str:
        """Record a minion presenting ``public`` and return its state.

        A known id presenting a different key lands in denied and stays
        refused until an operator acts. A key that would be a new pending
        one is not recorded, and the answer is :data:`LIMITED`, when pending
        keys are at ``max_pending`` or ``admit()`` (asked only then) says no.
        """
        for state in (ACCEPTED, REJECTED, PENDING):
            known = self.read(state, minion_id)
            if known is None:
                continue
            if known == public:
                return state
            self._write(DENIED, minion_id, public)
            return DENIED
        denied = self.read(DENIED, minion_id)
        if denied is not None:
            return DENIED
        if self._autosign(minion_id):
            self._write(ACCEPTED, minion_id, public)
            return ACCEPTED
        if self.pending_full() or (admit is not None and not admit()):
            return LIMITED
        self._write(PENDING, minion_id, public)
        if self._pending_count is not None:
            self._pending_count += 1
        return PENDING

    def _match(self, states: tuple[str, ...], pattern: str) -> list[tuple[str, str]]:
        found = []
        for state in states:
            for minion_id in self.ids(state):
                if fnmatch.fnmatchcase(minion_id, pattern):
                    found.append((state, minion_id))
        return found

    def _move(
        self, sources: tuple[str, ...], pattern: str, dest: str, only: set[str] | None = None
    ) -> KeyChange:
        moved, removed_accepted = [], False
        fingers: dict[str, str] = {}
        for state, minion_id in self._match(sources, pattern):
            if only and minion_id not in only:
                continue
            key = self.read(state, minion_id)
            if key is None:
                continue
            replaced = dest == ACCEPTED and self.read(ACCEPTED, minion_id) is not None
            if replaced and state != DENIED:
                continue
            self._write(dest, minion_id, key)
            self._remove(state, minion_id)
            removed_accepted |= state == ACCEPTED or replaced
            moved.append(minion_id)
            fingers[minion_id] = fingerprint(key)
        return KeyChange(sorted(set(moved)), removed_accepted, fingers)

    def accept(
        self,
        pattern: str,
        include: tuple[str, ...] = (),
        expect: Mapping[str, str] | None = None,
    ) -> KeyChange:
        """Accept pending keys matching the glob (and rejected/denied ones if included).

        With ``expect`` (id to fingerprint: what the operator was shown),
        only those ids are accepted, and only if each still has that
        fingerprint; otherwise nothing is, and :class:`KeyStoreError` names
        each difference with both fingerprints. Keys that arrived since are
        left where they are.
        """
        if expect:
            self._check_expected((PENDING, *include), pattern, expect)
        return self._move((PENDING, *include), pattern, ACCEPTED, set(expect or ()))

    def _check_expected(
        self, sources: tuple[str, ...], pattern: str, expect: Mapping[str, str]
    ) -> None:
        found: dict[str, str] = {}
        for state, minion_id in self._match(sources, pattern):
            key = self.read(state, minion_id)
            if key is not None:
                found[minion_id] = fingerprint(key)
        problems = []
        for minion_id, wanted in sorted(expect.items()):
            got = found.get(minion_id)
            if got is None:
                problems.append(f"no key of {minion_id} to accept (expected {wanted})")
            elif got.lower() != wanted.strip().lower():
                problems.append(f"the key of {minion_id} has fingerprint {got}, not {wanted}")
        if problems:
            raise KeyStoreError("; ".join(problems) + "; nothing accepted")

    def reject(self, pattern: str, include: tuple[str, ...] = ()) -> KeyChange:
        """Reject pending keys matching the glob (and accepted/denied ones if included)."""
        return self._move((PENDING, *include), pattern, REJECTED)

    def delete(self, pattern: str) -> KeyChange:
        """Delete keys in every state matching the glob."""
        deleted, removed_accepted = [], False
        fingers: dict[str, str] = {}
        for state, minion_id in self._match(STATES, pattern):
            key = self.read(state, minion_id)
            if key is not None:
                fingers[minion_id] = fingerprint(key)
            self._remove(state, minion_id)
            removed_accepted |= state == ACCEPTED
            deleted.append(minion_id)
        return KeyChange(sorted(set(deleted)), removed_accepted, fingers)

    def public_keys(self, pattern: str) -> dict[str, dict[str, str]]:
        """Public keys (their text form) of matching keys, by state then id."""
        out: dict[str, dict[str, str]] = {}
        for state, minion_id in self._match(STATES, pattern):
            key = self.read(state, minion_id)
            if key is not None:
                out.setdefault(state, {})[minion_id] = encode_key(key)
        return out

    def fingerprints(self, pattern: str) -> dict[str, dict[str, str]]:
        """Fingerprints of matching keys, by state then id."""
        out: dict[str, dict[str, str]] = {}
        for state, minion_id in self._match(STATES, pattern):
            key = self.read(state, minion_id)
            if key is not None:
                out.setdefault(state, {})[minion_id] = fingerprint(key)
        return out
