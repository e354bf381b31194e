"""Reading nested grains and pillar: ``a:b:0`` paths, plain copies, and Salt's merges.

Shared by the ``grains``, ``pillar``, ``config``, ``slsutil`` and
``defaults`` execution modules, so that they follow paths and merge the
same way.
"""

from __future__ import annotations

import copy
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


def update(
    dest: dict[Any, Any], upd: Mapping[Any, Any], merge_lists: bool = False
) -> dict[Any, Any]:
    """Merge ``upd`` into ``dest`` in place, as Salt's ``dictupdate.update``; return ``dest``.

    Mappings on both sides merge recursively; two lists are joined (items of
    ``upd`` not already there appended) when ``merge_lists``; anything else
    in ``upd`` replaces what ``dest`` has.
    """
    for key, value in upd.items():
        here = dest.get(key)
        if isinstance(here, Mapping) and isinstance(value, Mapping):
            dest[key] = update(here if isinstance(here, dict) else dict(here), value, merge_lists)
        elif merge_lists and isinstance(here, list) and isinstance(value, list):
            dest[key] = here + [item for item in value if item not in here]
        else:
            dest[key] = value
    return dest


def merged_with_default(
    data: Any, key: str, default: Any, delimiter: str = ":", merge_lists: bool = False
) -> tuple[Any, str]:
    """The value at ``key`` merged onto a copy of ``default`` (``pillar.get(..., merge=True)``).

    A mapping default takes the mapping found merged over it; a list default
    gets the items found that it lacks. Returns ``(value, problem)``: when
    the default or the value found cannot merge, the value is what
    :func:`traverse` gives and ``problem`` says why, for a log line.
    """
    if isinstance(default, Mapping):
        found = traverse(data, key, {}, delimiter)
        if isinstance(found, Mapping):
            return update(copy.deepcopy(dict(default)), found, merge_lists), ""
        why = f"the default is a mapping but the value at {key!r} is a {type(found).__name__}"
    elif isinstance(default, list):
        found = traverse(data, key, [], delimiter)
        if isinstance(found, list):
            out = copy.deepcopy(default)
            return out + [item for item in found if item not in out], ""
        why = f"the default is a list but the value at {key!r} is a {type(found).__name__}"
    else:
        why = f"the default is a {type(default).__name__}; only a mapping or a list merges"
    return traverse(data, key, default, delimiter), f"merge skipped: {why}"
