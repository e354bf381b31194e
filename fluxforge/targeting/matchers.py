"""One-word matchers: globs and regexes on ids, ``key:sub:pattern`` on grains and pillar.

A target's regular expression (``-E``, ``-P``, ``-J``, ``E@``, ``P@``, ``J@``)
is matched against text a minion controls (its id, its grains), so one
pattern that backtracks catastrophically on that text could hold a process
for hours. Regexes therefore run on the ``regex`` engine with a bound on
the CPU time of each match (:func:`set_regex_timeout`, the
``target_regex_timeout`` option of master and minion) and with the GIL
released; a match that runs out of time counts as no match and is logged
once per pattern and interval. Globs stay on :mod:`re`: ``fnmatch``
translates them into patterns that do not backtrack that way.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import logging
import re
import warnings
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import regex as regex_module

from fluxforge.errors import ConfigError, TargetError
from fluxforge.logs import Warner

Data = Mapping[str, Any]
_Pattern = Callable[[Any], bool]

log = logging.getLogger(__name__)

DEFAULT_REGEX_TIMEOUT = 0.1
_limit = {"timeout": DEFAULT_REGEX_TIMEOUT}
# One line per pattern per minute, however many minions' grains it runs on.
_warner = Warner(log, interval=60.0, burst=1)


def set_regex_timeout(seconds: float) -> None:
    """Bound each target regex match to ``seconds`` of CPU time (the daemons' config)."""
    if not seconds > 0:
        raise ConfigError(f"option 'target_regex_timeout' must be more than 0, not {seconds!r}")
    _limit["timeout"] = float(seconds)


class BoundedRegex:
    """A target's regular expression, compiled once, matched from the start with a time bound."""

    __slots__ = ("pattern", "rx")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern = pattern
        try:
            # Python's own syntax decides what is valid, as in Salt; compiling
            # runs nothing, so it costs no more than the pattern's length.
            # (Its FutureWarnings, e.g. "possible nested set" for "[[", speak of
            # a later Python; the pattern means today what it says.)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                re.compile(pattern, flags)
                self.rx = regex_module.compile(pattern, flags)
        except (re.error, regex_module.error, ValueError, OverflowError, RecursionError) as exc:
            raise TargetError(f"invalid regular expression {pattern!r}: {exc}")

    def test(self, text: str) -> bool:
        """Whether ``text`` matches at its start; False (and a warning) when out of time."""
        timeout = _limit["timeout"]
        try:
            return self.rx.match(text, timeout=timeout, concurrent=True) is not None
        except TimeoutError:
            _warner.warn(
                self.pattern,
                f"target regex {self.pattern!r} ran out of time ({timeout} s of CPU, "
                f"target_regex_timeout) on a value of {len(text)} characters; "
                f"counted as no match",
            )
            return False


@lru_cache(maxsize=256)
def regex_pattern(pattern: str) -> BoundedRegex:
    """The bounded regex of an id pattern (``-E``, ``E@``); raises TargetError if invalid."""
    return BoundedRegex(pattern)


@lru_cache(maxsize=256)
def glob_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern))


def as_list(tgt: str | list[str]) -> list[str]:
    """A list target from ``a,b`` text or a list."""
    if isinstance(tgt, list):
        return [str(t) for t in tgt]
    return [t.strip() for t in tgt.split(",") if t.strip()]


def never(value: Any) -> bool:
    return False


@lru_cache(maxsize=1024)
def _value_pattern(pattern: str, regex: bool) -> _Pattern | None:
    """A test of one value's text against ``pattern``, ignoring case; None if it is no regex.

    Like Salt, numbers and booleans match as their text (``2``, ``True``).
    Salt lower-cases a regex before compiling it, which turns ``\\S`` into
    ``\\s``; we compile with ``re.IGNORECASE`` instead.
    """
    if regex:
        try:
            bounded = BoundedRegex(pattern, regex_module.IGNORECASE)
        except TargetError:
            return None
        return lambda value: bounded.test(str(value))
    rx = glob_pattern(pattern.lower())
    return lambda value: rx.match(str(value).lower()) is not None


def _value_test(pattern: str, regex: bool) -> _Pattern:
    return _value_pattern(pattern, regex) or never


@lru_cache(maxsize=1024)
def _splits(expr: str, delimiter: str) -> tuple[tuple[str, str], ...]:
    """Every (key path, pattern) reading of ``expr``, longest key first."""
    parts = expr.split(delimiter)
    return tuple(
        (delimiter.join(parts[:i]), delimiter.join(parts[i:])) for i in range(len(parts) - 1, 0, -1)
    )


