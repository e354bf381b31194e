"""Helpers that state trees call from templates, as Salt's ``slsutil``: merges and serializers.

``salt['slsutil.merge'](defaults, pillar_overrides)`` is how formulas lay
pillar data over their defaults; ``serialize``/``deserialize`` turn data
into YAML or JSON text and back; ``renderer`` renders a file or a text
as an SLS file is rendered. Merges never change their arguments.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Mapping
from typing import Any

import yaml

from fluxforge.errors import ExecutionError, FileServerError, RenderError
from fluxforge.files.server import DEFAULT_ENV
from fluxforge.highstate import template
from fluxforge.plugins.context import current
from fluxforge.plugins.datapath import update as deep_update
from fluxforge.plugins.loader import inline
from fluxforge.render.renderers import render

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


def renderer(
    path: str | None = None,
    string: str | None = None,
    default_renderer: str = "jinja|yaml",
    saltenv: str = DEFAULT_ENV,
    **kwargs: Any,
) -> Any:
    """Render a file (``path``, a file-server path or ``salt://`` URL) or a ``string``.

    The pipeline is ``default_renderer`` unless the text's first line is a
    ``#!`` line; the context is an SLS file's (grains and pillar as
    untrusted data), plus ``kwargs`` as more variables.

    CLI example: ``ff '*' slsutil.renderer string='{{ grains.os }}' default_renderer=jinja``
    """
    if (path is None) == (string is None):
        raise ExecutionError("slsutil.renderer: give path or string, not both and not neither")
    ctx = current()
    loader = template.loader_for(ctx.files, saltenv) if ctx.files is not None else None
    if string is None:
        text, name = _read(ctx.files, str(path), saltenv), str(path)
    else:
        text, name = string, "<string>"
    context = {**template.context(ctx, saltenv), **kwargs}
    trusted = {k: v for k, v in context.items() if k not in template.UNTRUSTED}
    untrusted = {k: v for k, v in context.items() if k in template.UNTRUSTED}
    try:
        return render(
            text,
            name=name,
            context=trusted,
            untrusted_context=untrusted,
            default=default_renderer,
            loader=loader,
        )
    except RenderError as exc:
        raise ExecutionError(f"slsutil.renderer: {exc}")


def _read(files: Any, path: str, saltenv: str) -> str:
    if files is None:
        raise ExecutionError("slsutil.renderer: a path needs a file client")
    try:
        local = files.cache_file(path, saltenv)
    except FileServerError as exc:
        raise ExecutionError(f"slsutil.renderer: {exc}")
    if local is None:
        raise ExecutionError(f"slsutil.renderer: {path} not found in saltenv {saltenv}")
    try:
        with open(local, encoding="utf-8") as fh:
            text: str = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ExecutionError(f"slsutil.renderer: cannot read {path}: {exc}")
    return text
