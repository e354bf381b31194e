"""The master's minion key store: states, moves, globs, autosign and id checks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fluxforge.errors import KeyStoreError, UsageError
from fluxforge.master import keys
from fluxforge.master.keys import ACCEPTED, DENIED, PENDING, REJECTED, KeyChange, KeyStore
from fluxforge.protocol import ids
from fluxforge.protocol.crypto import MinionIdentity
from fluxforge.protocol.keyfiles import decode_key, fingerprint


def _pub() -> bytes:
    return MinionIdentity.generate().box_public


def _file(store: KeyStore, state: str, minion_id: str) -> Path:
    return Path(store.pki_dir) / keys.FOLDERS[state] / minion_id


def _tree(root: Path) -> set[str]:
    out = set()
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            out.add(os.path.relpath(os.path.join(folder, name), root))
    return out


@pytest.fixture
def store(tmp_path: Path) -> KeyStore:
    return KeyStore(str(tmp_path / "pki"))


def test_store_creates_state_folders(tmp_path: Path) -> None:
    KeyStore(str(tmp_path / "pki"))
    for folder in ("minions", "minions_pre", "minions_rejected", "minions_denied"):
        path = tmp_path / "pki" / folder
        assert path.is_dir()
        assert path.stat().st_mode & 0o077 == 0


def test_register_new_is_pending(store: KeyStore) -> None:
    pub = _pub()
    assert store.register("web1", pub) == PENDING
    assert store.read(PENDING, "web1") == pub
    assert store.read(ACCEPTED, "web1") is None
    assert decode_key(_file(store, PENDING, "web1").read_text(), "x") == pub
    assert store.listing() == {ACCEPTED: [], PENDING: ["web1"], REJECTED: [], DENIED: []}


def test_register_pending_again_same_key_stays_pending(store: KeyStore) -> None:
    pub = _pub()
    store.register("web1", pub)
    assert store.register("web1", pub) == PENDING
    assert store.ids(DENIED) == []


def test_register_pending_with_other_key_is_denied(store: KeyStore) -> None:
    pub, other = _pub(), _pub()
    store.register("web1", pub)
    assert store.register("web1", other) == DENIED
    assert store.read(PENDING, "web1") == pub
    assert store.read(DENIED, "web1") == other


def test_accept_glob_moves_pending(store: KeyStore) -> None:
    pubs = {name: _pub() for name in ("web1", "web2", "db1")}
    for name, pub in pubs.items():
        store.register(name, pub)
    change = store.accept("web*")
    assert change == KeyChange(["web1", "web2"], False)
    assert store.ids(ACCEPTED) == ["web1", "web2"]
    assert store.ids(PENDING) == ["db1"]
    assert store.read(ACCEPTED, "web1") == pubs["web1"]
    assert not _file(store, PENDING, "web1").exists()


def test_accept_glob_is_case_sensitive_and_full(store: KeyStore) -> None:
    store.register("Web1", _pub())
    store.register("web10", _pub())
    assert store.accept("web1").moved == []
    assert store.accept("web?").moved == []
    assert store.accept("web1?").moved == ["web10"]


def test_accept_does_not_take_rejected_unless_included(store: KeyStore) -> None:
    store.register("a", _pub())
    store.reject("a")
    assert store.accept("*").moved == []
    assert store.ids(REJECTED) == ["a"]
    assert store.accept("*", include=(REJECTED,)).moved == ["a"]
    assert store.ids(ACCEPTED) == ["a"]
    assert store.ids(REJECTED) == []


def test_accepted_same_key_is_accepted(store: KeyStore) -> None:
    pub = _pub()
    store.register("web1", pub)
    store.accept("web1")
    assert store.register("web1", pub) == ACCEPTED
    assert store.ids(DENIED) == []
    assert store.accepted_keys() == {"web1": pub}


def test_accepted_with_different_key_is_denied_and_accepted_unchanged(store: KeyStore) -> None:
    pub, impostor = _pub(), _pub()
    store.register("web1", pub)
    store.accept("web1")
    accepted_file = _file(store, ACCEPTED, "web1")
    before = accepted_file.read_bytes()
    before_stat = accepted_file.stat()
    assert store.register("web1", impostor) == DENIED
    assert accepted_file.read_bytes() == before
    assert accepted_file.stat().st_ino == before_stat.st_ino
    assert store.read(ACCEPTED, "web1") == pub
    assert store.read(DENIED, "web1") == impostor
    # the genuine key still authenticates
    assert store.register("web1", pub) == ACCEPTED


def test_denied_only_id_stays_denied(store: KeyStore) -> None:
    pub, other = _pub(), _pub()
    store.register("web2", pub)
    store.register("web2", other)
    # the operator removes the pending key but leaves the denied one
    _file(store, PENDING, "web2").unlink()
    assert store.register("web2", pub) == DENIED
    assert store.register("web2", _pub()) == DENIED
    assert store.ids(PENDING) == []
    assert store.read(DENIED, "web2") == other


def test_rejected(store: KeyStore) -> None:
    pub = _pub()
    store.register("bad", pub)
    change = store.reject("bad")
    assert change == KeyChange(["bad"], False)
    assert store.ids(REJECTED) == ["bad"]
    assert store.register("bad", pub) == REJECTED
    assert store.register("bad", _pub()) == DENIED
    assert store.read(REJECTED, "bad") == pub


def test_reject_accepted_only_when_included(store: KeyStore) -> None:
    store.register("m", _pub())
    store.accept("m")
    assert store.reject("m").moved == []
    assert store.ids(ACCEPTED) == ["m"]
    change = store.reject("m", include=(ACCEPTED,))
    assert change == KeyChange(["m"], True)
    assert store.ids(ACCEPTED) == []
    assert store.ids(REJECTED) == ["m"]


def test_accept_denied_replaces_accepted_key(store: KeyStore) -> None:
    pub, new = _pub(), _pub()
    store.register("m", pub)
    store.accept("m")
    store.register("m", new)
    change = store.accept("m", include=(DENIED,))
    assert change.moved == ["m"]
    assert store.read(ACCEPTED, "m") == new
    assert store.ids(DENIED) == []


def test_accept_pending_does_not_overwrite_accepted(store: KeyStore) -> None:
    pub, other = _pub(), _pub()
    store.register("m", pub)
    store.accept("m")
    # a pending file for an accepted id (e.g. left by hand) is not promoted over it
    store._write(PENDING, "m", other)
    assert store.accept("m").moved == []
    assert store.read(ACCEPTED, "m") == pub


def test_delete_returns_removed_accepted(store: KeyStore) -> None:
    store.register("a1", _pub())
    store.register("a2", _pub())
    store.register("p1", _pub())
    store.accept("a*")
    assert store.delete("p*") == KeyChange(["p1"], False)
    assert store.delete("a*") == KeyChange(["a1", "a2"], True)
    assert store.listing() == {ACCEPTED: [], PENDING: [], REJECTED: [], DENIED: []}
    assert store.delete("*") == KeyChange([], False)


def test_delete_removes_every_state_of_an_id(store: KeyStore) -> None:
    store.register("m", _pub())
    store.accept("m")
    store.register("m", _pub())  # denied beside accepted
    change = store.delete("m")
    assert change == KeyChange(["m"], True)
    assert not _file(store, ACCEPTED, "m").exists()
    assert not _file(store, DENIED, "m").exists()


def test_auto_accept(tmp_path: Path) -> None:
    store = KeyStore(str(tmp_path), auto_accept=True)
    pub = _pub()
    assert store.register("any", pub) == ACCEPTED
    assert store.read(ACCEPTED, "any") == pub
    assert store.ids(PENDING) == []
    # auto_accept does not let a different key replace an accepted one
    assert store.register("any", _pub()) == DENIED
    assert store.read(ACCEPTED, "any") == pub


def test_autosign_file_globs(tmp_path: Path) -> None:
    autosign = tmp_path / "autosign"
    autosign.write_text("# trusted hosts\nweb*\n\n  db-[0-9]  \n#other*\n")
    store = KeyStore(str(tmp_path / "pki"), autosign_file=str(autosign))
    assert store.register("web7", _pub()) == ACCEPTED
    assert store.register("db-3", _pub()) == ACCEPTED
    assert store.register("db-x", _pub()) == PENDING
    assert store.register("other1", _pub()) == PENDING
    assert store.register("xweb", _pub()) == PENDING
    assert store.ids(ACCEPTED) == ["db-3", "web7"]


def test_autosign_file_is_reread(tmp_path: Path) -> None:
    autosign = tmp_path / "autosign"
    autosign.write_text("")
    store = KeyStore(str(tmp_path / "pki"), autosign_file=str(autosign))
    assert store.register("a", _pub()) == PENDING
    autosign.write_text("b\n")
    assert store.register("b", _pub()) == ACCEPTED


def test_missing_autosign_file_accepts_nothing(tmp_path: Path) -> None:
    store = KeyStore(str(tmp_path / "pki"), autosign_file=str(tmp_path / "absent"))
    assert store.register("a", _pub()) == PENDING


def test_off_by_default(store: KeyStore) -> None:
    assert store.auto_accept is False
    assert store.autosign_file == ""
    assert store.register("a", _pub()) == PENDING


@pytest.mark.parametrize(
    "bad",
    ["../x", "a/b", "", "-x", "a" * 254, ".hidden", "_x", "a b", "a\x00b", "é", "..", "/abs"],
)
def test_invalid_ids_refused_before_touching_filesystem(tmp_path: Path, bad: str) -> None:
    store = KeyStore(str(tmp_path / "pki"))
    before = _tree(tmp_path)
    with pytest.raises(UsageError, match="invalid minion id"):
        store.register(bad, _pub())
    with pytest.raises(UsageError):
        store.read(ACCEPTED, bad)
    assert _tree(tmp_path) == before
    assert not (tmp_path / "x").exists()
    assert not ids.valid_id(bad)


def test_longest_valid_id(store: KeyStore) -> None:
    name = "a" * 253
    assert ids.valid_id(name)
    assert store.register(name, _pub()) == PENDING
    assert ids.check_id("web-1.example_com") == "web-1.example_com"


def test_valid_id_rejects_non_strings() -> None:
    assert not ids.valid_id(None)
    assert not ids.valid_id(b"web1")
    assert not ids.valid_id(1)


def test_id_with_trailing_newline_is_refused(tmp_path: Path) -> None:
    store = KeyStore(str(tmp_path / "pki"))
    assert not ids.valid_id("web1\n")
    with pytest.raises(UsageError):
        store.register("web1\n", _pub())


def test_listing_sorted_and_ignores_stray_files(store: KeyStore) -> None:
    for name in ("zeta", "alpha", "Mid", "beta2", "beta10"):
        store.register(name, _pub())
    (Path(store.pki_dir) / "minions_pre" / ".tmp-abc").write_text("junk")
    listing = store.listing()
    assert list(listing) == [ACCEPTED, PENDING, REJECTED, DENIED]
    assert listing[PENDING] == ["Mid", "alpha", "beta10", "beta2", "zeta"]
    store.accept("beta*")
    assert store.listing()[ACCEPTED] == ["beta10", "beta2"]


def test_fingerprints_by_state(store: KeyStore) -> None:
    a, b = _pub(), _pub()
    store.register("a", a)
    store.register("b", b)
    store.accept("a")
    assert store.fingerprints("*") == {
        ACCEPTED: {"a": fingerprint(a)},
        PENDING: {"b": fingerprint(b)},
    }
    assert store.fingerprints("b") == {PENDING: {"b": fingerprint(b)}}
    assert store.fingerprints("nomatch*") == {}


def test_corrupt_key_file_is_keystore_error(store: KeyStore) -> None:
    store.register("m", _pub())
    _file(store, PENDING, "m").write_text("garbage\n")
    with pytest.raises(KeyStoreError):
        store.read(PENDING, "m")
    with pytest.raises(KeyStoreError):
        store.register("m", _pub())


def test_key_files_are_public_mode(store: KeyStore) -> None:
    store.register("m", _pub())
    assert _file(store, PENDING, "m").stat().st_mode & 0o777 == 0o644


def test_json_names_match_salt() -> None:
    assert keys.JSON_NAMES == {
        ACCEPTED: "minions",
        PENDING: "minions_pre",
        REJECTED: "minions_rejected",
        DENIED: "minions_denied",
    }


# -- limits on new pending keys and accepting by fingerprint ----------------------


def test_pending_keys_stop_at_max_pending(tmp_path: Path) -> None:
    store = KeyStore(str(tmp_path / "pki"), max_pending=3)
    statuses = [store.register(f"m{i}", _pub()) for i in range(5)]
    assert statuses == [PENDING] * 3 + [keys.LIMITED] * 2
    assert store.ids(PENDING) == ["m0", "m1", "m2"] and store.pending_full()
    known = store.read(PENDING, "m0")
    assert known is not None and store.register("m0", known) == PENDING  # known keys still answer
    store.reject("m0")
    assert not store.pending_full()
    assert store.register("m9", _pub()) == PENDING


def test_register_asks_admit_only_for_a_new_pending_key(store: KeyStore) -> None:
    asked: list[str] = []

    def admit() -> bool:
        asked.append("asked")
        return False

    assert store.register("m1", _pub(), admit) == keys.LIMITED
    assert store.ids(PENDING) == []
    pub = _pub()
    assert store.register("m2", pub) == PENDING
    assert store.register("m2", pub, admit) == PENDING
    assert len(asked) == 1


def test_new_key_limiter_is_a_bucket_per_source() -> None:
    limiter = keys.NewKeyLimiter(per_minute=6, max_sources=2)
    assert [limiter.allow("a", now=0.0) for _ in range(7)] == [True] * 6 + [False]
    assert limiter.allow("b", now=0.0)  # another source has its own bucket
    assert not limiter.allow("a", now=9.0)  # 0.9 of a key refilled
    assert limiter.allow("a", now=10.0)
    assert keys.NewKeyLimiter(0).allow("a")  # 0: no limit


def test_accept_with_expected_fingerprints(store: KeyStore) -> None:
    pub1, pub2 = _pub(), _pub()
    store.register("web1", pub1)
    with pytest.raises(KeyStoreError) as err:
        store.accept("web1", expect={"web1": fingerprint(pub2)})
    message = str(err.value)
    assert f"has fingerprint {fingerprint(pub1)}, not {fingerprint(pub2)}" in message
    assert message.endswith("nothing accepted") and store.ids(ACCEPTED) == []
    with pytest.raises(KeyStoreError, match="no key of web9 to accept"):
        store.accept("web*", expect={"web1": fingerprint(pub1), "web9": "aa"})
    # Keys that came after the operator looked stay pending.
    store.register("web2", pub2)
    change = store.accept("web*", expect={"web1": fingerprint(pub1).upper()})
    assert change.moved == ["web1"] and change.fingers == {"web1": fingerprint(pub1)}
    assert store.ids(PENDING) == ["web2"]


def test_public_keys_by_state_in_text_form(store: KeyStore) -> None:
    web1, web2 = _pub(), _pub()
    store.register("web1", web1)
    store.register("web2", web2)
    store.accept("web1")
    assert store.public_keys("web*") == {
        ACCEPTED: {"web1": _file(store, ACCEPTED, "web1").read_text().strip()},
        PENDING: {"web2": _file(store, PENDING, "web2").read_text().strip()},
    }
    assert decode_key(store.public_keys("web2")[PENDING]["web2"], "x") == web2
    assert store.public_keys("db*") == {}
