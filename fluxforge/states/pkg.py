"""Package states: ``pkg.installed``, ``pkg.latest``, ``pkg.removed``, ``pkg.purged``.

Each one first works out, from ``pkg.list_pkgs`` and the package manager's
candidates, which packages it would change and to which version, and
reports exactly that in test mode; a real run then calls ``pkg.install``,
``pkg.remove`` or ``pkg.purge`` and reports what those say changed, as Salt
does: ``{package: {"old": version or "", "new": version or ""}}``.
Dependencies that a real install pulls in appear in its changes too; a
prediction names only the packages asked for.

The package lists are refreshed (``refresh=True``) only when asked: a
refresh needs the network, and a test run never refreshes.
"""

from __future__ import annotations

from typing import Any

from fluxforge.host import pkgops
from fluxforge.plugins.context import current
from fluxforge.plugins.stateresult import StateResult, catch_errors, settle


def _targets(
    name: str, pkgs: Any, version: Any, sources: Any = None
) -> dict[str, tuple[str | None, str | None]]:
    """``{package: (version constraint or None, source path or None)}`` from the arguments.

    A package named both in ``sources`` and in ``pkgs`` takes its file from
    the one and its constraint from the other; ``version`` applies to
    ``name`` unless ``pkgs`` is given.
    """
    out: dict[str, tuple[str | None, str | None]] = {}
    for entries, is_source in ((sources, True), (pkgs, False)):
        if not entries:
            continue
        if isinstance(entries, dict):
            entries = [{k: v} for k, v in entries.items()]
        if not isinstance(entries, list):
            raise ValueError(f"pkgs/sources must be a list, got {entries!r}")
        for entry in entries:
            if isinstance(entry, dict) and len(entry) == 1:
                key, value = next(iter(entry.items()))
                key, value = str(key), None if value in (None, "") else str(value)
                src = out.get(key, (None, None))[1]
                out[key] = (None, value) if is_source else (value, src)
            elif isinstance(entry, str) and not is_source:
                out[entry] = (None, out.get(entry, (None, None))[1])
            else:
                raise ValueError(f"cannot read the package entry {entry!r}")
    spec = None if version in (None, "") else str(version)
    if not out:
        out[name] = (spec, None)
    elif spec is not None and not pkgs and name in out:
        out[name] = (spec, out[name][1])
    return out


def _listing(names: list[str]) -> str:
    return ", ".join(names)


class _Plan:
    """What ``pkg.installed`` would do: installs, predicted changes and what it cannot do."""

    def __init__(self) -> None:
        self.todo: dict[str, tuple[str | None, str | None]] = {}  # pkg: (version, source)
        self.predicted: dict[str, dict[str, str]] = {}
        self.errors: list[str] = []  # malformed constraints
        self.missing: dict[str, str] = {}  # pkg: why no version can be chosen for it

    def __bool__(self) -> bool:
        return bool(self.todo or self.missing or self.errors)


def _offered(funcs: Any, pkg: str, src: str | None, constrained: bool) -> list[str]:
    """The versions to choose from: the source file's, else the package manager's."""
    if src is not None:
        return [funcs["pkg.source_info"](src)["version"]]
    if constrained:
        return list(funcs["pkg.list_repo_pkgs"](pkg).get(pkg, []))
    latest = funcs["pkg.latest_version"](pkg, refresh=False)
    return [latest] if latest else []


def _plan(funcs: Any, targets: dict[str, tuple[str | None, str | None]]) -> _Plan:
    """Work out, from ``pkg.list_pkgs`` and the candidates, what ``installed`` would change."""
    plan = _Plan()
    have = funcs["pkg.list_pkgs"]()
    cmp = funcs["pkg.version_cmp"]
    for pkg, (spec, src) in targets.items():
        try:
            conditions = pkgops.parse_constraint(spec) if spec else []
        except ValueError as exc:
            plan.errors.append(f"{pkg}: {exc}")
            continue
        installed = [v for v in str(have.get(pkg, "")).split(",") if v]
        if installed and any(pkgops.satisfies(v, conditions, cmp) for v in installed):
            continue
        old = have.get(pkg, "")
        pin = pkgops.exact_version(conditions)
        offered: list[str] = []
        choice: str | None = pin  # an exact pin without a file goes to apt/dnf as it is
        if pin is None or src is not None:
            offered = _offered(funcs, pkg, src, bool(conditions))
            choice = pkgops.best_match(offered, conditions, cmp)
        if choice is None:
            plan.missing[pkg] = (
                f"No version of {pkg} satisfies {spec!r} (available: {_listing(offered) or 'none'})"
                if conditions
                else f"No package manager candidate for: {pkg}"
            )
            plan.todo[pkg] = (None, src)
            plan.predicted[pkg] = {"old": old, "new": ""}
        else:
            plan.todo[pkg] = (choice if conditions and src is None else None, src)
            plan.predicted[pkg] = {"old": old, "new": choice}
    return plan


