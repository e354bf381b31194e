"""Keys and the sealed envelopes that carry every message.

Master: an X25519 key pair (boxes) and an Ed25519 key pair (signing
broadcasts). Minion: an X25519 key pair. Private key files are 0600.

Envelopes (see docs/protocol.md for the frames around them):

* broadcast publication: ``SecretBox(session).encrypt(SigningKey.sign(payload))``;
  every minion holds the session key, the signature proves the master wrote it;
* targeted publication: ``Box(master_sk, minion_pk).encrypt(SigningKey.sign(payload))``,
  signed once and sealed once per target minion, so only that minion opens it;
* request/reply: ``Box(sender_sk, receiver_pk)``, so the sender is proven by
  its key and not by the id it claims; a reply names the token and sequence
  of the request it answers;
* auth proof: ``Box(minion_sk, master_pk)`` over the minion's id, its nonce
  and the master's one-use challenge, the proof of the private key that a
  request token is granted for (see :mod:`fluxforge.master.sessions`).

``Box`` construction costs a Diffie-Hellman operation, so callers cache the
boxes they build (:class:`BoxCache`). Nacl errors are translated here into
:class:`~fluxforge.errors.AuthenticationFailed`.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass

import nacl.bindings
import nacl.exceptions
import nacl.public
import nacl.secret
import nacl.signing
import nacl.utils

from fluxforge.errors import AuthenticationFailed
from fluxforge.protocol.keyfiles import (
    KEY_BYTES,
    Secret,
    encode_key,
    fingerprint,
    read_key_file,
    write_file_atomic,
)

SESSION_KEY_BYTES = nacl.secret.SecretBox.KEY_SIZE


def _box_public(secret: bytes) -> bytes:
    return bytes(nacl.public.PrivateKey(secret).public_key)


def _sign_public(seed: bytes) -> bytes:
    return bytes(nacl.signing.SigningKey(seed).verify_key)


def _load_or_create(
    folder: str, name: str, public_of: Callable[[bytes], bytes]
) -> tuple[bytes, bytes]:
    """Load ``name.key`` from ``folder`` (creating it and ``name.pub`` if absent)."""
    priv_path = os.path.join(folder, f"{name}.key")
    if not os.path.exists(priv_path):
        os.makedirs(folder, mode=0o700, exist_ok=True)
        secret = nacl.utils.random(KEY_BYTES)
        write_file_atomic(priv_path, encode_key(secret) + "\n", 0o600)
        pub_text = encode_key(public_of(secret)) + "\n"
        write_file_atomic(os.path.join(folder, f"{name}.pub"), pub_text, 0o644)
    secret = read_key_file(priv_path, private=True)
    return secret, public_of(secret)


def load_or_create_pair(folder: str, name: str) -> tuple[bytes, bytes]:
    """Load or create the X25519 key pair ``name.key``/``name.pub`` in ``folder``."""
    return _load_or_create(folder, name, _box_public)


def load_or_create_signing(folder: str, name: str) -> tuple[bytes, bytes]:
    """Load or create the Ed25519 signing key pair ``name.key``/``name.pub`` in ``folder``."""
    return _load_or_create(folder, name, _sign_public)


@dataclass(frozen=True)
class MasterIdentity:
    """The master's key pairs."""

    box_secret: Secret
    box_public: bytes
    sign_secret: Secret
    sign_public: bytes

    @classmethod
    def load(cls, pki_dir: str) -> MasterIdentity:
        """Load the master keys from ``pki_dir``, generating them on first start."""
        bsk, bpk = load_or_create_pair(pki_dir, "master")
        ssk, spk = load_or_create_signing(pki_dir, "master_sign")
        return cls(Secret(bsk), bpk, Secret(ssk), spk)

    @property
    def finger(self) -> str:
        """Fingerprint of the master's box key (what ``master_finger`` pins)."""
        return fingerprint(self.box_public)


@dataclass(frozen=True)
class MinionIdentity:
    """A minion's key pair."""

    box_secret: Secret
    box_public: bytes

    @classmethod
    def load(cls, pki_dir: str) -> MinionIdentity:
        """Load the minion keys from ``pki_dir``, generating them on first start."""
        sk, pk = load_or_create_pair(pki_dir, "minion")
        return cls(Secret(sk), pk)

    @classmethod
    def generate(cls) -> MinionIdentity:
        """A fresh in-memory identity (used by tests and the swarm)."""
        sk = nacl.public.PrivateKey.generate()
        return cls(Secret(bytes(sk)), bytes(sk.public_key))


