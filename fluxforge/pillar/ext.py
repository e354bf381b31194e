"""External pillar sources (``ext_pillar``), applied after the SLS pillar.

A source is a function ``(cfg, minion_id, grains, options) -> dict`` in
:data:`EXT_PILLARS`, under the name used in the master's config::

    ext_pillar:
      - file_tree: {root: /srv/ext}

``options`` is what follows the name. A source raises
:class:`~fluxforge.errors.PillarError` with one line naming the file and the
problem, never a value.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from fluxforge.config import MasterConfig
from fluxforge.errors import PillarError, RenderError
from fluxforge.pillar.data import merge
from fluxforge.protocol.ids import valid_id
from fluxforge.render.renderers import parse_json, parse_yaml

ExtPillar = Callable[[MasterConfig, str, Mapping[str, Any], Any], dict[str, Any]]

_DATA_SUFFIXES = (".yaml", ".yml", ".json")


def _inside(path: str, root: str) -> bool:
    return os.path.realpath(path).startswith(root + os.sep)


def _load_data(path: str, display: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise PillarError(f"{display}: cannot read: {reason}")
    try:
        if path.endswith(".json"):
            data = parse_json(text, name=display, show_source=False)
        else:
            data = parse_yaml(text, name=display, show_source=False)
    except RenderError as exc:
        raise PillarError(str(exc))
    if not isinstance(data, dict):
        raise PillarError(f"{display}: must hold a mapping, not a {type(data).__name__}")
    return data


def file_tree(
    cfg: MasterConfig, minion_id: str, grains: Mapping[str, Any], options: Any
) -> dict[str, Any]:
    """Pillar of ``minion_id`` from ``<root>/<id>.yaml|.yml|.json`` and ``<root>/<id>/*.yaml|...``.

    Files merge in that order, the folder's files sorted by name; a relative
    ``root`` is under the master's ``root_dir``. A file that resolves
    outside ``root`` (through a symbolic link) is refused.
    """
    if not isinstance(options, Mapping) or set(options) != {"root"}:
        raise PillarError("ext_pillar file_tree: options must be {root: FOLDER}")
    root = options["root"]
    if not isinstance(root, str) or not root:
        raise PillarError("ext_pillar file_tree: root must be a folder name")
    root = os.path.join(cfg.root_dir, root)
    real_root = os.path.realpath(root)
    if not os.path.isdir(real_root):
        raise PillarError(f"ext_pillar file_tree: root {root} is not a folder")
    if not valid_id(minion_id):
        raise PillarError(f"ext_pillar file_tree: refused minion id {minion_id[:60]!r}")

    candidates = [f"{minion_id}{suffix}" for suffix in _DATA_SUFFIXES]
    folder = os.path.join(root, minion_id)
    if os.path.isdir(folder):
        if not _inside(folder, real_root):
            raise PillarError(f"file_tree/{minion_id}: resolves outside the root; refused")
        names = sorted(n for n in os.listdir(folder) if n.endswith(_DATA_SUFFIXES))
        candidates += [f"{minion_id}/{name}" for name in names if not name.startswith(".")]

    data: dict[str, Any] = {}
    for relpath in candidates:
        path = os.path.join(root, relpath)
        display = f"file_tree/{relpath}"
        if not os.path.lexists(path):
            continue
        if not _inside(path, real_root):
            raise PillarError(f"{display}: resolves outside the root; refused")
        if os.path.isfile(path):
            data = merge(data, _load_data(path, display))
    return data


EXT_PILLARS: dict[str, ExtPillar] = {"file_tree": file_tree}
"""External pillar sources by the name used in ``ext_pillar``."""


def apply(
    cfg: MasterConfig, minion_id: str, grains: Mapping[str, Any], pillar: dict[str, Any]
) -> dict[str, Any]:
    """``pillar`` with every configured ext_pillar source merged over it, in order."""
    for number, entry in enumerate(cfg.ext_pillar, 1):
        if not isinstance(entry, Mapping) or not entry:
            raise PillarError(
                f"ext_pillar entry {number} must be a mapping such as {{file_tree: ...}}"
            )
        for kind, options in entry.items():
            source = EXT_PILLARS.get(kind)
            if source is None:
                known = ", ".join(sorted(EXT_PILLARS))
                raise PillarError(f"ext_pillar {kind!r} is unknown; known: {known}")
            try:
                data = source(cfg, minion_id, grains, options)
            except PillarError:
                raise
            except OSError as exc:
                raise PillarError(f"ext_pillar {kind}: {exc.strerror or exc}")
            except Exception as exc:
                # Its text may quote a value: name only the kind of failure.
                raise PillarError(f"ext_pillar {kind} failed: {type(exc).__name__}")
            if not isinstance(data, Mapping):
                raise PillarError(f"ext_pillar {kind} did not return a mapping")
            pillar = merge(pillar, data)
    return pillar
