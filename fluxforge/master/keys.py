"""The master's store of minion keys: accepted, pending, rejected, denied.

One file per minion id in a folder per state under ``pki_dir``; the file
holds the minion's public key in text form. Ids are checked against
:func:`fluxforge.protocol.ids.check_id` before they touch the filesystem. The running master is the
only writer while it runs (``ff-key`` asks it over the local socket); with
no master running ``ff-key`` uses this store directly.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass

from fluxforge.errors import KeyStoreError
from fluxforge.protocol.ids import check_id, valid_id
from fluxforge.protocol.keyfiles import decode_key, encode_key, fingerprint, write_file_atomic

ACCEPTED, PENDING, REJECTED, DENIED = "accepted", "pending", "rejected", "denied"
STATES = (ACCEPTED, PENDING, REJECTED, DENIED)
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


class KeyStore:
    """Minion keys on disk, by state."""

    def __init__(self, pki_dir: str, auto_accept: bool = False, autosign_file: str = "") -> None:
        self.pki_dir = pki_dir
        self.auto_accept = auto_accept
        self.autosign_file = autosign_file
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

    def register(self, minion_id: str, public: bytes) -> str:
        """Record a minion presenting ``public`` and return its state.

        A known id presenting a different key lands in denied and stays
        refused until an operator acts.
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
        self._write(PENDING, minion_id, public)
        return PENDING

    def _match(self, states: tuple[str, ...], pattern: str) -> list[tuple[str, str]]:
        found = []
        for state in states:
            for minion_id in self.ids(state):
                if fnmatch.fnmatchcase(minion_id, pattern):
                    found.append((state, minion_id))
        return found

    def _move(self, sources: tuple[str, ...], pattern: str, dest: str) -> KeyChange:
        moved, removed_accepted = [], False
        for state, minion_id in self._match(sources, pattern):
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
        return KeyChange(sorted(set(moved)), removed_accepted)

    def accept(self, pattern: str, include: tuple[str, ...] = ()) -> KeyChange:
        """Accept pending keys matching the glob (and rejected/denied ones if included)."""
        return self._move((PENDING, *include), pattern, ACCEPTED)

    def reject(self, pattern: str, include: tuple[str, ...] = ()) -> KeyChange:
        """Reject pending keys matching the glob (and accepted/denied ones if included)."""
        return self._move((PENDING, *include), pattern, REJECTED)

    def delete(self, pattern: str) -> KeyChange:
        """Delete keys in every state matching the glob."""
        deleted, removed_accepted = [], False
        for state, minion_id in self._match(STATES, pattern):
            self._remove(state, minion_id)
            removed_accepted |= state == ACCEPTED
            deleted.append(minion_id)
        return KeyChange(sorted(set(deleted)), removed_accepted)

    def fingerprints(self, pattern: str) -> dict[str, dict[str, str]]:
        """Fingerprints of matching keys, by state then id."""
        out: dict[str, dict[str, str]] = {}
        for state, minion_id in self._match(STATES, pattern):
            key = self.read(state, minion_id)
            if key is not None:
                out.setdefault(state, {})[minion_id] = fingerprint(key)
        return out
