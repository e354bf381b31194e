"""The pillar compiler: per-minion data from the master's pillar roots and ext_pillar.

Runs on the master, in a worker thread (it reads files and renders
templates). For one minion it

1. renders ``top.sls`` of each environment of ``pillar_roots`` (``base``
   first, then the others sorted), Jinja then YAML, and keeps the targets
   that match the minion (``{match: grain}`` and the other target types of
   :mod:`fluxforge.targeting`);
2. renders the SLS files named there (``a.b`` is ``a/b.sls`` or
   ``a/b/init.sls`` in the first root of that environment that has it),
   with their ``include:`` lists (names, ``.relative`` ones, globs and
   ``{name: {key: a:b, defaults: {...}}}``), each SLS once;
3. deep-merges their data in top order, later files winning (mappings merge
   recursively, lists and scalars replace: Salt's default "smart" strategy);
4. merges each ``ext_pillar`` source over the result, in order
   (:mod:`fluxforge.pillar.ext`).

Templates see ``grains``, ``id``/``minion_id``, ``saltenv``/``env``,
``opts`` (only ``{id, environment}``: never master settings), ``pillar``
(the pillar merged so far, from earlier SLS files in top order; empty in
top files), and in SLS files ``sls``, ``slspath``, ``tpldir``, ``tplpath``
and the ``defaults`` of an include. ``{% import %}`` names are relative to
the environment's roots and cannot leave them.

Every failure is one :class:`~fluxforge.errors.PillarError` line naming the
file, the line when known, and the problem; it never quotes the file's text,
which may hold a secret. The result is plain (dicts, lists, text, numbers,
booleans, None; dates as ISO text), ready for msgpack.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fluxforge.config import MasterConfig
from fluxforge.pillar import ext
from fluxforge.pillar.compiler import Compiler, environments
from fluxforge.pillar.data import merge, plain
from fluxforge.pillar.ext import EXT_PILLARS, ExtPillar

__all__ = ["EXT_PILLARS", "ExtPillar", "compile_pillar", "merge"]


def compile_pillar(
    cfg: MasterConfig, minion_id: str, grains: Mapping[str, Any], env: str = ""
) -> dict[str, Any]:
    """The pillar of ``minion_id``, from ``env``'s roots or (``""``) every environment's.

    Raises :class:`~fluxforge.errors.PillarError` on any render, top-file,
    missing-SLS or ext_pillar problem.
    """
    compiler = Compiler(cfg, minion_id, grains)
    compiler.apply_top(compiler.top(environments(cfg, env)))
    pillar = ext.apply(cfg, minion_id, grains, compiler.pillar)
    result: dict[str, Any] = plain(pillar)
    return result
