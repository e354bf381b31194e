"""Packages on Red Hat-family hosts, through rpm and dnf (module ``pkg``).

Available where ``rpm`` and ``dnf`` are installed and ``dpkg-query`` is not
(a Debian host with rpm installed keeps the apt backend). Reading uses
``rpm``; changes use ``dnf -y``; local ``.rpm`` files are given as
``sources``. Versions are ``[epoch:]version-release`` as in Salt. The
functions and their returns are those of the apt backend,
:mod:`fluxforge.modules.pkg_apt`.
"""

from __future__ import annotations

import os
import re
import shutil
from typing import Any

from fluxforge.errors import ExecutionError
from fluxforge.host import pkgops
from fluxforge.host.procs import Outcome, run_argv

__virtualname__ = "pkg"

_EVR_FORMAT = "%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}"
_QUERY_FORMAT = f"%{{NAME}}\\t{_EVR_FORMAT}\\t%{{ARCH}}\\n"
_TOKEN = re.compile(r"~|\^|[0-9]+|[A-Za-z]+")


def __virtual__() -> bool | tuple[bool, str]:
    if shutil.which("dpkg-query") is not None:
        return False, "dpkg-query is installed: the apt backend serves pkg here"
    if shutil.which("rpm") is None or shutil.which("dnf") is None:
        return False, "rpm and dnf are not both installed: not a dnf-based host"
    return True


def _run(fname: str, argv: list[str]) -> Outcome:
    """Run ``argv`` without a shell, as cmd.run does (process group, cancellation)."""
    return run_argv(fname, argv, {"LC_ALL": "C"})


def list_pkgs(versions_as_list: bool = False, removed: bool = False) -> dict[str, Any]:
    """Return the installed packages as ``{name: version}``.

    A package of another architecture than the host's (and not ``noarch``)
    is named ``name.arch``. Several versions of one package (kernels) are
    joined with commas, or listed with ``versions_as_list=True``. rpm keeps
    no removed packages' configuration, so ``removed=True`` returns ``{}``.

    CLI example: ``ff '*' pkg.list_pkgs``
    """
    if removed:
        return {}
    out = _run("pkg.list_pkgs", ["rpm", "-qa", "--queryformat", _QUERY_FORMAT])
    pkgops.check("pkg.list_pkgs", out, "rpm -qa")
    machine = os.uname().machine
    found: dict[str, list[str]] = {}
    for line in out.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) != 3 or parts[0] == "gpg-pubkey":
            continue
        name, evr, arch = parts
        key = name if arch in (machine, "noarch", "(none)") else f"{name}.{arch}"
        found.setdefault(key, []).append(evr)
    pkgs: dict[str, Any] = {}
    for key in sorted(found):
        versions = sorted(set(found[key]), key=_SortKey)
        pkgs[key] = versions if versions_as_list else ",".join(versions)
    return pkgs


def version(*names: str) -> str | dict[str, str]:
    """Return the installed version of a package, ``""`` if it is not installed.

    With several names, return ``{name: version}``.

    CLI example: ``ff '*' pkg.version bash openssl``
    """
    return pkgops.installed_versions(names, list_pkgs)


def _rpmvercmp(a: str, b: str) -> int:
    """rpm's comparison of one version or release field (``~`` sorts before anything)."""
    ta, tb = _TOKEN.findall(a), _TOKEN.findall(b)
    while ta or tb:
        x = ta.pop(0) if ta else None
        y = tb.pop(0) if tb else None
        if x == "~" or y == "~":
            if x != y:
                return -1 if x == "~" else 1
            continue
        if x == "^" or y == "^":
            if x == y:
                continue
            if x is None:
                return -1
            if y is None:
                return 1
            return 1 if x == "^" else -1
        if x is None or y is None:
            return 1 if y is None else -1
        if x.isdigit() != y.isdigit():
            return 1 if x.isdigit() else -1
        if x.isdigit():
            ix, iy = int(x), int(y)
            if ix != iy:
                return 1 if ix > iy else -1
        elif x != y:
            return 1 if x > y else -1
    return 0


