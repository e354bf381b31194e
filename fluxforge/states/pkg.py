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

from fluxforge.context import current
from fluxforge.errors import FluxForgeError


def _ret(name: str) -> dict[str, Any]:
    return {"name": name, "result": True, "changes": {}, "comment": ""}


def _targets(
    name: str, pkgs: Any, version: Any, sources: Any = None
) -> dict[str, tuple[str | None, str | None]]:
    """``{package: (version or None, source path or None)}`` from the state's arguments."""
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
                value = None if value in (None, "") else str(value)
                out[str(key)] = (None, value) if is_source else (value, None)
            elif isinstance(entry, str) and not is_source:
                out[entry] = (None, None)
            else:
                raise ValueError(f"cannot read the package entry {entry!r}")
    if not out:
        out[name] = (None if version in (None, "") else str(version).lstrip("="), None)
    return out


def _listing(names: list[str]) -> str:
    return ", ".join(names)


def installed(
    name: str,
    version: str | None = None,
    pkgs: list[Any] | None = None,
    sources: list[Any] | None = None,
    refresh: bool = False,
    fromrepo: str | None = None,
) -> dict[str, Any]:
    """Ensure that packages are installed, at ``version`` when one is given.

    ``pkgs``: several packages, as names or ``{name: version}``; it overrides
    ``name``. ``sources``: package files as ``[{name: path or ff:// URL}]``,
    installed when that package is not. A version must match exactly (the
    form ``pkg.version`` prints). ``refresh``: refresh the package lists
    before installing (not in test mode). ``fromrepo``: the release or
    repository to take them from.
    """
    ctx = current()
    funcs = ctx.funcs
    ret = _ret(name)
    targets = _targets(name, pkgs, version, sources)
    have = funcs["pkg.list_pkgs"]()
    todo = {
        pkg: (ver, src)
        for pkg, (ver, src) in targets.items()
        if pkg not in have or (ver is not None and have[pkg] != ver)
    }
    if not todo:
        ret["comment"] = f"All specified packages are already installed: {_listing(list(targets))}"
        return ret
    predicted: dict[str, dict[str, str]] = {}
    missing = []
    for pkg, (ver, src) in todo.items():
        new = ver or ""
        if src is not None:
            new = funcs["pkg.source_info"](src)["version"]
        elif not new:
            new = funcs["pkg.latest_version"](pkg, refresh=False) or ""
        if not new:
            missing.append(pkg)
        predicted[pkg] = {"old": have.get(pkg, ""), "new": new}
    if missing and not refresh:
        ret.update(
            result=False,
            comment=f"No package manager candidate for: {_listing(missing)} "
            "(refresh=True would refresh the package lists first)",
        )
        return ret
    if ctx.test:
        note = " (after refreshing the package lists)" if refresh else ""
        ret.update(
            result=None,
            changes=predicted,
            comment="The following packages would be installed/updated"
            f"{note}: {_listing(list(todo))}",
        )
        return ret
    sources_arg = [{pkg: src} for pkg, (_, src) in todo.items() if src is not None]
    pkgs_arg = [{pkg: ver} if ver else pkg for pkg, (ver, src) in todo.items() if src is None]
    try:
        changes = funcs["pkg.install"](
            pkgs=pkgs_arg or None, sources=sources_arg or None, refresh=refresh, fromrepo=fromrepo
        )
    except FluxForgeError as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    ret["changes"] = changes
    have = funcs["pkg.list_pkgs"]()
    failed = [
        pkg for pkg, (ver, _) in todo.items() if pkg not in have or (ver and have[pkg] != ver)
    ]
    if failed:
        ret.update(result=False, comment=f"These packages failed to install: {_listing(failed)}")
    else:
        ret["comment"] = f"The following packages were installed/updated: {_listing(list(todo))}"
    return ret


