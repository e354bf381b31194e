"""Salt's ``defaults`` module: lay one mapping over another, and deep copies, for templates."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from fluxforge.errors import ExecutionError
from fluxforge.plugins.datapath import update as deep_update
from fluxforge.plugins.loader import inline


@inline
def merge(
    dest: dict[str, Any] | None,
    src: dict[str, Any] | None,
    merge_lists: bool = False,
    in_place: bool = True,
    convert_none: bool = True,
) -> dict[str, Any]:
    """Merge ``src`` into ``dest`` and return it: nested mappings merged, other values replaced.

    With ``merge_lists`` two lists at the same place are joined. ``in_place``
    (the default, as in Salt) changes ``dest`` itself, so a template's
    ``{% do salt['defaults.merge'](defaults, pillar_part) %}`` works;
    ``in_place=False`` merges into a copy. ``None`` counts as an empty
    mapping unless ``convert_none`` is off (``dest`` None cannot be merged
    into in place).

    CLI example: ``ff-call --local defaults.merge '{a: 1}' '{b: 2}'``
    """
    if src is None and convert_none:
        src = {}
    if dest is None and convert_none:
        if in_place:
            raise ExecutionError("defaults.merge: cannot merge in place into None")
        dest = {}
    if not isinstance(dest, Mapping) or not isinstance(src, Mapping):
        raise ExecutionError(
            f"defaults.merge: needs two mappings, got a {type(dest).__name__} "
            f"and a {type(src).__name__}"
        )
    target = dest if in_place and isinstance(dest, dict) else copy.deepcopy(dict(dest))
    return deep_update(target, src, merge_lists)


@inline
def deepcopy(source: Any) -> Any:
    """Return a deep copy of ``source``, to change without changing the original.

    CLI example: ``ff-call --local defaults.deepcopy '{a: [1]}'``
    """
    return copy.deepcopy(source)