def _split_evr(evr: str) -> tuple[int, str, str]:
    epoch, _, rest = evr.rpartition(":")
    version_, _, release = rest.partition("-")
    return int(epoch) if epoch.isdigit() else 0, version_, release


class _SortKey:
    """Sort versions the way rpm compares them."""

    def __init__(self, evr: str) -> None:
        self.evr = evr

    def __lt__(self, other: _SortKey) -> bool:
        return version_cmp(self.evr, other.evr) < 0


def version_cmp(pkg1: str, pkg2: str) -> int:
    """Compare two ``[epoch:]version[-release]``: -1 if ``pkg1`` is older, 0 if equal, 1 if newer.

    A release is compared only when both versions have one, as rpm does.

    CLI example: ``ff '*' pkg.version_cmp 1.0-1.el9 1.0-2.el9``
    """
    e1, v1, r1 = _split_evr(pkg1)
    e2, v2, r2 = _split_evr(pkg2)
    if e1 != e2:
        return 1 if e1 > e2 else -1
    diff = _rpmvercmp(v1, v2)
    if diff or not (r1 and r2):
        return diff
    return _rpmvercmp(r1, r2)


def _repo_versions(
    fname: str, names: list[str], refresh: bool, duplicates: bool
) -> dict[str, list[str]]:
    """The versions of each name in the repositories (dnf's cache only, unless refresh)."""
    argv = ["dnf", "-q", "list", "--available", *names]
    if duplicates:
        argv.insert(3, "--showduplicates")
    if not refresh:
        argv.insert(1, "-C")
    out = _run(fname, argv)
    found: dict[str, list[str]] = {}
    for line in out.stdout.splitlines():
        cols = line.split()
        if len(cols) < 2 or "." not in cols[0] or cols[0].endswith(":"):
            continue
        name = cols[0].rsplit(".", 1)[0]
        if name in names:
            found.setdefault(name, []).append(cols[1])
    return found


def _available(names: list[str], refresh: bool) -> dict[str, str]:
    """The newest version of each name in the repositories (dnf's cache only, unless refresh)."""
    found = _repo_versions("pkg.latest_version", names, refresh, duplicates=False)
    return {name: pkgops.sorted_versions(vers, version_cmp)[0] for name, vers in found.items()}


def list_repo_pkgs(*names: str) -> dict[str, list[str]]:
    """Return the versions of each package that the repositories offer, newest first.

    Read from dnf's cache (``dnf -C list --available --showduplicates``),
    without the network. A package that no repository has maps to ``[]``.

    CLI example: ``ff '*' pkg.list_repo_pkgs nginx``
    """
    pkgops.need_names("pkg.list_repo_pkgs", names)
    found = _repo_versions("pkg.list_repo_pkgs", list(names), False, duplicates=True)
    return {name: pkgops.sorted_versions(found.get(name, []), version_cmp) for name in names}


def latest_version(*names: str, refresh: bool = True) -> str | dict[str, str]:
    """Return the version that ``install`` would install, ``""`` if nothing newer is available.

    ``""`` also means that no repository has the package. With several names,
    return ``{name: version}``. ``refresh=False`` reads dnf's cache only
    (``dnf -C``), without the network.

    CLI example: ``ff '*' pkg.latest_version nginx refresh=False``
    """
    pkgops.need_names("pkg.latest_version", names)
    available = _available(list(names), refresh)
    newest = {name: have[-1] for name, have in list_pkgs(versions_as_list=True).items() if have}
    return pkgops.newer_versions(names, available, newest, version_cmp)


def available_version(*names: str, refresh: bool = True) -> str | dict[str, str]:
    """Salt's other name for :func:`latest_version`.

    CLI example: ``ff '*' pkg.available_version nginx``
    """
    return latest_version(*names, refresh=refresh)


def refresh_db() -> bool:
    """Refresh dnf's metadata cache (``dnf makecache``); this uses the network.

    CLI example: ``ff '*' pkg.refresh_db``
    """
    out = _run("pkg.refresh_db", ["dnf", "-q", "-y", "makecache"])
    pkgops.check("pkg.refresh_db", out, "dnf makecache")
    return True


