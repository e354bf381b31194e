"""Minion ids: the one pattern every id must match, checked before an id touches a path.

An id is 1 to 253 characters of letters, digits, ``.``, ``_`` and ``-``,
starting with a letter or digit, so it is always a safe file name and a
safe zmq topic.
"""

from __future__ import annotations

import re

from fluxforge.errors import UsageError

MINION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}\Z"
ID_RE = re.compile(MINION_ID_PATTERN)


def valid_id(minion_id: object) -> bool:
    """Whether ``minion_id`` is an acceptable minion id."""
    return isinstance(minion_id, str) and ID_RE.match(minion_id) is not None


def check_id(minion_id: str) -> str:
    """Return ``minion_id`` or raise a usage error naming the rule."""
    if not valid_id(minion_id):
        raise UsageError(
            f"invalid minion id {str(minion_id)[:60]!r}: use letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return minion_id
