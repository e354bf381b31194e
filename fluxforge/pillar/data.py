"""Merging pillar data and making it plain enough to travel over msgpack."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from fluxforge.errors import PillarError


def merge(dest: Mapping[str, Any], upd: Mapping[str, Any]) -> dict[str, Any]:
    """``dest`` updated by ``upd``, as a new dict (Salt's default "smart" merge).

    Mappings merge recursively; any other value of ``upd`` (a list, a
    scalar, None) replaces the one in ``dest``: lists are not concatenated,
    as with Salt's ``pillar_merge_lists: False``.
    """
    out = dict(dest)
    for key, value in upd.items():
        old = out.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            out[key] = merge(old, value)
        else:
            out[key] = value
    return out


def nest(data: dict[str, Any], key: str) -> dict[str, Any]:
    """``data`` put under ``key``; ``a:b`` gives ``{a: {b: data}}``."""
    for part in reversed(key.split(":")):
        data = {part: data}
    return data


_SCALARS = (str, int, float, bool, type(None))


def plain(value: Any, path: str = "") -> Any:
    """A copy made of dicts, lists and scalars; dates and times become ISO text.

    Raises :class:`PillarError` naming the key path (never the value) for
    anything else, such as binary data.
    """
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            key = plain(key, path) if not isinstance(key, _SCALARS) else key
            out[key] = plain(item, f"{path}:{key}" if path else str(key))
        return out
    if isinstance(value, list | tuple):
        return [plain(item, f"{path}:{i}" if path else str(i)) for i, item in enumerate(value)]
    if isinstance(value, set | frozenset):
        items = [plain(item, path) for item in value]
        try:
            return sorted(items)
        except TypeError:
            return items
    where = f" at {path!r}" if path else ""
    raise PillarError(f"pillar value{where} is a {type(value).__name__}, which cannot be sent")
