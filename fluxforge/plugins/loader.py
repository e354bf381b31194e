"""A lazy ``module.function`` registry for execution modules (and later states).

A plugin is a plain Python file in a plugin folder; its public functions
(names not starting with ``_``) are callable as ``<module>.<function>``.
``__virtualname__`` renames the module and ``__virtual__()`` decides whether
it is available here: ``True``, or ``(False, "reason")``. Files are listed
eagerly but imported only when one of their functions is first asked for.

Arguments typed on a command line arrive as text. :meth:`Functions.call`
converts each text value with :func:`convert_text` unless the parameter is
declared ``str``, in which case the function gets exactly what was typed.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.util
import inspect
import os
import re
import sys
import threading
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import yaml

from fluxforge.errors import ExecutionError, UnknownFunction

F = TypeVar("F", bound=Callable[..., Any])

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILTIN_MODULES = os.path.join(_PACKAGE_DIR, "modules")
BUILTIN_STATES = os.path.join(_PACKAGE_DIR, "states")
# Built-in plugin folders and the packages they are imported as.
_BUILTIN_PACKAGES = {BUILTIN_MODULES: "fluxforge.modules", BUILTIN_STATES: "fluxforge.states"}

_INT = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")
_FLOAT = re.compile(r"^[-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$")
_CONSTANTS: dict[str, Any] = {
    "true": True,
    "True": True,
    "false": False,
    "False": False,
    "null": None,
    "None": None,
    "~": None,
}


class _ArgLoader(yaml.SafeLoader):
    """YAML flow collections whose scalars follow :func:`convert_text`'s rules.

    Plain YAML 1.1 would read ``010`` as 8 and ``yes`` as True inside
    ``[..]`` while the same word typed alone stays text.
    """


_ArgLoader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|false|False)$", list("tTfF")),
    ("tag:yaml.org,2002:null", r"^(?:null|None|~|)$", ["n", "N", "~", ""]),
    ("tag:yaml.org,2002:int", _INT.pattern, list("-+0123456789")),
    ("tag:yaml.org,2002:float", _FLOAT.pattern, list("-+0123456789.")),
):
    _ArgLoader.add_implicit_resolver(_tag, re.compile(_pattern), _first)


def _construct_bool(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> bool:
    return str(loader.construct_scalar(node)) in ("true", "True")


def _construct_null(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> None:
    return None


_ArgLoader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)
_ArgLoader.add_constructor("tag:yaml.org,2002:null", _construct_null)


def execution_functions(cachedir: str) -> Functions:
    """The execution modules of a minion: built-in ones and those synced to ``cachedir``."""
    return Functions([BUILTIN_MODULES, extmods_dir(cachedir, "modules")])


def state_functions(cachedir: str) -> Functions:
    """The state modules of a minion: built-in ones and those synced to ``cachedir``."""
    return Functions([BUILTIN_STATES, extmods_dir(cachedir, "states")], kind="states")


def extmods_dir(cachedir: str, kind: str) -> str:
    """Where a minion keeps custom plugins of ``kind`` (``modules``, ``grains``) from the master."""
    return os.path.join(cachedir, "extmods", kind)


def inline(fn: F) -> F:
    """Mark a module function as quick and never blocking: minions run it on the loop.

    Only for functions that do no I/O and finish in microseconds (``test.ping``,
    ``grains.get``); anything that may wait belongs in the worker pool, which
    is where unmarked functions run.
    """
    fn.__fluxforge_inline__ = True  # type: ignore[attr-defined]
    return fn


def convert_text(text: str) -> Any:
    """Turn a typed argument into a value: numbers, booleans, null, ``[..]`` and ``{..}``.

    Anything else, dates and octal-looking numbers included, stays the text typed.
    """
    if text in _CONSTANTS:
        return _CONSTANTS[text]
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    stripped = text.strip()
    if (stripped.startswith("[") and stripped.endswith("]")) or (
        stripped.startswith("{") and stripped.endswith("}")
    ):
        try:
            value = yaml.load(stripped, Loader=_ArgLoader)
        except yaml.YAMLError:
            return text
        if isinstance(value, list | dict) and _plain(value):
            return value
    return text


def _plain(value: Any) -> bool:
    """Whether a YAML value holds only types the wire carries (no dates, no sets)."""
    if isinstance(value, dict):
        return all(isinstance(k, str | int) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, str | int | float | bool)


def _str_hint(hint: Any) -> bool:
    if hint is str:
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args == [str]
    return False


@functools.lru_cache(maxsize=4096)
def _str_params(fn: Callable[..., Any]) -> frozenset[str]:
    """Names of ``fn``'s parameters declared ``str`` (or ``str | None``), worked out once.

    Resolving annotations evaluates them, which costs far more than a call
    such as ``test.ping``; a function's signature does not change.
    """
    try:
        hints = typing.get_type_hints(fn)
    except Exception:
        return frozenset()
    return frozenset(name for name, hint in hints.items() if _str_hint(hint))


@functools.lru_cache(maxsize=4096)
def _signature(fn: Callable[..., Any]) -> inspect.Signature:
    return inspect.signature(fn)


def _is_str_param(fn: Callable[..., Any], name: str) -> bool:
    return name in _str_params(fn)


def bind_arguments(
    name: str, fn: Callable[..., Any], args: Iterable[Any], kwargs: dict[str, Any]
) -> tuple[list[Any], dict[str, Any]]:
    """Convert text arguments for ``fn`` and check that they fit its signature."""
    args = list(args)
    sig = _signature(fn)
    params = list(sig.parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    var_pos = next((p for p in params if p.kind == p.VAR_POSITIONAL), None)
    var_kw = next((p for p in params if p.kind == p.VAR_KEYWORD), None)
    out_args: list[Any] = []
    for i, value in enumerate(args):
        if i < len(positional):
            pname = positional[i].name
        elif var_pos is not None:
            pname = var_pos.name
        else:
            raise ExecutionError(
                f"{name} takes at most {len(positional)} positional argument(s), "
                f"got {len(args)}; see `ff-call sys.doc {name}`"
            )
        out_args.append(_convert(fn, pname, value))
    out_kwargs: dict[str, Any] = {}
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    for key, value in kwargs.items():
        if key not in names and var_kw is None:
            raise ExecutionError(
                f"{name} has no parameter {key!r} "
                f"(it takes: {', '.join(sorted(names)) or 'none'}); "
                f"to pass text containing '=', quote it as a keyword, e.g. "
                f"{next(iter(sorted(names)), 'arg')}='{key}={value}'"
            )
        out_kwargs[key] = _convert(fn, key, value)
    try:
        sig.bind(*out_args, **out_kwargs)
    except TypeError as exc:
        raise ExecutionError(f"{name}: {exc}; see `ff-call sys.doc {name}`")
    return out_args, out_kwargs


def _convert(fn: Callable[..., Any], pname: str, value: Any) -> Any:
    if isinstance(value, str) and not _is_str_param(fn, pname):
        return convert_text(value)
    return value


class Functions:
    """The functions of the plugins in some folders, loaded on first use."""

    def __init__(self, folders: Iterable[str] = (BUILTIN_MODULES,), kind: str = "modules") -> None:
        self.kind = kind
        self.folders = list(folders)
        self._lock = threading.RLock()
        self._files: dict[str, str] = {}
        self._loaded: dict[str, dict[str, Callable[..., Any]]] = {}
        self._unavailable: dict[str, str] = {}
        self._imported: set[str] = set()
        self.scan()

    def scan(self) -> None:
        """List plugin files; later folders override earlier ones of the same name."""
        with self._lock:
            self._files.clear()
            self._loaded.clear()
            self._unavailable.clear()
            self._imported.clear()
            for folder in self.folders:
                try:
                    names = sorted(os.listdir(folder))
                except FileNotFoundError:
                    continue
                for fname in names:
                    if fname.endswith(".py") and not fname.startswith("_"):
                        self._files[fname[:-3]] = os.path.join(folder, fname)

    def _ensure(self, module: str | None) -> None:
        """Import the file named ``module``; with None (or no such file), import them all.

        A module's ``__virtualname__`` is only known once its file is
        imported, so a name that matches no file name loads every file.
        """
        stems = [module] if module in self._files else list(self._files)
        for stem in stems:
            if stem not in self._imported:
                self._imported.add(stem)
                self._load_file(stem)

    def _import(self, stem: str, path: str) -> types.ModuleType:
        package = _BUILTIN_PACKAGES.get(os.path.dirname(path))
        if package is not None:
            return importlib.import_module(f"{package}.{stem}")
        modname = f"fluxforge_ext.{self.kind}.{stem}"
        spec = importlib.util.spec_from_file_location(modname, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[modname] = module
        spec.loader.exec_module(module)
        return module

    def _load_file(self, stem: str) -> None:
        path = self._files[stem]
        try:
            module = self._import(stem, path)
        except Exception as exc:
            self._unavailable[stem] = f"failed to import {path}: {type(exc).__name__}: {exc}"
            return
        name = getattr(module, "__virtualname__", stem)
        virtual = getattr(module, "__virtual__", None)
        if virtual is not None:
            try:
                verdict = virtual()
            except Exception as exc:
                verdict = (False, f"__virtual__ raised {type(exc).__name__}: {exc}")
            ok, reason = (verdict if isinstance(verdict, tuple) else (verdict, ""))[:2]
            if not ok:
                self._unavailable.setdefault(name, reason or "__virtual__ returned False")
                return
        funcs: dict[str, Callable[..., Any]] = {}
        for attr, value in vars(module).items():
            if attr.startswith("_") or not inspect.isfunction(value):
                continue
            if value.__module__ != module.__name__:
                continue  # imported helpers are not part of the module's API
            funcs[attr.rstrip("_")] = value
        self._loaded[name] = funcs
        self._unavailable.pop(name, None)
        # Other names for the same module (ffutil is also Salt's saltutil); a
        # plugin file of that name, or a module loaded under it, comes first.
        for alias in getattr(module, "__aliases__", ()):
            if alias not in self._files:
                self._loaded.setdefault(alias, funcs)

    def modules(self) -> list[str]:
        """Sorted names of the available modules."""
        with self._lock:
            self._ensure(None)
            return sorted(self._loaded)

    def names(self, module: str | None = None) -> list[str]:
        """Sorted ``module.function`` names, of one module or all."""
        with self._lock:
            self._ensure(module)
            mods = [module] if module else list(self._loaded)
            return sorted(f"{m}.{f}" for m in mods if m in self._loaded for f in self._loaded[m])

    def get(self, name: str) -> Callable[..., Any]:
        """The function called ``name``, or an error naming the closest one."""
        module, _, fun = name.partition(".")
        with self._lock:
            funcs = self._loaded.get(module)
            if funcs is None:
                self._ensure(module)
                funcs = self._loaded.get(module)
            if funcs is not None and fun in funcs:
                return funcs[fun]
            if module in self._unavailable and funcs is None:
                raise UnknownFunction(f"'{name}' is not available: {self._unavailable[module]}")
            close = difflib.get_close_matches(name, self.names(), n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else "; see `ff-call sys.list_functions`"
        raise UnknownFunction(f"'{name}' is not a known function{hint}")

    def is_inline(self, name: str) -> bool:
        """Whether ``name`` is marked :func:`inline` (False for unknown names)."""
        try:
            return bool(getattr(self.get(name), "__fluxforge_inline__", False))
        except UnknownFunction:
            return False

    def __getitem__(self, name: str) -> Callable[..., Any]:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        try:
            self.get(str(name))
        except UnknownFunction:
            return False
        return True

    def call(
        self, name: str, args: Iterable[Any] = (), kwargs: dict[str, Any] | None = None
    ) -> Any:
        """Call ``name`` with text arguments converted for its signature."""
        fn = self.get(name)
        args, kw = bind_arguments(name, fn, list(args), dict(kwargs or {}))
        return fn(*args, **kw)
