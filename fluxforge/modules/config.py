"""Salt's ``config.get``: one key looked up in the minion's options, grains and pillar.

The order is Salt's: the minion's options first, then grains, then
pillar, then the master's options as the pillar exposes them (its
``master`` key), then ``default``. A ``merge`` strategy instead merges all
of them, options winning, and looks the key up in the result.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from fluxforge.errors import PillarError
from fluxforge.plugins.context import JobContext, current
from fluxforge.plugins.datapath import plain, traverse
from fluxforge.plugins.datapath import update as deep_update
from fluxforge.plugins.loader import inline

log = logging.getLogger("fluxforge.minion")

_MISSING = object()
MERGES = ("recurse", "overwrite")


def _sources(ctx: JobContext, omit: dict[str, bool]) -> list[tuple[str, Any]]:
    """``(name, data)`` of each place looked in, first to last."""
    pillar: Any = {}
    if not (omit["pillar"] and omit["master"]):
        if ctx.pillar_error:
            raise PillarError(ctx.pillar_error)
        pillar = ctx.pillar
    master = pillar.get("master", {}) if isinstance(pillar, Mapping) else {}
    places = [
        ("opts", dataclasses.asdict(ctx.opts)),
        ("grains", ctx.grains),
        ("pillar", pillar),
        ("master", master if isinstance(master, Mapping) else {}),
    ]
    return [(name, data) for name, data in places if not omit[name]]


@inline
def get(
    key: str,
    default: Any = "",
    delimiter: str = ":",
    merge: str | None = None,
    omit_opts: bool = False,
    omit_pillar: bool = False,
    omit_master: bool = False,
    omit_grains: bool = False,
) -> Any:
    """Return ``key`` (an ``a:b`` path) from the options, grains, pillar or master options.

    The first place that has it answers, in that order; ``default`` when
    none has. ``merge`` (``recurse`` or ``overwrite``) merges the places
    (master options, then pillar, grains and options over them) and
    answers from the merge, so a mapping can gather parts from each.
    ``omit_*`` leaves a place out.

    CLI example: ``ff '*' config.get file_client``
    """
    ctx = current()
    omit = {"opts": omit_opts, "grains": omit_grains, "pillar": omit_pillar, "master": omit_master}
    places = _sources(ctx, omit)
    if merge is None:
        for _name, data in places:
            found = traverse(data, key, _MISSING, delimiter)
            if found is not _MISSING:
                return plain(found)
        return default
    if merge not in MERGES:
        log.warning("config.get %s: unknown merge %r, merging with 'recurse'", key, merge)
        merge = "recurse"
    merged: dict[Any, Any] = {}
    for _name, data in reversed(places):
        if not isinstance(data, Mapping):
            continue
        over = copy.deepcopy(dict(data))
        if merge == "overwrite":
            merged.update({k: v for k, v in over.items() if k in merged})
        merged = deep_update(merged, over)
    found = traverse(merged, key, _MISSING, delimiter)
    return default if found is _MISSING else plain(found)
