"""Helpers that state trees call from templates, as Salt's ``slsutil``: merges and serializers.

``salt['slsutil.merge'](defaults, pillar_overrides)`` is how formulas lay
pillar data over their defaults; ``serialize``/``deserialize`` turn data
into YAML or JSON text and back. Merges never change their arguments.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Mapping
from typing import Any

import yaml

from fluxforge.errors import ExecutionError
from fluxforge.plugins.datapath import update as deep_update
from fluxforge.plugins.loader import inline

log = logging.getLogger("fluxforge.minion")

SERIALIZERS = ("yaml", "json")


def _mapping(value: Any, what: str) -> dict[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ExecutionError(f"slsutil.{what}: needs mappings, got a {type(value).__name__}")
    return dict(value)


@inline
def update(
    dest: dict[str, Any],
    upd: dict[str, Any],
    recursive_update: bool = True,
    merge_lists: bool = False,
) -> dict[str, Any]:
    """Return ``dest`` updated by ``upd``, nested mappings merged unless ``recursive_update``=False.

    With ``merge_lists``, two lists at the same place are joined (the new
    items appended) instead of the second replacing the first.

    CLI example: ``ff-call --local slsutil.update '{a: {b: 1}}' '{a: {c: 2}}'``
    """
    base = copy.deepcopy(_mapping(dest, "update"))
    over = _mapping(upd, "update")
    if not recursive_update:
        base.update(copy.deepcopy(over))
        return base
    return deep_update(base, copy.deepcopy(over), merge_lists)


@inline
def merge(
    obj_a: dict[str, Any],
    obj_b: dict[str, Any],
    strategy: str = "smart",
    renderer: str = "yaml",
    merge_lists: bool = False,
) -> dict[str, Any]:
    """Return ``obj_b`` merged over a copy of ``obj_a``.

    ``strategy`` is Salt's: ``smart`` and ``recurse`` merge nested mappings,
    ``overwrite`` lets a key of ``obj_b`` replace the same key of ``obj_a``
    whole, ``none`` is ``recurse`` (there is nothing else to merge with).
    ``aggregate`` and ``list`` (for yamlex trees) are not supported.
    ``renderer`` is accepted for Salt's signature.

    CLI example: ``ff-call --local slsutil.merge '{a: 1}' '{b: 2}'``
    """
    del renderer  # only chooses "aggregate" for yamlex in Salt, which FluxForge does not render
    base = copy.deepcopy(_mapping(obj_a, "merge"))
    over = copy.deepcopy(_mapping(obj_b, "merge"))
    if strategy in ("smart", "recurse", "none"):
        return deep_update(base, over, merge_lists)
    if strategy == "overwrite":
        for key in over:
            if key in base:
                base[key] = over[key]
        return deep_update(base, over, merge_lists)
    raise ExecutionError(
        f"slsutil.merge: strategy {strategy!r} is not supported; "
        "use smart, recurse, overwrite or none"
    )


@inline
def merge_all(
    lst: list[dict[str, Any]],
    strategy: str = "smart",
    renderer: str = "yaml",
    merge_lists: bool = False,
) -> dict[str, Any]:
    """Return the mappings of ``lst`` merged in order, each over the ones before it.

    CLI example: ``ff-call --local slsutil.merge_all '[{a: 1}, {a: 2, b: 3}]'``
    """
    if not isinstance(lst, list | tuple):
        raise ExecutionError(
            f"slsutil.merge_all: needs a list of mappings, got a {type(lst).__name__}"
        )
    out: dict[str, Any] = {}
    for item in lst:
        out = merge(out, item, strategy, renderer, merge_lists)
    return out


def _serializer(name: str, what: str) -> str:
    if name not in SERIALIZERS:
        known = ", ".join(SERIALIZERS)
        raise ExecutionError(f"slsutil.{what}: unknown serializer {name!r}; known: {known}")
    return name


@inline
def serialize(serializer: str, obj: Any, **kwargs: Any) -> str:
    """Return ``obj`` as ``yaml`` or ``json`` text; other keyword arguments go to the dumper.

    YAML is block style with one-line lists and mappings at the leaves, as
    Salt writes it; JSON keeps the mapping's order unless ``sort_keys``.

    CLI example: ``ff-call --local slsutil.serialize json '{a: [1, 2]}'``
    """
    kind = _serializer(serializer, "serialize")
    try:
        if kind == "json":
            return json.dumps(obj, **kwargs)
        options = {"default_flow_style": None, "allow_unicode": True, **kwargs}
        text: str = yaml.safe_dump(obj, **options)
    except (TypeError, ValueError, yaml.YAMLError) as exc:
        raise ExecutionError(f"slsutil.serialize: cannot write {kind}: {exc}")
    return text.removesuffix("\n").removesuffix("\n...")


@inline
def deserialize(serializer: str, stream_or_string: str, **kwargs: Any) -> Any:
    """Return the data of a ``yaml`` or ``json`` text (YAML loaded safely).

    CLI example: ``ff-call --local slsutil.deserialize yaml 'a: [1, 2]'``
    """
    kind = _serializer(serializer, "deserialize")
    if kwargs:
        log.debug("slsutil.deserialize: ignoring options %s", sorted(kwargs))
    try:
        if kind == "json":
            return json.loads(stream_or_string)
        return yaml.safe_load(stream_or_string)
    except (TypeError, ValueError, yaml.YAMLError) as exc:
        raise ExecutionError(f"slsutil.deserialize: not valid {kind}: {' '.join(str(exc).split())}")