def source_info(path: str) -> dict[str, str]:
    """Return ``{name, version, arch}`` of the package file ``path`` (an ``.rpm``).

    CLI example: ``ff '*' pkg.source_info /tmp/hello-1.0-1.noarch.rpm``
    """
    local = pkgops.local_source("pkg.source_info", path)
    fmt = f"%{{NAME}}\\t{_EVR_FORMAT}\\t%{{ARCH}}"
    out = _run("pkg.source_info", ["rpm", "-qp", "--queryformat", fmt, local])
    pkgops.check("pkg.source_info", out, "rpm -qp")
    parts = out.stdout.strip().split("\t")
    if len(parts) != 3:
        raise ExecutionError(f"pkg.source_info: cannot read {path}: {out.stdout.strip()!r}")
    return {"name": parts[0], "version": parts[1], "arch": parts[2]}


def install(
    name: str | None = None,
    pkgs: Any = None,
    sources: Any = None,
    version: str | None = None,
    refresh: bool = False,
    fromrepo: str | None = None,
    reinstall: bool = False,
    **kwargs: Any,
) -> dict[str, dict[str, str]]:
    """Install packages and return ``{package: {"old": ..., "new": ...}}`` for what changed.

    ``name``: one package (with ``version``: exactly that version).
    ``pkgs``: several, as names or ``{name: version}`` maps; it overrides
    ``name``. ``sources``: local package files as ``[{name: path}]``, a path or
    an ``ff://`` file of the master. ``refresh``: refresh the metadata first.
    ``fromrepo``: enable only that repository. ``reinstall``: ``dnf reinstall``.

    CLI example: ``ff '*' pkg.install nginx version=1:1.20.1-14.el9``
    """
    targets, sources_list = pkgops.install_targets("pkg.install", name, pkgs, sources, version)
    argv = ["dnf", "-y", "reinstall" if reinstall else "install"]
    if refresh:
        argv.append("--refresh")
    if fromrepo:
        argv += ["--disablerepo=*", f"--enablerepo={fromrepo}"]
    for pkg, ver in targets:
        argv.append(f"{pkg}-{ver.lstrip('=')}" if ver else pkg)
    argv += [pkgops.local_source("pkg.install", path or "") for _, path in sources_list]
    before = list_pkgs()
    out = _run("pkg.install", argv)
    pkgops.check("pkg.install", out, "dnf install")
    return pkgops.diff(before, list_pkgs())


def _uninstall(fname: str, name: str | None, pkgs: Any) -> dict[str, Any]:
    names = pkgops.remove_names(fname, name, pkgs)
    before = list_pkgs()
    todo = [pkg for pkg in names if pkg in before]
    if not todo:
        return {}
    out = _run(fname, ["dnf", "-y", "remove", *todo])
    pkgops.check(fname, out, "dnf remove")
    return pkgops.diff(before, list_pkgs())


def remove(name: str | None = None, pkgs: Any = None, **kwargs: Any) -> dict[str, Any]:
    """Remove packages; return what changed. ``pkgs`` (a list) overrides ``name``.

    CLI example: ``ff '*' pkg.remove nginx``
    """
    return _uninstall("pkg.remove", name, pkgs)


def purge(name: str | None = None, pkgs: Any = None, **kwargs: Any) -> dict[str, Any]:
    """Remove packages, as :func:`remove` (rpm keeps no configuration to purge).

    CLI example: ``ff '*' pkg.purge nginx``
    """
    return _uninstall("pkg.purge", name, pkgs)


def upgrade(refresh: bool = True, **kwargs: Any) -> dict[str, Any]:
    """Upgrade every package (``dnf upgrade``); return what changed.

    ``refresh=True`` (as in Salt) refreshes the metadata first.

    CLI example: ``ff '*' pkg.upgrade``
    """
    before = list_pkgs()
    argv = ["dnf", "-y", "upgrade", *(["--refresh"] if refresh else [])]
    out = _run("pkg.upgrade", argv)
    pkgops.check("pkg.upgrade", out, "dnf upgrade")
    return pkgops.diff(before, list_pkgs())
