"""Parsing of the command-line words of ``ff`` and ``ff-call``.

The words after the function name are split into positional and keyword
arguments, as Salt does: ``name=value`` is a keyword argument when ``name``
is a Python identifier, and everything else is positional text. Values stay
text here; the minion converts them when it calls the function.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from fluxforge.errors import UsageError

__all__ = ["parse_target_list", "parse_timeout", "split_args"]


def split_args(tokens: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Split argument words into positional texts and keyword texts.

    A word is a keyword argument when the text before its first ``=`` is an
    identifier (``str.isidentifier``); its value is the text after that
    ``=``, which may itself hold ``=`` (``a=b=c`` gives ``{"a": "b=c"}``).
    A word whose value starts with ``=`` stays positional, as in Salt, so
    that ``requests==2.31`` is a version spec rather than
    ``requests="=2.31"``. Order among positional words is kept. Raises
    :class:`~fluxforge.errors.UsageError` when a keyword is given twice.
    """
    args: list[str] = []
    kwargs: dict[str, str] = {}
    for token in tokens:
        name, sep, value = token.partition("=")
        if not sep or not name.isidentifier() or value.startswith("="):
            args.append(token)
            continue
        if name in kwargs:
            raise UsageError(f"keyword argument {name!r} given more than once")
        kwargs[name] = value
    return args, kwargs


def parse_timeout(text: str) -> float:
    """Parse a ``--timeout`` value: a finite number of seconds above zero.

    Raises :class:`~fluxforge.errors.UsageError` for anything else.
    """
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise UsageError(f"timeout must be a positive number of seconds, got {text!r}")
    return seconds


def parse_target_list(text: str) -> list[str]:
    """Parse a ``-L`` target: minion ids separated by commas.

    Spaces around ids are dropped, as are empty items and repeats (the first
    occurrence keeps its place). Raises
    :class:`~fluxforge.errors.UsageError` when no id remains.
    """
    ids = list(dict.fromkeys(part.strip() for part in text.split(",")))
    ids = [minion_id for minion_id in ids if minion_id]
    if not ids:
        raise UsageError(f"a list target needs at least one minion id, got {text!r}")
    return ids