def latest(
    name: str,
    pkgs: list[Any] | None = None,
    refresh: bool = False,
    fromrepo: str | None = None,
) -> dict[str, Any]:
    """Ensure that packages are installed at the newest version the package manager offers.

    ``pkgs``: several package names; it overrides ``name``. ``refresh``:
    refresh the package lists first, in a real run only (without it the
    lists already on the host decide what "newest" is).
    """
    ctx = current()
    funcs = ctx.funcs
    ret = _ret(name)
    names = list(_targets(name, pkgs, None))
    if refresh and not ctx.test:
        try:
            funcs["pkg.refresh_db"]()
        except FluxForgeError as exc:
            ret.update(result=False, comment=str(exc))
            return ret
    have = funcs["pkg.list_pkgs"]()
    newest = funcs["pkg.latest_version"](*names, refresh=False)
    if len(names) == 1:
        newest = {names[0]: newest}
    unknown = [pkg for pkg in names if pkg not in have and not newest.get(pkg)]
    if unknown:
        ret.update(result=False, comment=f"No information found for: {_listing(unknown)}")
        return ret
    todo = {pkg: newest[pkg] for pkg in names if newest.get(pkg)}
    if not todo:
        ret["comment"] = f"All packages are up to date: {_listing(names)}"
        return ret
    predicted = {pkg: {"old": have.get(pkg, ""), "new": ver} for pkg, ver in todo.items()}
    if ctx.test:
        ret.update(
            result=None,
            changes=predicted,
            comment=f"The following packages would be installed/upgraded: {_listing(list(todo))}",
        )
        return ret
    try:
        changes = funcs["pkg.install"](
            pkgs=[{pkg: ver} for pkg, ver in todo.items()], fromrepo=fromrepo
        )
    except FluxForgeError as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    ret["changes"] = changes
    have = funcs["pkg.list_pkgs"]()
    failed = [pkg for pkg, ver in todo.items() if have.get(pkg) != ver]
    if failed:
        ret.update(result=False, comment=f"These packages failed to upgrade: {_listing(failed)}")
    else:
        ret["comment"] = f"The following packages were installed/upgraded: {_listing(list(todo))}"
    return ret


def _uninstalled(name: str, pkgs: Any, version: Any, action: str, verb: str) -> dict[str, Any]:
    ctx = current()
    funcs = ctx.funcs
    ret = _ret(name)
    targets = _targets(name, pkgs, version)
    have = funcs["pkg.list_pkgs"]()
    leftover = funcs["pkg.list_pkgs"](removed=True) if action == "purge" else {}
    predicted: dict[str, dict[str, str]] = {}
    for pkg, (ver, _) in targets.items():
        if pkg in have and (ver is None or have[pkg] == ver):
            predicted[pkg] = {"old": have[pkg], "new": ""}
        elif pkg in leftover and pkg not in have:
            predicted[pkg] = {"old": leftover[pkg], "new": ""}
    if not predicted:
        ret["comment"] = f"None of the specified packages are installed: {_listing(list(targets))}"
        return ret
    if ctx.test:
        ret.update(
            result=None,
            changes=predicted,
            comment=f"The following packages would be {verb}: {_listing(list(predicted))}",
        )
        return ret
    try:
        ret["changes"] = funcs[f"pkg.{action}"](pkgs=list(predicted))
    except FluxForgeError as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    have = funcs["pkg.list_pkgs"]()
    leftover = funcs["pkg.list_pkgs"](removed=True) if action == "purge" else {}
    failed = [pkg for pkg in predicted if pkg in have or pkg in leftover]
    if failed:
        ret.update(result=False, comment=f"These packages were not {verb}: {_listing(failed)}")
    else:
        ret["comment"] = f"The following packages were {verb}: {_listing(list(predicted))}"
    return ret


def removed(name: str, version: str | None = None, pkgs: list[Any] | None = None) -> dict[str, Any]:
    """Ensure that packages are not installed (their configuration files may stay).

    ``version``: remove only when that version is installed. ``pkgs``:
    several package names; it overrides ``name``.
    """
    return _uninstalled(name, pkgs, version, "remove", "removed")


def purged(name: str, version: str | None = None, pkgs: list[Any] | None = None) -> dict[str, Any]:
    """Ensure that packages and their configuration files are gone.

    A package removed earlier whose configuration files remain is purged too.
    ``version`` and ``pkgs`` as for :func:`removed`.
    """
    return _uninstalled(name, pkgs, version, "purge", "purged")