def new_session_key() -> Secret:
    """A fresh random key for broadcast SecretBoxes."""
    return Secret(nacl.utils.random(SESSION_KEY_BYTES))


def random_bytes(n: int) -> bytes:
    """``n`` random bytes from the system CSPRNG."""
    return nacl.utils.random(n)


class Signer:
    """Signs and seals publications with the master's keys."""

    def __init__(self, sign_secret: Secret) -> None:
        self._key = nacl.signing.SigningKey(sign_secret.reveal())

    def seal(self, payload: bytes, session: Secret) -> bytes:
        """Sign ``payload`` then encrypt it with the session key."""
        signed = self._key.sign(payload)
        return bytes(nacl.secret.SecretBox(session.reveal()).encrypt(signed))

    def sign(self, payload: bytes) -> SignedJob:
        """``payload`` signed once and encrypted once under a fresh job key, for :meth:`seal_to`."""
        return SignedJob.of(bytes(self._key.sign(payload)))

    @staticmethod
    def seal_to(job: SignedJob, boxes: BoxCache, minion_public: bytes) -> bytes:
        """One minion's copy of a :meth:`sign` result: the job key in a Box to it, then the body.

        Only the 32-byte key is sealed per minion, so a job to N minions
        costs one pass of the cipher over the load and N small Boxes.
        ``boxes`` must be the master's own cache (the one that seals
        replies), so that one nonce sequence covers every Box between the
        same keys.
        """
        return boxes.encrypt(minion_public, job.key.reveal()) + job.body


@dataclass(frozen=True)
class SignedJob:
    """A signed job encrypted under its own key: ``body`` is SecretBox(``key``) of it."""

    key: Secret
    body: bytes

    @classmethod
    def of(cls, signed: bytes) -> SignedJob:
        key = new_session_key()
        return cls(key, bytes(nacl.secret.SecretBox(key.reveal()).encrypt(signed)))


# A job key sealed to one minion: Box nonce (24), MAC (16) and the 32-byte key.
WRAPPED_KEY_BYTES = 24 + 16 + 32


class PublicationOpener:
    """Decrypts and verifies publications on a minion."""

    def __init__(self, verify_key: bytes) -> None:
        try:
            self._verify = nacl.signing.VerifyKey(verify_key)
        except (nacl.exceptions.CryptoError, ValueError, TypeError):
            raise AuthenticationFailed("master signing key is not a valid Ed25519 key")

    def open(self, sealed: bytes, session: Secret) -> bytes:
        """Return the payload, or raise if it does not decrypt or verify."""
        try:
            signed = nacl.secret.SecretBox(session.reveal()).decrypt(sealed)
        except (nacl.exceptions.CryptoError, ValueError, TypeError):
            raise AuthenticationFailed("publication does not decrypt with the session key")
        return self._verified(signed)

    def open_to(self, sealed: bytes, boxes: BoxCache, master_public: bytes) -> bytes:
        """Open a publication sealed to this minion (:meth:`Signer.seal_to`) and verify it.

        ``boxes`` holds this minion's secret key; ``master_public`` is the
        pinned master box key. The job key must come out of a Box from the
        master to this minion, be 32 bytes, and open the body; the body must
        then carry the master's signature (a reply or a grant, Boxes between
        the same keys, never does).
        """
        wrapped, body = sealed[:WRAPPED_KEY_BYTES], sealed[WRAPPED_KEY_BYTES:]
        try:
            key = boxes.decrypt(master_public, wrapped)
        except AuthenticationFailed:
            raise AuthenticationFailed(
                "publication sealed to a minion does not open with this minion's key"
            )
        if len(key) != 32:
            raise AuthenticationFailed("publication sealed to a minion holds no job key")
        try:
            signed = nacl.secret.SecretBox(key).decrypt(body)
        except (nacl.exceptions.CryptoError, ValueError, TypeError):
            raise AuthenticationFailed("publication body does not decrypt with its job key")
        return self._verified(signed)

    def _verified(self, signed: bytes) -> bytes:
        try:
            return bytes(self._verify.verify(signed))
        except (nacl.exceptions.BadSignatureError, ValueError, TypeError):
            raise AuthenticationFailed("publication signature is not the master's")


