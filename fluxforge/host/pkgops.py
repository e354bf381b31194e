"""What the ``pkg`` backends share, whatever the package manager.

:mod:`fluxforge.modules.pkg_apt` and :mod:`fluxforge.modules.pkg_dnf` run
different tools but read their arguments and report their results the same
way, as Salt does:

- :func:`pairs` reads Salt's ``pkgs``/``sources`` forms, and
  :func:`install_targets` and :func:`remove_names` the arguments of
  ``install`` and ``remove``/``purge``;
- :func:`installed_versions` and :func:`newer_versions` compute the returns
  of ``version`` and ``latest_version`` (one name: its version; several:
  ``{name: version}``, through :func:`need_names` and :func:`one_or_all`);
- :func:`local_source` finds a package file, local or on the file server;
- :func:`check` turns a failed command into one error line, and
  :func:`diff` computes ``{package: {"old": ..., "new": ...}}`` from
  ``list_pkgs`` before and after a change;
- :func:`parse_constraint`, :func:`satisfies` and :func:`best_match` read and
  apply Salt's version constraints (``">=1.0,<2.0"``) with the backend's
  ``version_cmp``, and :func:`sorted_versions` orders a backend's candidates.

This is a library module, not an execution module: the loader does not
expose it. Errors are one :class:`~fluxforge.errors.ExecutionError` line
that starts with the function's name (``fname``, such as ``pkg.install``).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Sequence
from typing import Any

from fluxforge.errors import ExecutionError
from fluxforge.host.procs import Outcome
from fluxforge.plugins.context import current

SCHEMES = ("ff://", "salt://")  # the URLs of the master's file server


def check(fname: str, out: Outcome, what: str) -> None:
    """Raise ``fname: what exited N: <last lines>`` when the command ``what`` failed."""
    if out.retcode != 0:
        text = (out.stderr or out.stdout).strip().splitlines()
        tail = "; ".join(text[-3:]) if text else "no output"
        raise ExecutionError(f"{fname}: {what} exited {out.retcode}: {tail}")


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, str]]:
    """``{name: {"old": ..., "new": ...}}`` for every package whose version changed ("" absent)."""
    changes = {}
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name, ""), after.get(name, "")
        if old != new:
            changes[name] = {"old": old, "new": new}
    return changes


def pairs(items: Any, fname: str) -> list[tuple[str, str | None]]:
    """``[(name, value or None)]`` from Salt's ``pkgs``/``sources`` forms: names or one-key maps."""
    if items is None:
        return []
    if isinstance(items, str):
        items = [part.strip() for part in items.split(",") if part.strip()]
    if isinstance(items, dict):
        items = [{k: v} for k, v in items.items()]
    if not isinstance(items, list):
        raise ExecutionError(f"{fname}: expected a list of names or {{name: value}}, got {items!r}")
    found: list[tuple[str, str | None]] = []
    for item in items:
        if isinstance(item, dict) and len(item) == 1:
            key, value = next(iter(item.items()))
            found.append((str(key), None if value in (None, "") else str(value)))
        elif isinstance(item, str) and item:
            found.append((item, None))
        else:
            raise ExecutionError(f"{fname}: cannot read package entry {item!r}")
    return found


def install_targets(
    fname: str, name: str | None, pkgs: Any, sources: Any, version: str | None
) -> tuple[list[tuple[str, str | None]], list[tuple[str, str | None]]]:
    """``(targets, sources)`` of an install: ``[(package, version or None)]``, ``[(name, path)]``.

    ``pkgs`` overrides ``name`` (with its ``version``); one of them or
    ``sources`` must name something.
    """
    sources_list = pairs(sources, fname)
    targets = pairs(pkgs, fname)
    if not targets and not sources_list and name:
        targets = [(name, None if version in (None, "") else str(version))]
    if not targets and not sources_list:
        raise ExecutionError(f"{fname}: name a package, pkgs or sources")
    return targets, sources_list


def remove_names(fname: str, name: str | None, pkgs: Any) -> list[str]:
    """The packages to remove or purge: those of ``pkgs`` (versions ignored), else ``name``."""
    names = [pkg for pkg, _ in pairs(pkgs, fname)] or ([name] if name else [])
    if not names:
        raise ExecutionError(f"{fname}: name a package or pkgs")
    return names


def need_names(fname: str, names: Sequence[str]) -> None:
    """Raise unless at least one package is named."""
    if not names:
        raise ExecutionError(f"{fname}: name at least one package")