_MISSING = object()


def _traverse(data: Any, key: str, delimiter: str) -> Any:
    """The value at the path ``key`` in nested mappings and lists, or ``_MISSING``.

    A literal top-level key (``"odd:key"``) wins, as in ``grains.get``. In a
    list, a component names a key of an embedded mapping or an index.
    """
    if isinstance(data, Mapping) and key in data:
        return data[key]
    for part in key.split(delimiter):
        if isinstance(data, Mapping):
            if part not in data:
                return _MISSING
            data = data[part]
        elif isinstance(data, list | tuple):
            holder = next((d for d in data if isinstance(d, Mapping) and part in d), None)
            if holder is not None:
                data = holder[part]
                continue
            try:
                data = data[int(part)]
            except (ValueError, IndexError):
                return _MISSING
        else:
            return _MISSING
    return data


def _found_matches(found: Any, pattern: str, delimiter: str, regex: bool) -> bool:
    if isinstance(found, Mapping):
        return _dict_matches(found, pattern, delimiter, regex)
    test = _value_test(pattern, regex)
    if isinstance(found, list | tuple):
        return any(
            _dict_matches(m, pattern, delimiter, regex) if isinstance(m, Mapping) else test(m)
            for m in found
        )
    return test(found)


def _dict_matches(target: Mapping[Any, Any], pattern: str, delimiter: str, regex: bool) -> bool:
    """A pattern against a mapping: ``*`` or a key name (it exists), a deeper path, or ``*:x``."""
    wildcard = pattern.startswith("*" + delimiter)
    if wildcard:
        pattern = pattern[len(delimiter) + 1 :]
    if pattern == "*" or pattern in target:
        return True
    if _subdict_matches(target, pattern, delimiter, regex):
        return True
    if wildcard:
        test = _value_test(pattern, regex)
        for key, value in target.items():
            if test(key):
                return True
            if isinstance(value, Mapping):
                if _dict_matches(value, pattern, delimiter, regex):
                    return True
            elif isinstance(value, list | tuple):
                if any(test(v) for v in value):
                    return True
            elif test(value):
                return True
    return False


def _subdict_matches(data: Data, expr: str, delimiter: str, regex: bool) -> bool:
    for key, pattern in _splits(expr, delimiter):
        if key == "*":
            found, pattern = data, expr
        else:
            found = _traverse(data, key, delimiter)
            if found is _MISSING:
                continue
        if _found_matches(found, pattern, delimiter, regex):
            return True
    return False


@lru_cache(maxsize=1024)
def data_test(expr: str, delimiter: str, regex: bool) -> Callable[[Data], bool]:
    """The test of grains or pillar for ``key:sub:pattern``; checks the expression once."""
    if not delimiter:
        raise TargetError("the key delimiter must not be empty; the usual one is ':'")
    splits = _splits(expr, delimiter)
    if not splits:
        # Salt: "insufficient arguments" -- a bare key matches no minion.
        return never
    if regex and all(_value_pattern(p, True) is None for _, p in splits):
        BoundedRegex(splits[0][1])  # raises the TargetError naming what is wrong
    return lambda data: _subdict_matches(data, expr, delimiter, regex)


def data_matches(data: Data, expr: str, delimiter: str = ":", regex: bool = False) -> bool:
    """Whether grains or pillar ``data`` match ``expr`` (``key:sub:glob``, or a regex).

    The last component is matched case-insensitively against the value's
    text; a list value matches if a member does; a mapping value matches
    ``*`` or one of its keys. ``expr`` without ``delimiter`` matches nothing.
    """
    return data_test(expr, delimiter, regex)(data)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=256)
def network(tgt: str) -> Network:
    text = tgt.strip()
    try:
        return ipaddress.ip_network(text)
    except ValueError as exc:
        try:
            hint = f"did you mean {ipaddress.ip_network(text, strict=False)}?"
        except ValueError:
            hint = "give an address such as 10.0.0.5 or a network such as 10.0.0.0/8"
        raise TargetError(f"invalid IP address or network {tgt!r}: {exc}; {hint}")


def in_network(net: Network, grains: Data) -> bool:
    for key in ("ipv4", "ipv6"):
        values = grains.get(key) or []
        for value in [values] if isinstance(values, str) else values:
            try:
                addr = ipaddress.ip_address(str(value))
            except ValueError:
                continue
            if addr.version == net.version and addr in net:
                return True
    return False
