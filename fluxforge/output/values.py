"""What every outputter does to a return before showing it: bytes decoded, orders made stable."""

from __future__ import annotations

from collections.abc import Mapping, Set
from typing import Any

__all__ = ["as_list", "decode_bytes", "sorted_any", "sorted_keys"]


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
