"""This minion's key fingerprints, for checking a key before the master accepts it.

An operator compares :func:`finger` (run on the minion host, e.g.
``ff-call --local key.finger``) with what ``ff-key -f ID`` shows on the
master, then accepts with ``ff-key -a ID --finger FP``: a key someone else
offered under this id has another fingerprint and is refused.
"""

from __future__ import annotations

import os

from fluxforge.errors import ExecutionError, FluxForgeError, KeyStoreError
from fluxforge.plugins.context import current
from fluxforge.plugins.loader import inline
from fluxforge.protocol.keyfiles import decode_key, fingerprint


def _finger_of(name: str, missing: str) -> str:
    """Fingerprint of the key on the first line of ``pki_dir/name``."""
    path = os.path.join(current().opts.pki_dir, name)
    try:
        with open(path, encoding="ascii") as fh:
            first = fh.readline()
    except FileNotFoundError:
        raise ExecutionError(f"{path} does not exist yet: {missing}")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExecutionError(f"cannot read {path}: {exc}")
    try:
        return fingerprint(decode_key(first, path))
    except KeyStoreError as exc:
        raise ExecutionError(str(exc))


@inline
def finger() -> str:
    """Return the fingerprint of this minion's public key (``pki_dir/minion.pub``).

    A minion without keys yet gets its key pair now, as ``ff-minion`` would
    make it on its first start, so the fingerprint can be read before then.

    CLI example: ``ff-call --local key.finger``
    """
    pki_dir = current().opts.pki_dir
    if not os.path.exists(os.path.join(pki_dir, "minion.key")):
        from fluxforge.config import ensure_private_dir
        from fluxforge.protocol.crypto import MinionIdentity

        try:
            ensure_private_dir(pki_dir)
            MinionIdentity.load(pki_dir)
        except (FluxForgeError, OSError) as exc:
            raise ExecutionError(f"cannot make this minion's keys: {exc}")
    return _finger_of("minion.pub", "delete minion.key to have a new pair made")


@inline
def finger_master() -> str:
    """Return the fingerprint of the master key this minion pinned (``minion_master.pub``).

    It is what ``master_finger`` pins up front; compare it with the
    fingerprint the master logs when it starts.

    CLI example: ``ff-call --local key.finger_master``
    """
    return _finger_of("minion_master.pub", "no master has accepted this minion yet")
