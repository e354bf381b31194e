"""What every outputter does to a return before showing it: bytes decoded, orders made stable.

Text a minion returns goes to an operator's terminal, which acts on some
characters rather than showing them: ESC starts colour, cursor, title and
OSC 52 clipboard sequences, CR overwrites a line, BEL rings, C1 controls are
ESC sequences of one byte, and Unicode's bidi overrides reorder what is
shown. :func:`neutralise` writes all of those as visible escapes; the
outputters for people apply it to every string of a return (keys too).
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from typing import Any

import regex

__all__ = ["as_list", "decode_bytes", "neutralise", "neutralise_text", "sorted_any", "sorted_keys"]

# Controls (C0, DEL, C1), format characters (bidi embeddings, overrides and
# isolates, zero-width space, BOM, tag characters), line and paragraph
# separators and lone surrogates; not newline and tab, which multi-line
# output needs, nor the joiners (ZWJ, ZWNJ) that scripts and emoji need.
_UNSAFE = regex.compile(r"(?![\n\t\u200c\u200d])[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]")


def _escape(found: Any) -> str:
    point = ord(found.group())
    if point < 0x100:
        return f"\\x{point:02x}"
    if point < 0x10000:
        return f"\\u{point:04x}"
    return f"\\U{point:08x}"


def neutralise_text(text: str) -> str:
    """``text`` with every character a terminal would act on written as an escape (``\\x1b``).

    ``\\r\\n`` counts as a newline; a lone ``\\r`` is escaped.
    """
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    return _UNSAFE.sub(_escape, text)


def neutralise(value: Any) -> Any:
    """Every string in a return (keys too) passed through :func:`neutralise_text`."""
    if isinstance(value, str):
        return neutralise_text(value)
    if isinstance(value, Mapping):
        return {neutralise(key): neutralise(item) for key, item in value.items()}
    if isinstance(value, list):
        return [neutralise(item) for item in value]
    if isinstance(value, tuple):
        return tuple(neutralise(item) for item in value)
    if isinstance(value, Set):
        return {neutralise(item) for item in value}
    return value


def decode_bytes(value: Any) -> Any:
    """Replace bytes anywhere in a return (keys too) by their UTF-8 text, errors replaced."""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, Mapping):
        return {_decode_key(key): decode_bytes(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode_bytes(item) for item in value]
    if isinstance(value, tuple):
        return tuple(decode_bytes(item) for item in value)
    if isinstance(value, Set):
        return {decode_bytes(item) for item in value}
    return value


def _decode_key(key: Any) -> Any:
    if isinstance(key, bytes):
        return key.decode("utf-8", errors="replace")
    return key


def as_list(value: list[Any] | tuple[Any, ...] | Set[Any]) -> list[Any]:
    """A list of the items; a set's items sorted so that output is stable."""
    if isinstance(value, Set):
        return sorted_any(value)
    return list(value)


def sorted_keys(value: Mapping[Any, Any]) -> list[Any]:
    """The keys of a mapping in the order outputters show them (see :func:`sorted_any`)."""
    return sorted_any(value.keys())


def sorted_any(items: Any) -> list[Any]:
    """Sort naturally when the items compare, else by their text."""
    try:
        return sorted(items)
    except TypeError:
        return sorted(items, key=str)