try:  # libsodium through PyNaCl's cffi module, without its per-call checks
    from nacl._sodium import ffi as _ffi
    from nacl._sodium import lib as _lib
except ImportError:  # pragma: no cover - a PyNaCl without the module
    _ffi = _lib = None

_MAC = 16


def _box_seal(plain: bytes, nonce: bytes, key: bytes) -> bytes:
    """``crypto_box_easy_afternm``; arguments are trusted (our own keys and nonces)."""
    if _lib is None:
        return nacl.bindings.crypto_box_easy_afternm(plain, nonce, key)
    out = _ffi.new("unsigned char[]", len(plain) + _MAC)
    _lib.crypto_box_easy_afternm(out, plain, len(plain), nonce, key)
    return _ffi.buffer(out, len(plain) + _MAC)[:]


def _box_open(sealed: bytes, nonce: bytes, key: bytes) -> bytes:
    """``crypto_box_open_easy_afternm``; raises :class:`AuthenticationFailed` on a bad MAC."""
    if _lib is None:
        try:
            return nacl.bindings.crypto_box_open_easy_afternm(sealed, nonce, key)
        except (nacl.exceptions.CryptoError, ValueError, TypeError):
            raise AuthenticationFailed("message does not decrypt with the sender's key")
    size = len(sealed) - _MAC
    out = _ffi.new("unsigned char[]", max(size, 1))
    if _lib.crypto_box_open_easy_afternm(out, sealed, len(sealed), nonce, key) != 0:
        raise AuthenticationFailed("message does not decrypt with the sender's key")
    return _ffi.buffer(out, size)[:]


class BoxCache:
    """Box keys between our secret key and peers' public keys, computed once each.

    Uses libsodium's precomputed-key interface directly: the X25519 step runs
    once per peer, and each message costs only the symmetric cipher. Nonces
    are a random 16-byte prefix drawn per cache and a 64-bit counter, so no
    system call per message and no repeat under one key; the peer's nonces
    are random, so the two directions of a pair never collide. The wire form
    is the same as :meth:`nacl.public.Box.encrypt`: nonce then ciphertext.
    """

    NONCE = nacl.bindings.crypto_box_NONCEBYTES

    def __init__(self, secret: Secret, limit: int = 100_000) -> None:
        self._secret = secret.reveal()
        self._keys: dict[bytes, bytes] = {}
        self._limit = limit
        self._prefix = nacl.utils.random(self.NONCE - 8)
        self._counter = itertools.count(1)

    def key(self, peer_public: bytes) -> bytes:
        """The shared key for ``peer_public``, from the cache when possible."""
        key = self._keys.get(peer_public)
        if key is None:
            if not isinstance(peer_public, bytes) or len(peer_public) != KEY_BYTES:
                raise AuthenticationFailed("peer public key is not a valid X25519 key")
            try:
                key = nacl.bindings.crypto_box_beforenm(peer_public, self._secret)
            except (nacl.exceptions.CryptoError, ValueError, TypeError):
                raise AuthenticationFailed("peer public key is not a valid X25519 key")
            if len(self._keys) >= self._limit:
                self._keys.pop(next(iter(self._keys)))
            self._keys[peer_public] = key
        return key

    def forget(self, peer_public: bytes) -> None:
        """Drop the cached key of a peer whose key was removed."""
        self._keys.pop(peer_public, None)

    def encrypt(self, peer_public: bytes, plaintext: bytes) -> bytes:
        """Encrypt ``plaintext`` for ``peer_public``."""
        nonce = self._prefix + next(self._counter).to_bytes(8, "big")
        return nonce + _box_seal(plaintext, nonce, self.key(peer_public))

    def decrypt(self, peer_public: bytes, ciphertext: bytes) -> bytes:
        """Decrypt a message from ``peer_public``; raise if it is not genuine."""
        key = self.key(peer_public)
        if not isinstance(ciphertext, bytes) or len(ciphertext) < self.NONCE + 16:
            raise AuthenticationFailed("message is too short to be a Box")
        return _box_open(ciphertext[self.NONCE :], ciphertext[: self.NONCE], key)
