"""Describe the execution and state functions available on this minion."""

from __future__ import annotations

import fnmatch
import inspect
from typing import Any

from fluxforge.plugins.context import current
from fluxforge.plugins.loader import Functions, state_functions

_GLOB = set("*?[")


def _select(name: str, funcs: Functions | None = None) -> list[str]:
    """Function names for ``name``: all, a module, one function or a glob.

    ``funcs``: the execution functions unless given (the state functions).
    An unknown module or function raises UnknownFunction naming the closest one.
    """
    funcs = funcs if funcs is not None else current().funcs
    if not name:
        return funcs.names()
    if _GLOB & set(name):
        module = name.split(".", 1)[0]
        pool = funcs.names(module) if "." in name and not _GLOB & set(module) else funcs.names()
        return fnmatch.filter(pool, name)
    if "." in name:
        funcs.get(name)
        return [name]
    found = funcs.names(name)
    if not found:
        funcs.get(name)  # raises, with a suggestion
    return found


def list_modules() -> list[str]:
    """Return the sorted names of the available execution modules.

    CLI example: ``ff '*' sys.list_modules``
    """
    return current().funcs.modules()


def list_functions(module: str = "") -> list[str]:
    """Return sorted function names: all, of one ``module``, or matching a glob like ``cmd.*``.

    CLI example: ``ff '*' sys.list_functions cmd``
    """
    return _select(module)


def doc(name: str = "") -> dict[str, str]:
    """Return ``{"module.function": docstring}`` for all, a module, one function or a glob.

    CLI example: ``ff '*' sys.doc cmd.run``
    """
    funcs = current().funcs
    return {fn: inspect.getdoc(funcs.get(fn)) or "" for fn in _select(name)}


def _wire(value: Any) -> Any:
    """A default value as it can travel: plain values as they are, others as their repr."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple) and all(_wire(v) == v for v in value):
        return list(value)
    return repr(value)


def _spec(fn: Any) -> dict[str, Any]:
    params = inspect.signature(fn).parameters.values()
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    keyword_only = [p for p in params if p.kind == p.KEYWORD_ONLY]
    varargs = next((p.name for p in params if p.kind == p.VAR_POSITIONAL), None)
    varkw = next((p.name for p in params if p.kind == p.VAR_KEYWORD), None)
    spec: dict[str, Any] = {
        "args": [p.name for p in positional],
        "defaults": [_wire(p.default) for p in positional if p.default is not p.empty],
        "varargs": varargs,
        "kwargs": varkw,
    }
    if keyword_only:
        spec["kwonlyargs"] = [p.name for p in keyword_only]
        spec["kwonlydefaults"] = {
            p.name: _wire(p.default) for p in keyword_only if p.default is not p.empty
        }
    return spec


def argspec(name: str = "") -> dict[str, dict[str, Any]]:
    """Return the parameters of each function selected as for ``sys.doc``.

    Each entry is ``{"args": [...], "defaults": [...], "varargs": name or None,
    "kwargs": name or None}``; ``defaults`` belong to the last ``args``.
    Keyword-only parameters add ``kwonlyargs`` and ``kwonlydefaults``.

    CLI example: ``ff '*' sys.argspec cmd.run``
    """
    funcs = current().funcs
    return {fn: _spec(funcs.get(fn)) for fn in _select(name)}


def _states() -> Functions:
    """The state modules: the job's own, or those of this minion's folders."""
    ctx = current()
    return ctx.states if ctx.states is not None else state_functions(ctx.opts.cachedir)


def _select_states(names: tuple[str, ...]) -> list[str]:
    """State function names for each of ``names`` (all when none), as :func:`_select` picks."""
    states = _states()
    if not names:
        return states.names()
    return sorted({fn for name in names for fn in _select(name, states)})


def list_state_modules(*names: str) -> list[str]:
    """Return the sorted names of the available state modules; globs narrow them.

    CLI example: ``ff '*' sys.list_state_modules 'file*'``
    """
    modules = _states().modules()
    if not names:
        return modules
    return sorted({m for name in names for m in fnmatch.filter(modules, name)})


def list_state_functions(*names: str) -> list[str]:
    """Return sorted state function names: all, of some modules, or matching globs.

    CLI example: ``ff '*' sys.list_state_functions file pkg.*``
    """
    return _select_states(names)


def state_doc(*names: str) -> dict[str, str]:
    """Return the docstrings of state functions (all, modules, functions or globs).

    As in Salt, each module's own docstring comes under the module's name
    next to ``{"module.function": docstring}``.

    CLI example: ``ff '*' sys.state_doc file.managed``
    """
    states = _states()
    docs: dict[str, str] = {}
    for fn_name in _select_states(names):
        fn = states.get(fn_name)
        module = fn_name.split(".", 1)[0]
        if module not in docs:
            docs[module] = inspect.cleandoc(fn.__globals__.get("__doc__") or "")
        docs[fn_name] = inspect.getdoc(fn) or ""
    return docs
