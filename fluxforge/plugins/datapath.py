"""Reading nested grains and pillar: ``a:b:0`` paths and plain copies.

Shared by the ``grains`` and ``pillar`` execution modules, so that
``grains.get`` and ``pillar.get`` follow paths the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def plain(value: Any) -> Any:
    """A deep copy made of plain dicts and lists, safe to return over the wire."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def traverse(data: Any, key: str, default: Any, delimiter: str = ":") -> Any:
    """Follow ``key`` (parts joined by ``delimiter``) into nested mappings and lists.

    A key present as a whole (``odd:key``) wins over the path; an integer
    part indexes a list; anything missing gives ``default``.
    """
    if isinstance(data, Mapping) and key in data:
        return data[key]
    if not key:
        return default
    for part in key.split(delimiter):
        if isinstance(data, Mapping) and part in data:
            data = data[part]
        elif isinstance(data, list | tuple):
            try:
                data = data[int(part)]
            except (ValueError, IndexError):
                return default
        else:
            return default
    return data
