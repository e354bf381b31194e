"""Targeting: which minions a job is for.

One module serves the master (whom to expect), the minion (is this job
for me) and the ``match`` execution module, so that they always agree.
This first version knows the forms that need only the minion id: glob,
pcre and list.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from functools import lru_cache

from fluxforge.errors import TargetError

TARGET_TYPES = ("glob", "pcre", "list")


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise TargetError(f"invalid regular expression {pattern!r}: {exc}")


def as_list(tgt: str | list[str]) -> list[str]:
    """A list target from ``a,b`` text or a list."""
    if isinstance(tgt, list):
        return [str(t) for t in tgt]
    return [t.strip() for t in tgt.split(",") if t.strip()]


def check(tgt: str | list[str], tgt_type: str) -> None:
    """Raise :class:`TargetError` if the target cannot be used."""
    if tgt_type not in TARGET_TYPES:
        raise TargetError(f"unknown target type {tgt_type!r}; use one of {', '.join(TARGET_TYPES)}")
    if tgt_type == "pcre":
        _regex(str(tgt))
    if tgt_type != "list" and not isinstance(tgt, str):
        raise TargetError(f"a {tgt_type} target must be text")


def matches(tgt: str | list[str], tgt_type: str, minion_id: str) -> bool:
    """Whether the minion ``minion_id`` is targeted."""
    if tgt_type == "glob":
        return isinstance(tgt, str) and fnmatch.fnmatchcase(minion_id, tgt)
    if tgt_type == "pcre":
        return isinstance(tgt, str) and _regex(tgt).match(minion_id) is not None
    if tgt_type == "list":
        return minion_id in as_list(tgt)
    return False


def expected(tgt: str | list[str], tgt_type: str, minion_ids: Iterable[str]) -> list[str]:
    """The sorted ids among ``minion_ids`` that the target selects."""
    check(tgt, tgt_type)
    if tgt_type == "list":
        named = set(as_list(tgt))
        return sorted(m for m in minion_ids if m in named)
    return sorted(m for m in minion_ids if matches(tgt, tgt_type, m))
