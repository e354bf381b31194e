"""Key files, secrets, publication envelopes and request boxes."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
from pathlib import Path

import nacl.public
import nacl.signing
import pytest

from fluxforge.errors import AuthenticationFailed, KeyStoreError
from fluxforge.protocol import crypto, keyfiles
from fluxforge.protocol.crypto import (
    WRAPPED_KEY_BYTES,
    BoxCache,
    MasterIdentity,
    MinionIdentity,
    PublicationOpener,
    SignedJob,
    Signer,
    new_session_key,
)
from fluxforge.protocol.keyfiles import Secret, fingerprint


def _mode(path: str | Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# -- Secret and fingerprint -----------------------------------------------


def test_secret_repr_and_str_hide_value() -> None:
    value = b"super-secret-bytes-0123456789abc"
    s = Secret(value)
    for text in (repr(s), str(s), f"{s}", repr([s]), repr({"k": s})):
        assert "super-secret" not in text
        assert value.hex() not in text
        assert "hidden" in text
    assert s.reveal() == value


def test_secret_equality_and_hash() -> None:
    assert Secret(b"a") == Secret(b"a")
    assert Secret(b"a") != Secret(b"b")
    assert Secret(b"a") != b"a"
    assert hash(Secret(b"a")) == hash(Secret(b"a"))


def test_identity_repr_does_not_leak_private_keys() -> None:
    ident = MinionIdentity.generate()
    secret = ident.box_secret.reveal()
    text = repr(ident)
    assert repr(secret) not in text
    assert secret.hex() not in text
    assert base64.b64encode(secret).decode() not in text


def test_fingerprint_format() -> None:
    pub = MinionIdentity.generate().box_public
    fp = fingerprint(pub)
    assert re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){31}", fp)
    assert fp.replace(":", "") == hashlib.sha256(pub).hexdigest()
    assert fingerprint(pub) == fp
    assert fingerprint(MinionIdentity.generate().box_public) != fp


def test_fingerprint_known_value() -> None:
    assert fingerprint(b"").startswith("e3:b0:c4:42:98:fc:1c:14")


# -- key text form --------------------------------------------------------


def test_encode_decode_roundtrip() -> None:
    raw = os.urandom(32)
    assert keyfiles.decode_key(keyfiles.encode_key(raw) + "\n", "x") == raw


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not base64 !!!", "not a base64 key"),
        (base64.b64encode(b"short").decode(), "key must be 32 bytes, found 5"),
        ("", "key must be 32 bytes, found 0"),
    ],
)
def test_decode_key_rejects(text: str, message: str) -> None:
    with pytest.raises(KeyStoreError, match=message) as info:
        keyfiles.decode_key(text, "/some/where.pub")
    assert "/some/where.pub" in str(info.value)


# -- key files ------------------------------------------------------------


def test_master_keys_created_with_modes_and_reloaded(tmp_path: Path) -> None:
    pki = tmp_path / "pki" / "master"
    first = MasterIdentity.load(str(pki))
    assert sorted(os.listdir(pki)) == [
        "master.key",
        "master.pub",
        "master_sign.key",
        "master_sign.pub",
    ]
    assert _mode(pki / "master.key") == 0o600
    assert _mode(pki / "master_sign.key") == 0o600
    assert _mode(pki / "master.pub") == 0o644
    assert _mode(pki / "master_sign.pub") == 0o644
    assert _mode(pki) & 0o077 == 0

    second = MasterIdentity.load(str(pki))
    assert second == first
    assert second.box_secret.reveal() == first.box_secret.reveal()
    assert second.sign_secret.reveal() == first.sign_secret.reveal()
    # public files hold the matching public keys
    assert keyfiles.decode_key((pki / "master.pub").read_text(), "p") == first.box_public
    assert keyfiles.decode_key((pki / "master_sign.pub").read_text(), "p") == first.sign_public
    assert bytes(nacl.public.PrivateKey(first.box_secret.reveal()).public_key) == (first.box_public)
    assert bytes(nacl.signing.SigningKey(first.sign_secret.reveal()).verify_key) == (
        first.sign_public
    )
    assert first.finger == fingerprint(first.box_public)


def test_minion_keys_created_and_reloaded(tmp_path: Path) -> None:
    pki = tmp_path / "minion"
    first = MinionIdentity.load(str(pki))
    assert _mode(pki / "minion.key") == 0o600
    assert _mode(pki / "minion.pub") == 0o644
    assert len(first.box_public) == 32
    assert MinionIdentity.load(str(pki)) == first


def test_no_temp_files_left_behind(tmp_path: Path) -> None:
    MasterIdentity.load(str(tmp_path))
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")]


def test_generated_identities_differ() -> None:
    assert MinionIdentity.generate().box_public != MinionIdentity.generate().box_public


def test_private_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    MinionIdentity.load(str(tmp_path))
    key = tmp_path / "minion.key"
    key.chmod(0o644)
    with pytest.raises(KeyStoreError) as info:
        MinionIdentity.load(str(tmp_path))
    msg = str(info.value)
    assert str(key) in msg
    assert "chmod" in msg
    assert "644" in msg


def test_group_readable_signing_key_is_refused(tmp_path: Path) -> None:
    MasterIdentity.load(str(tmp_path))
    (tmp_path / "master_sign.key").chmod(0o640)
    with pytest.raises(KeyStoreError, match="chmod"):
        MasterIdentity.load(str(tmp_path))


def test_public_key_file_may_be_world_readable(tmp_path: Path) -> None:
    MinionIdentity.load(str(tmp_path))
    pub = tmp_path / "minion.pub"
    assert keyfiles.read_key_file(str(pub), private=False) == (
        MinionIdentity.load(str(tmp_path)).box_public
    )


@pytest.mark.parametrize(
    "content",
    [b"garbage\n", b"", base64.b64encode(b"x" * 31) + b"\n", b"\xff\xfe\x00bin"],
)
def test_corrupt_private_key_file_is_refused(tmp_path: Path, content: bytes) -> None:
    MinionIdentity.load(str(tmp_path))
    key = tmp_path / "minion.key"
    key.write_bytes(content)
    key.chmod(0o600)
    with pytest.raises(KeyStoreError) as info:
        MinionIdentity.load(str(tmp_path))
    assert str(key) in str(info.value)


def test_unreadable_key_path_is_keystore_error(tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError, match="cannot read key"):
        keyfiles.read_key_file(str(tmp_path / "missing.key"), private=True)


def test_write_file_atomic_sets_mode(tmp_path: Path) -> None:
    target = tmp_path / "f"
    keyfiles.write_file_atomic(str(target), "hello\n", 0o600)
    assert target.read_text() == "hello\n"
    assert _mode(target) == 0o600
    keyfiles.write_file_atomic(str(target), "bye\n", 0o644)
    assert target.read_text() == "bye\n"
    assert _mode(target) == 0o644
    assert os.listdir(tmp_path) == ["f"]


# -- publications ---------------------------------------------------------


@pytest.fixture
def master() -> MasterIdentity:
    sk = nacl.signing.SigningKey.generate()
    bk = nacl.public.PrivateKey.generate()
    return MasterIdentity(
        Secret(bytes(bk)), bytes(bk.public_key), Secret(bytes(sk)), bytes(sk.verify_key)
    )


def test_session_key_is_random_and_sized() -> None:
    a, b = new_session_key(), new_session_key()
    assert len(a.reveal()) == crypto.SESSION_KEY_BYTES == 32
    assert a != b


def test_publication_roundtrip(master: MasterIdentity) -> None:
    session = new_session_key()
    payload = b"\x93\x01\x02\x03 job load"
    sealed = Signer(master.sign_secret).seal(payload, session)
    assert payload not in sealed
    assert PublicationOpener(master.sign_public).open(sealed, session) == payload


def test_publication_wrong_session_key_fails(master: MasterIdentity) -> None:
    sealed = Signer(master.sign_secret).seal(b"payload", new_session_key())
    with pytest.raises(AuthenticationFailed, match="session key"):
        PublicationOpener(master.sign_public).open(sealed, new_session_key())


def test_publication_signed_by_other_key_fails(master: MasterIdentity) -> None:
    session = new_session_key()
    impostor = Secret(bytes(nacl.signing.SigningKey.generate()))
    sealed = Signer(impostor).seal(b"payload", session)
    with pytest.raises(AuthenticationFailed, match="signature"):
        PublicationOpener(master.sign_public).open(sealed, session)


@pytest.mark.parametrize("index", [0, 30, -1])
def test_publication_tampered_ciphertext_fails(master: MasterIdentity, index: int) -> None:
    session = new_session_key()
    sealed = bytearray(Signer(master.sign_secret).seal(b"payload" * 5, session))
    sealed[index] ^= 0x01
    with pytest.raises(AuthenticationFailed):
        PublicationOpener(master.sign_public).open(bytes(sealed), session)


@pytest.mark.parametrize("sealed", [b"", b"short", b"\x00" * 100])
def test_publication_garbage_fails(master: MasterIdentity, sealed: bytes) -> None:
    with pytest.raises(AuthenticationFailed):
        PublicationOpener(master.sign_public).open(sealed, new_session_key())


def test_opener_rejects_invalid_verify_key() -> None:
    with pytest.raises(AuthenticationFailed, match="Ed25519"):
        PublicationOpener(b"short")


# -- publications sealed to one minion --------------------------------------


def _sealed_to(master: MasterIdentity, minion: MinionIdentity, payload: bytes) -> bytes:
    signer = Signer(master.sign_secret)
    return signer.seal_to(signer.sign(payload), BoxCache(master.box_secret), minion.box_public)


def _open_as(master: MasterIdentity, minion: MinionIdentity, sealed: bytes) -> bytes:
    opener = PublicationOpener(master.sign_public)
    return opener.open_to(sealed, BoxCache(minion.box_secret), master.box_public)


def test_sealed_to_a_minion_roundtrip(master: MasterIdentity) -> None:
    minion = MinionIdentity.generate()
    payload = b"\x93\x01\x02\x03 cmd.run secret"
    sealed = _sealed_to(master, minion, payload)
    assert payload not in sealed
    assert _open_as(master, minion, sealed) == payload


def test_sign_once_seal_to_many(master: MasterIdentity) -> None:
    signer, boxes = Signer(master.sign_secret), BoxCache(master.box_secret)
    signed = signer.sign(b"one job")
    minions = [MinionIdentity.generate() for _ in range(3)]
    sealed = [signer.seal_to(signed, boxes, m.box_public) for m in minions]
    assert len(set(sealed)) == 3
    assert [_open_as(master, m, s) for m, s in zip(minions, sealed, strict=True)] == [
        b"one job"
    ] * 3


def test_sealed_to_another_minion_does_not_open(master: MasterIdentity) -> None:
    sealed = _sealed_to(master, MinionIdentity.generate(), b"for web1")
    with pytest.raises(AuthenticationFailed, match="does not open with this minion's key"):
        _open_as(master, MinionIdentity.generate(), sealed)


def test_sealed_by_another_box_key_does_not_open(master: MasterIdentity) -> None:
    minion = MinionIdentity.generate()
    # A peer (another minion) seals to this minion with its own box key.
    other = MinionIdentity.generate()
    job = Signer(master.sign_secret).sign(b"payload")
    sealed = Signer.seal_to(job, BoxCache(other.box_secret), minion.box_public)
    with pytest.raises(AuthenticationFailed, match="does not open with this minion's key"):
        _open_as(master, minion, sealed)


def test_sealed_to_a_minion_with_another_signer_fails(master: MasterIdentity) -> None:
    minion = MinionIdentity.generate()
    impostor = Signer(Secret(bytes(nacl.signing.SigningKey.generate())))
    sealed = impostor.seal_to(
        impostor.sign(b"payload"), BoxCache(master.box_secret), minion.box_public
    )
    with pytest.raises(AuthenticationFailed, match="signature is not the master's"):
        _open_as(master, minion, sealed)


def test_a_reply_box_is_not_a_publication(master: MasterIdentity) -> None:
    minion = MinionIdentity.generate()
    # Same keys, same direction, but not a job: a reply or a grant cannot pass for one.
    boxes = BoxCache(master.box_secret)
    reply = boxes.encrypt(minion.box_public, b"\x84" + b"x" * 80)
    with pytest.raises(AuthenticationFailed, match="does not open"):
        _open_as(master, minion, reply)
    # Even one whose first 32 bytes open as a key has no body under that key.
    keylike = boxes.encrypt(minion.box_public, b"k" * 32) + reply
    with pytest.raises(AuthenticationFailed, match="does not decrypt with its job key"):
        _open_as(master, minion, keylike)
    # And a body under a real job key must still be signed by the master.
    unsigned = SignedJob.of(b"\x84" + b"x" * 80)
    with pytest.raises(AuthenticationFailed, match="signature is not the master's"):
        _open_as(master, minion, Signer.seal_to(unsigned, boxes, minion.box_public))


def test_a_job_to_many_minions_is_encrypted_once(master: MasterIdentity) -> None:
    signer, boxes = Signer(master.sign_secret), BoxCache(master.box_secret)
    job = signer.sign(b"x" * 10_000)
    copies = [signer.seal_to(job, boxes, MinionIdentity.generate().box_public) for _ in range(3)]
    # Each copy differs only in its sealed key; the body is shared.
    assert {c[WRAPPED_KEY_BYTES:] for c in copies} == {job.body}
    assert len({c[:WRAPPED_KEY_BYTES] for c in copies}) == 3


@pytest.mark.parametrize("cut", [1, 16, 40, 64 + 16])
def test_sealed_to_a_minion_truncated_fails(master: MasterIdentity, cut: int) -> None:
    minion = MinionIdentity.generate()
    sealed = _sealed_to(master, minion, b"payload" * 5)
    with pytest.raises(AuthenticationFailed):
        _open_as(master, minion, sealed[:-cut])
    with pytest.raises(AuthenticationFailed):
        _open_as(master, minion, sealed[:cut])


@pytest.mark.parametrize("index", [0, 24, -1])
def test_sealed_to_a_minion_tampered_fails(master: MasterIdentity, index: int) -> None:
    minion = MinionIdentity.generate()
    sealed = bytearray(_sealed_to(master, minion, b"payload" * 5))
    sealed[index] ^= 0x01
    with pytest.raises(AuthenticationFailed, match=r"does not open|does not decrypt"):
        _open_as(master, minion, bytes(sealed))


# -- boxes ----------------------------------------------------------------


def test_box_cache_roundtrip_between_identities() -> None:
    a, b = MinionIdentity.generate(), MinionIdentity.generate()
    box_a, box_b = BoxCache(a.box_secret), BoxCache(b.box_secret)
    ct = box_a.encrypt(b.box_public, b"hello b")
    assert b"hello b" not in ct
    assert box_b.decrypt(a.box_public, ct) == b"hello b"
    back = box_b.encrypt(a.box_public, b"hello a")
    assert box_a.decrypt(b.box_public, back) == b"hello a"


def test_box_encrypt_uses_fresh_nonces() -> None:
    a, b = MinionIdentity.generate(), MinionIdentity.generate()
    cache = BoxCache(a.box_secret)
    assert cache.encrypt(b.box_public, b"x") != cache.encrypt(b.box_public, b"x")


def test_box_decrypt_from_wrong_peer_fails() -> None:
    a, b, c = (MinionIdentity.generate() for _ in range(3))
    ct = BoxCache(a.box_secret).encrypt(b.box_public, b"for b from a")
    with pytest.raises(AuthenticationFailed, match="sender"):
        BoxCache(b.box_secret).decrypt(c.box_public, ct)
    # and a third party cannot read it either
    with pytest.raises(AuthenticationFailed):
        BoxCache(c.box_secret).decrypt(a.box_public, ct)


def test_box_tampered_ciphertext_fails() -> None:
    a, b = MinionIdentity.generate(), MinionIdentity.generate()
    ct = bytearray(BoxCache(a.box_secret).encrypt(b.box_public, b"message"))
    ct[-1] ^= 0xFF
    with pytest.raises(AuthenticationFailed):
        BoxCache(b.box_secret).decrypt(a.box_public, bytes(ct))


def test_box_invalid_peer_key() -> None:
    cache = BoxCache(MinionIdentity.generate().box_secret)
    with pytest.raises(AuthenticationFailed, match="X25519"):
        cache.encrypt(b"short", b"x")
    with pytest.raises(AuthenticationFailed):
        cache.decrypt(b"short", b"x" * 64)


def test_box_cache_reuses_and_bounds_keys() -> None:
    me = MinionIdentity.generate()
    peers = [MinionIdentity.generate().box_public for _ in range(3)]
    cache = BoxCache(me.box_secret, limit=2)
    first = cache.key(peers[0])
    assert cache.key(peers[0]) is first
    cache.key(peers[1])
    cache.key(peers[2])
    assert len(cache._keys) == 2
    assert peers[0] not in cache._keys
    cache.forget(peers[1])
    assert peers[1] not in cache._keys
    cache.forget(peers[1])  # forgetting twice is fine
    # a rebuilt key still works
    other = BoxCache(Secret(b"\x01" * 32))
    ct = other.encrypt(me.box_public, b"x")
    pub = bytes(nacl.public.PrivateKey(b"\x01" * 32).public_key)
    assert cache.decrypt(pub, ct) == b"x"


def test_box_cache_is_wire_compatible_with_nacl_box_and_never_repeats_a_nonce() -> None:
    me, peer = MinionIdentity.generate(), MinionIdentity.generate()
    cache = BoxCache(me.box_secret)
    box = nacl.public.Box(
        nacl.public.PrivateKey(peer.box_secret.reveal()), nacl.public.PublicKey(me.box_public)
    )
    sealed = [cache.encrypt(peer.box_public, b"msg") for _ in range(100)]
    assert all(box.decrypt(ct) == b"msg" for ct in sealed)
    assert len({ct[:24] for ct in sealed}) == 100
    assert cache.decrypt(peer.box_public, bytes(box.encrypt(b"back"))) == b"back"
    with pytest.raises(AuthenticationFailed):
        cache.decrypt(peer.box_public, b"short")
