"""Key files and secrets: the parts of key handling that need no cryptography library.

Text form of keys (base64 on one line), fingerprints, atomic writes with a
mode, reading a key file (refusing a private one that group or others can read or write), and
:class:`Secret`, bytes that never show themselves. ``ff-key`` and the key
store use these without loading PyNaCl; :mod:`fluxforge.protocol.crypto`
builds on them.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile

from fluxforge.errors import KeyStoreError

KEY_BYTES = 32


class Secret:
    """Bytes that never show themselves in a log, a repr or a traceback."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes) -> None:
        self._value = value

    def reveal(self) -> bytes:
        """The secret bytes; call only where they are used."""
        return self._value

    def __repr__(self) -> str:
        return "Secret(<hidden>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def fingerprint(public: bytes) -> str:
    """SHA-256 fingerprint of a public key, as colon-separated hex pairs."""
    digest = hashlib.sha256(public).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def encode_key(raw: bytes) -> str:
    """Text form of a key for files: base64 on one line."""
    return base64.b64encode(raw).decode("ascii")


def decode_key(text: str, where: str) -> bytes:
    """Parse the text form of a 32-byte key; ``where`` names the source in errors."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (ValueError, TypeError):
        raise KeyStoreError(f"{where}: not a base64 key; delete it to have a new one made")
    if len(raw) != KEY_BYTES:
        raise KeyStoreError(f"{where}: key must be {KEY_BYTES} bytes, found {len(raw)}")
    return raw


def write_file_atomic(path: str, data: str, mode: int) -> None:
    """Write ``data`` to ``path`` atomically with permission ``mode``."""
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_key_file(path: str, private: bool) -> bytes:
    """Read a key file; a private one must not be readable by others."""
    try:
        st = os.stat(path)
        if private and st.st_mode & 0o077:
            raise KeyStoreError(
                f"private key {path} is mode {st.st_mode & 0o777:04o} (group or others may "
                f"read or change it); run `chmod 600 {path}`"
            )
        with open(path, encoding="ascii") as fh:
            return decode_key(fh.read(), path)
    except KeyStoreError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise KeyStoreError(f"{path}: cannot read key: {reason}")
