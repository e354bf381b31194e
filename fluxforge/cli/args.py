"""Parsing of the command-line words of ``ff`` and ``ff-call``.

The words after the function name are split into positional and keyword
arguments, as Salt does: ``name=value`` is a keyword argument when ``name``
is a Python identifier, and everything else is positional text. Values stay
text here; the minion converts them when it calls the function.

:data:`TARGET_FLAGS` lists ``ff``'s targeting options and
:func:`target_type` picks the target type from those given.

An option a command does not know is a usage error wherever it stands, as
in Salt; a word meant as an argument that starts with ``-`` goes after
``--``. Click drops the ``--`` itself, so the command counts the words after
it first (:data:`LITERAL_META`) and :func:`reject_options` spares those.
"""

from __future__ import annotations

import difflib
import math
import shlex
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from fluxforge.errors import UsageError

__all__ = [
    "LITERAL_META",
    "TARGET_FLAGS",
    "TargetFlag",
    "parse_count",
    "parse_seconds",
    "parse_target_list",
    "parse_timeout",
    "reject_options",
    "split_args",
    "target_type",
]


class TargetFlag(NamedTuple):
    """One targeting option of ``ff``: its short and long forms and its target type."""

    short: str
    long: str
    tgt_type: str
    help: str

    @property
    def label(self) -> str:
        """How an error message names the option: ``-E/--pcre``."""
        return f"{self.short}/{self.long}"


TARGET_FLAGS: tuple[TargetFlag, ...] = (
    TargetFlag("-E", "--pcre", "pcre", "TARGET is a regular expression on minion ids."),
    TargetFlag("-L", "--list", "list", "TARGET is a comma-separated list of minion ids."),
    TargetFlag("-G", "--grain", "grain", "TARGET is a grain glob, key:sub:glob."),
    TargetFlag("-P", "--grain-pcre", "grain_pcre", "TARGET is a grain regex, key:regex."),
    TargetFlag("-I", "--pillar", "pillar", "TARGET is a pillar glob, key:sub:glob."),
    TargetFlag("-J", "--pillar-pcre", "pillar_pcre", "TARGET is a pillar regex, key:regex."),
    TargetFlag("-S", "--ipcidr", "ipcidr", "TARGET is an IP address or CIDR subnet."),
    TargetFlag("-N", "--nodegroup", "nodegroup", "TARGET is a nodegroup name."),
    TargetFlag("-C", "--compound", "compound", "TARGET is a compound expression."),
)


def target_type(chosen: Iterable[str]) -> str:
    """The target type for the targeting options ``chosen`` (by tgt_type name).

    No option means ``glob``. More than one raises
    :class:`~fluxforge.errors.UsageError` naming them, in the order of
    :data:`TARGET_FLAGS`.
    """
    picked = set(chosen)
    unknown = picked - {flag.tgt_type for flag in TARGET_FLAGS}
    if unknown:
        raise UsageError(f"unknown target type {sorted(unknown)[0]!r}")
    flags = [flag for flag in TARGET_FLAGS if flag.tgt_type in picked]
    if len(flags) > 1:
        raise UsageError(
            "give at most one targeting option, got " + " and ".join(flag.label for flag in flags)
        )
    return flags[0].tgt_type if flags else "glob"


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


# Where a command's parse_args leaves the number of words given after ``--``.
LITERAL_META = "fluxforge.literal_words"


def reject_options(
    command: str, head: Sequence[str], args: Sequence[str], literal: int, known: Sequence[str] = ()
) -> None:
    """Refuse a word of ``head`` or ``args`` that looks like an option, but the last ``literal``.

    ``head`` are the words before the function's arguments (TARGET and
    FUNCTION), ``args`` the arguments; click passed them through (it is
    told to keep options it does not know, so that the error can say what
    to do), and the last ``literal`` came after ``--``: arguments whatever
    they look like. A lone ``-`` is an argument too. The
    :class:`~fluxforge.errors.UsageError` names the option; for one among
    the arguments it shows the command that passes them all as they are,
    ``command`` (the program and any option the target needs) then ``head``,
    ``--`` and ``args``. When the word is close to one of the ``known``
    options, the error names that one first: a typo is likelier than an
    argument.
    """
    words = [*head, *args]
    for index, word in enumerate(words[: max(len(words) - literal, 0)]):
        if not word.startswith("-") or word == "-":
            continue
        program = command.split()[0]
        close = difflib.get_close_matches(word.partition("=")[0], known, n=1, cutoff=0.75)
        if close:
            raise UsageError(f"no such option: {word}; did you mean {close[0]}?")
        if index < len(head):
            raise UsageError(f"no such option: {word}; see `{program} --help`")
        example = " ".join([command, *map(shlex.quote, head), "--", *map(shlex.quote, args)])
        raise UsageError(
            f"no such option: {word}; an argument that starts with '-' goes after '--': {example}"
        )


def parse_count(text: str, option: str) -> int:
    """Parse a whole number above zero (``--subset``); ``option`` names it in the error."""
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise UsageError(f"{option} must be a whole number above 0, got {text!r}")
    return count


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


def parse_seconds(text: str, option: str) -> float:
    """Parse a finite number of seconds, zero or more (``--batch-wait``).

    ``option`` names the option in the
    :class:`~fluxforge.errors.UsageError` raised for anything else.
    """
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise UsageError(f"{option} must be a number of seconds, 0 or more, got {text!r}")
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