@catch_errors
def installed(
    name: str,
    version: str | None = None,
    pkgs: list[Any] | None = None,
    sources: list[Any] | None = None,
    refresh: bool = False,
    fromrepo: str | None = None,
) -> StateResult:
    """Ensure that packages are installed, in a version that meets ``version`` when given.

    ``version``: an exact version (``1.2-1``, ``=1.2-1`` or ``==1.2-1``, the
    form ``pkg.version`` prints), or a constraint as in Salt: ``>=1.2``,
    ``<2.0``, ``<=``, ``>``, ``!=``, several joined by commas
    (``>=1.0,<2.0``), compared with ``pkg.version_cmp``. An installed
    version that meets it is kept; otherwise the newest version that meets
    it is installed, from ``sources`` or ``pkg.list_repo_pkgs``, and the
    state fails naming the versions available when none does. ``pkgs``:
    several packages, as names or ``{name: version}``; it overrides ``name``
    and ``version``. ``sources``: package files as ``[{name: path or ff://
    URL}]``; ``version`` (or the package's ``pkgs`` entry) then constrains
    the file's version. ``refresh``: refresh the package lists before
    working out the versions, when something is to be installed (not in
    test mode). ``fromrepo``: the release or repository to take them from.
    """
    funcs = current().funcs
    targets = _targets(name, pkgs, version, sources)
    plan = _plan(funcs, targets)
    if not plan:
        return StateResult(
            name, comment=f"All specified packages are already installed: {_listing(list(targets))}"
        )
    if plan.errors:
        return StateResult(name, False, {}, "; ".join(plan.errors))
    if plan.missing and not refresh:
        note = " (refresh=True would refresh the package lists first)"
        return StateResult(name, False, {}, "; ".join(plan.missing.values()) + note)
    # With refresh, what is missing may be found once the lists are
    # refreshed, which only the real run does.
    note = " (after refreshing the package lists)" if refresh else ""
    prediction = StateResult(
        name,
        None,
        plan.predicted,
        f"The following packages would be installed/updated{note}: {_listing(list(plan.todo))}",
    )
    return settle(prediction, lambda: _install(name, funcs, targets, plan, refresh, fromrepo))


def _install(
    name: str,
    funcs: Any,
    targets: dict[str, tuple[str | None, str | None]],
    plan: _Plan,
    refresh: bool,
    fromrepo: str | None,
) -> StateResult:
    """Refresh the lists and plan again when asked, then install what the plan says."""
    if refresh:
        funcs["pkg.refresh_db"]()
        plan = _plan(funcs, targets)
        if not plan:
            return StateResult(
                name, comment=f"All specified packages are installed: {_listing(list(targets))}"
            )
        if plan.missing:
            note = " (after refreshing the package lists)"
            return StateResult(name, False, {}, "; ".join(plan.missing.values()) + note)
    return _apply(name, funcs, plan, fromrepo)


def _apply(name: str, funcs: Any, plan: _Plan, fromrepo: str | None) -> StateResult:
    """Install what ``plan`` says, then check that each package has its planned version."""
    todo = plan.todo
    sources_arg = [{pkg: src} for pkg, (_, src) in todo.items() if src is not None]
    pkgs_arg = [{pkg: ver} if ver else pkg for pkg, (ver, src) in todo.items() if src is None]
    changes = funcs["pkg.install"](
        pkgs=pkgs_arg or None, sources=sources_arg or None, refresh=False, fromrepo=fromrepo
    )
    have = funcs["pkg.list_pkgs"]()
    failed = []
    for pkg in todo:
        new = plan.predicted[pkg]["new"]
        if pkg not in have or (new and new not in str(have[pkg]).split(",")):
            failed.append(pkg)
    if failed:
        comment = f"These packages failed to install: {_listing(failed)}"
        return StateResult(name, False, changes, comment)
    comment = f"The following packages were installed/updated: {_listing(list(todo))}"
    return StateResult(name, True, changes, comment)