def one_or_all(names: Sequence[str], found: dict[str, str]) -> str | dict[str, str]:
    """The value of the one name asked for, or ``{name: value}`` for several."""
    return found[names[0]] if len(names) == 1 else found


def installed_versions(
    names: Sequence[str], list_pkgs: Callable[[], dict[str, Any]]
) -> str | dict[str, str]:
    """``pkg.version``: the installed version of each name ("" if absent), from ``list_pkgs()``."""
    need_names("pkg.version", names)
    installed = list_pkgs()
    return one_or_all(names, {name: installed.get(name, "") for name in names})


def newer_versions(
    names: Sequence[str],
    candidates: dict[str, str],
    installed: dict[str, str],
    version_cmp: Callable[[str, str], int],
) -> str | dict[str, str]:
    """``pkg.latest_version``: each name's candidate if newer than its installed version, else "".

    ``installed`` maps a package to its (newest) installed version;
    ``version_cmp`` is the backend's comparison.
    """
    found: dict[str, str] = {}
    for name in names:
        candidate = candidates.get(name, "")
        have = installed.get(name, "")
        if candidate and have and version_cmp(candidate, have) <= 0:
            candidate = ""
        found[name] = candidate
    return one_or_all(names, found)


def local_source(fname: str, source: str) -> str:
    """A local path for ``source``: a path, or a file of the master's file server."""
    if source.startswith(SCHEMES):
        files = current().files
        path = files.cache_file(source) if files is not None else None
        if path is None:
            raise ExecutionError(f"{fname}: the file server has no file {source}")
        return str(path)
    if not os.path.isfile(source):
        raise ExecutionError(f"{fname}: package file {source} does not exist")
    return source


# One condition of a version constraint: an optional operator, then a version
# that starts with a letter or digit (as Debian and rpm versions do).
_CONDITION = re.compile(r"(==|=|>=|<=|!=|>|<)?\s*([A-Za-z0-9][A-Za-z0-9.+~:_^-]*)")
_TESTS: dict[str, Callable[[int], bool]] = {
    "==": lambda c: c == 0,
    "!=": lambda c: c != 0,
    ">=": lambda c: c >= 0,
    "<=": lambda c: c <= 0,
    ">": lambda c: c > 0,
    "<": lambda c: c < 0,
}


def parse_constraint(spec: str) -> list[tuple[str, str]]:
    """``[(operator, version)]`` of a version constraint such as ``">=1.0,<2.0"``.

    Conditions are separated by commas and must all hold. Operators are
    ``==`` (or ``=``, or none: exactly that version), ``!=``, ``>=``,
    ``<=``, ``>`` and ``<``. Raise ``ValueError`` naming the constraint when
    it cannot be read (``">>1"``, ``"~1"``, an empty condition).
    """
    conditions = []
    for part in str(spec).split(","):
        match = _CONDITION.fullmatch(part.strip())
        if match is None:
            raise ValueError(
                f"cannot read the version constraint {spec!r}: each condition is "
                "a version, optionally after one of ==, =, !=, >=, <=, >, <"
            )
        oper, ver = match.groups()
        conditions.append(("==" if oper in (None, "=") else oper, ver))
    return conditions


def exact_version(conditions: list[tuple[str, str]]) -> str | None:
    """The version of a constraint that is one ``==`` condition (an exact pin), else None."""
    if len(conditions) == 1 and conditions[0][0] == "==":
        return conditions[0][1]
    return None


def satisfies(
    version: str, conditions: list[tuple[str, str]], version_cmp: Callable[[str, str], int]
) -> bool:
    """Whether ``version`` meets every condition; ``==`` alone is an exact string match.

    An exact pin compares strings, as installs by exact version always did,
    so that the version reported after an install is the one asked for.
    """
    pin = exact_version(conditions)
    if pin is not None:
        return version == pin
    return all(_TESTS[oper](version_cmp(version, ver)) for oper, ver in conditions)


def sorted_versions(versions: Sequence[str], version_cmp: Callable[[str, str], int]) -> list[str]:
    """``versions`` without duplicates, newest first, as ``version_cmp`` orders them."""
    unique = list(dict.fromkeys(v for v in versions if v))
    return sorted(unique, key=functools.cmp_to_key(version_cmp), reverse=True)


def best_match(
    candidates: Sequence[str],
    conditions: list[tuple[str, str]],
    version_cmp: Callable[[str, str], int],
) -> str | None:
    """The newest of ``candidates`` that meets ``conditions``, None if none does."""
    for candidate in sorted_versions(candidates, version_cmp):
        if satisfies(candidate, conditions, version_cmp):
            return candidate
    return None
