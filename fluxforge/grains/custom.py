"""Custom grain modules: the master's ``_grains/*.py`` files, synced to this minion.

``ffutil.sync_grains`` copies them to ``extmods_dir(cachedir, "grains")``.
Every public function of such a file (no leading underscore, defined in that
file, not imported into it) is a grain function. It is called with no
arguments, except that a parameter named ``opts`` receives the minion's
:class:`~fluxforge.config.MinionConfig` and one named ``grains`` a copy of the
grains computed so far (Salt passes ``grains`` the same way; ``opts`` stands
in for Salt's injected ``__opts__``). It returns a mapping, which is
deep-merged over the grains so far; files run in name order and functions in
the order they are defined.

An optional ``__virtual__()`` decides whether the file applies to this host,
as for execution modules: ``True``, or ``False`` / ``(False, "reason")``.

Custom code must never stop a minion: a file that fails to import, a
``__virtual__`` or function that raises, a function that wants other
arguments or returns something other than a mapping, each costs one warning
line naming the file and function, and is skipped.

Files are compiled from source on every load (no ``sys.modules`` cache, no
bytecode cache), so a re-sync takes effect at the next grains refresh.
"""

from __future__ import annotations

import copy
import importlib.util
import inspect
import itertools
import logging
import os
import sys
import types
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from fluxforge.grains.core import merge
from fluxforge.plugins.loader import extmods_dir

if TYPE_CHECKING:
    from fluxforge.config import MinionConfig

log = logging.getLogger("fluxforge.minion")

_serial = itertools.count()

# What a grain function may ask for by parameter name.
_INJECTABLE = ("opts", "grains")


def grain_files(opts: MinionConfig) -> list[str]:
    """Paths of the custom grain modules of this minion, in name order."""
    folder = extmods_dir(opts.cachedir, "grains")
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    return [
        os.path.join(folder, name)
        for name in names
        if name.endswith(".py") and not name.startswith("_")
    ]


def _import_fresh(path: str) -> types.ModuleType:
    """Compile and run the file at ``path`` as a new module object, every time."""
    stem = os.path.basename(path)[:-3]
    name = f"fluxforge_ext.grains.{stem}_{next(_serial)}"
    spec = importlib.util.spec_from_loader(name, loader=None, origin=path)
    if spec is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    module.__file__ = path
    with open(path, encoding="utf-8") as fh:
        code = compile(fh.read(), path, "exec")
    # Some code looks itself up while it is defined (dataclasses do); keep the
    # module registered only for that, so that stale versions do not pile up.
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)
    finally:
        sys.modules.pop(name, None)
    return module


def _available(module: types.ModuleType, path: str) -> bool:
    virtual = getattr(module, "__virtual__", None)
    if virtual is None:
        return True
    try:
        verdict = virtual()
    except Exception as exc:
        log.warning(
            "custom grains %s: __virtual__ raised %s: %s; module skipped",
            path,
            type(exc).__name__,
            exc,
        )
        return False
    ok, reason = (verdict if isinstance(verdict, tuple) else (verdict, ""))[:2]
    if not ok:
        log.debug("custom grains %s not loaded: %s", path, reason or "__virtual__ returned False")
    return bool(ok)


def _grain_functions(module: types.ModuleType) -> list[tuple[str, Callable[..., Any]]]:
    return [
        (attr, value)
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and inspect.isfunction(value)
        and value.__module__ == module.__name__
    ]


def _arguments(
    fn: Callable[..., Any], opts: MinionConfig, grains: Mapping[str, Any]
) -> dict[str, Any]:
    """The keyword arguments for ``fn``; TypeError if it wants one we cannot give."""
    kwargs: dict[str, Any] = {}
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.name == "opts" and param.kind != param.POSITIONAL_ONLY:
            kwargs["opts"] = opts
        elif param.name == "grains" and param.kind != param.POSITIONAL_ONLY:
            kwargs["grains"] = copy.deepcopy(dict(grains))
        elif param.default is param.empty:
            raise TypeError(
                f"it takes parameter {param.name!r}; a grain function takes none, "
                f"or only {' and '.join(_INJECTABLE)}"
            )
    return kwargs


def custom_grains(opts: MinionConfig, grains: Mapping[str, Any]) -> dict[str, Any]:
    """``grains`` with every custom grain function's result deep-merged over it, in turn."""
    result = dict(grains)
    for path in grain_files(opts):
        try:
            module = _import_fresh(path)
        except Exception as exc:
            log.warning(
                "custom grains %s failed to import: %s: %s; module skipped",
                path,
                type(exc).__name__,
                exc,
            )
            log.debug("import of %s failed", path, exc_info=True)
            continue
        if not _available(module, path):
            continue
        for attr, fn in _grain_functions(module):
            where = f"{os.path.basename(path)[:-3]}.{attr}"
            try:
                value = fn(**_arguments(fn, opts, result))
            except Exception as exc:
                log.warning(
                    "custom grain function %s (%s) raised %s: %s; skipped",
                    where,
                    path,
                    type(exc).__name__,
                    exc,
                )
                log.debug("grain function %s failed", where, exc_info=True)
                continue
            if not isinstance(value, Mapping):
                log.warning(
                    "custom grain function %s (%s) returned a %s, not a mapping; skipped",
                    where,
                    path,
                    type(value).__name__,
                )
                continue
            result = merge(result, value)
    return result