@catch_errors
def latest(
    name: str,
    pkgs: list[Any] | None = None,
    refresh: bool = False,
    fromrepo: str | None = None,
) -> StateResult:
    """Ensure that packages are installed at the newest version the package manager offers.

    ``pkgs``: several package names; it overrides ``name``. ``refresh``:
    refresh the package lists first, in a real run only (without it the
    lists already on the host decide what "newest" is).
    """
    names = list(_targets(name, pkgs, None))
    if not refresh:
        return _newest(name, names, fromrepo)

    def refreshed() -> StateResult:
        current().funcs["pkg.refresh_db"]()
        return _newest(name, names, fromrepo)

    # A test run never refreshes: it plans from the lists on the host.
    return settle(lambda: _newest(name, names, fromrepo), refreshed)


def _newest(name: str, names: list[str], fromrepo: str | None) -> StateResult:
    """Plan, then install, the newest versions of ``names`` that the lists offer."""
    funcs = current().funcs
    have = funcs["pkg.list_pkgs"]()
    newest = funcs["pkg.latest_version"](*names, refresh=False)
    if len(names) == 1:
        newest = {names[0]: newest}
    unknown = [pkg for pkg in names if pkg not in have and not newest.get(pkg)]
    if unknown:
        return StateResult(name, False, {}, f"No information found for: {_listing(unknown)}")
    todo = {pkg: newest[pkg] for pkg in names if newest.get(pkg)}
    if not todo:
        return StateResult(name, comment=f"All packages are up to date: {_listing(names)}")
    predicted = {pkg: {"old": have.get(pkg, ""), "new": ver} for pkg, ver in todo.items()}

    def upgrade() -> StateResult:
        changes = funcs["pkg.install"](
            pkgs=[{pkg: ver} for pkg, ver in todo.items()], fromrepo=fromrepo
        )
        have = funcs["pkg.list_pkgs"]()
        failed = [pkg for pkg, ver in todo.items() if have.get(pkg) != ver]
        if failed:
            comment = f"These packages failed to upgrade: {_listing(failed)}"
            return StateResult(name, False, changes, comment)
        comment = f"The following packages were installed/upgraded: {_listing(list(todo))}"
        return StateResult(name, True, changes, comment)

    comment = f"The following packages would be installed/upgraded: {_listing(list(todo))}"
    return settle(StateResult(name, None, predicted, comment), upgrade)


def _uninstalled(name: str, pkgs: Any, version: Any, action: str, verb: str) -> StateResult:
    funcs = current().funcs
    targets = _targets(name, pkgs, version)
    have = funcs["pkg.list_pkgs"]()
    leftover = funcs["pkg.list_pkgs"](removed=True) if action == "purge" else {}
    predicted: dict[str, dict[str, str]] = {}
    try:
        wanted = {
            pkg: pkgops.parse_constraint(ver) if ver else [] for pkg, (ver, _) in targets.items()
        }
    except ValueError as exc:
        return StateResult(name, False, {}, str(exc))
    cmp = funcs["pkg.version_cmp"]
    for pkg, conditions in wanted.items():
        if pkg in have and pkgops.satisfies(have[pkg], conditions, cmp):
            predicted[pkg] = {"old": have[pkg], "new": ""}
        elif pkg in leftover and pkg not in have:
            predicted[pkg] = {"old": leftover[pkg], "new": ""}
    if not predicted:
        comment = f"None of the specified packages are installed: {_listing(list(targets))}"
        return StateResult(name, comment=comment)

    def uninstall() -> StateResult:
        changes = funcs[f"pkg.{action}"](pkgs=list(predicted))
        have = funcs["pkg.list_pkgs"]()
        leftover = funcs["pkg.list_pkgs"](removed=True) if action == "purge" else {}
        failed = [pkg for pkg in predicted if pkg in have or pkg in leftover]
        if failed:
            return StateResult(
                name, False, changes, f"These packages were not {verb}: {_listing(failed)}"
            )
        comment = f"The following packages were {verb}: {_listing(list(predicted))}"
        return StateResult(name, True, changes, comment)

    comment = f"The following packages would be {verb}: {_listing(list(predicted))}"
    return settle(StateResult(name, None, predicted, comment), uninstall)


@catch_errors
def removed(name: str, version: str | None = None, pkgs: list[Any] | None = None) -> StateResult:
    """Ensure that packages are not installed (their configuration files may stay).

    ``version``: remove only when the installed version is that one, or meets
    that constraint (``<2.0``, as for :func:`installed`). ``pkgs``:
    several package names; it overrides ``name``.
    """
    return _uninstalled(name, pkgs, version, "remove", "removed")


@catch_errors
def purged(name: str, version: str | None = None, pkgs: list[Any] | None = None) -> StateResult:
    """Ensure that packages and their configuration files are gone.

    A package removed earlier whose configuration files remain is purged too.
    ``version`` and ``pkgs`` as for :func:`removed`.
    """
    return _uninstalled(name, pkgs, version, "purge", "purged")
