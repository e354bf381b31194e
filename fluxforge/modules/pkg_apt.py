"""Packages on Debian-family hosts, through dpkg and apt-get (module ``pkg``).

Available where ``dpkg-query`` is installed. Reading uses ``dpkg-query`` and
``apt-cache``; changes use ``apt-get`` without questions
(``DEBIAN_FRONTEND=noninteractive``, ``-y``, keep changed config files with
``--force-confold``), or ``dpkg -i`` for local ``.deb`` files given as
``sources``. Every command runs through :func:`fluxforge.host.procs.execute`
(the runner of ``cmd.run``), so a cancelled job kills it with its process
group.

``install``, ``remove``, ``purge`` and ``upgrade`` return what changed, as in
Salt: ``{package: {"old": version or "", "new": version or ""}}``, computed
from :func:`list_pkgs` before and after.
"""

from __future__ import annotations

import functools
import re
import shutil
from typing import Any

from fluxforge.errors import ExecutionError
from fluxforge.host import pkgops
from fluxforge.host.procs import Outcome, run_argv

__virtualname__ = "pkg"

APT_ENV = {"DEBIAN_FRONTEND": "noninteractive", "APT_LISTCHANGES_FRONTEND": "none", "LC_ALL": "C"}
APT_OPTIONS = [
    "-y",
    "-q",
    "-o",
    "Dpkg::Options::=--force-confold",
    "-o",
    "Dpkg::Options::=--force-confdef",
    "-o",
    "DPkg::Lock::Timeout=60",
]
# dpkg's second status letter: installed, or installed with triggers pending.
_INSTALLED = set("iWt")


def __virtual__() -> bool | tuple[bool, str]:
    if shutil.which("dpkg-query") is None:
        return False, "dpkg-query is not installed: not a Debian-family host"
    return True


def _run(fname: str, argv: list[str], env: dict[str, str] | None = None) -> Outcome:
    """Run ``argv`` without a shell, as cmd.run does (process group, cancellation)."""
    return run_argv(fname, argv, {**APT_ENV, **(env or {})})


@functools.cache
def _native_arch() -> str:
    out = _run("pkg.list_pkgs", ["dpkg", "--print-architecture"])
    return out.stdout.strip()


def _dpkg_status() -> list[tuple[str, str, str, str]]:
    """``(status letters, name, version, arch)`` of every package dpkg knows."""
    fmt = "${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\n"
    out = _run("pkg.list_pkgs", ["dpkg-query", "-W", "-f", fmt])
    pkgops.check("pkg.list_pkgs", out, "dpkg-query")
    rows = []
    for line in out.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) == 4:
            rows.append((parts[0].strip(), parts[1], parts[2], parts[3]))
    return rows


def list_pkgs(versions_as_list: bool = False, removed: bool = False) -> dict[str, Any]:
    """Return the installed packages as ``{name: version}``.

    A package of a foreign architecture is named ``name:arch``.
    ``versions_as_list=True``: values are lists of versions, as in Salt.
    ``removed=True``: instead, the packages removed but whose configuration
    files remain (dpkg state ``rc``), which :func:`purge` would clear.

    CLI example: ``ff '*' pkg.list_pkgs``
    """
    native = _native_arch()
    pkgs: dict[str, Any] = {}
    for status, name, version, arch in _dpkg_status():
        state = status[1:2]
        wanted = state == "c" if removed else state in _INSTALLED
        if not wanted:
            continue
        key = name if arch in (native, "all", "") else f"{name}:{arch}"
        pkgs[key] = [version] if versions_as_list else version
    return dict(sorted(pkgs.items()))


def version(*names: str) -> str | dict[str, str]:
    """Return the installed version of a package, ``""`` if it is not installed.

    With several names, return ``{name: version}``.

    CLI example: ``ff '*' pkg.version bash openssl``
    """
    return pkgops.installed_versions(names, list_pkgs)


def version_cmp(pkg1: str, pkg2: str) -> int:
    """Compare two Debian versions: -1 if ``pkg1`` is older, 0 if equal, 1 if newer.

    CLI example: ``ff '*' pkg.version_cmp 1.0-1 1.0-2``
    """
    for op, answer in (("lt", -1), ("eq", 0)):
        out = _run("pkg.version_cmp", ["dpkg", "--compare-versions", pkg1, op, pkg2])
        if out.retcode == 0:
            return answer
        if out.stderr.strip():
            raise ExecutionError(f"pkg.version_cmp: {out.stderr.strip().splitlines()[-1]}")
    return 1


def _policy(names: list[str]) -> dict[str, tuple[str, str]]:
    """``{name: (installed, candidate)}`` from ``apt-cache policy``; "" for "(none)"."""
    out = _run("pkg.latest_version", ["apt-cache", "policy", *names])
    found: dict[str, tuple[str, str]] = {}
    current_name = ""
    installed = candidate = ""
    for line in [*out.stdout.splitlines(), ""]:
        if line and not line.startswith(" ") and line.endswith(":"):
            current_name, installed, candidate = line[:-1], "", ""
        elif line.strip().startswith("Installed:"):
            installed = line.split(":", 1)[1].strip()
        elif line.strip().startswith("Candidate:"):
            candidate = line.split(":", 1)[1].strip()
            found[current_name] = (
                "" if installed == "(none)" else installed,
                "" if candidate == "(none)" else candidate,
            )
    return found


def latest_version(*names: str, refresh: bool = True) -> str | dict[str, str]:
    """Return the version that ``install`` would install, ``""`` if nothing newer is available.

    ``""`` also means that the package is unknown to apt. With several names,
    return ``{name: version}``. ``refresh=True`` (as in Salt) updates the
    package lists first, which needs the network.

    CLI example: ``ff '*' pkg.latest_version nginx refresh=False``
    """
    pkgops.need_names("pkg.latest_version", names)
    if refresh:
        refresh_db()
    policy = _policy(list(names))
    candidates = {name: versions[1] for name, versions in policy.items()}
    return pkgops.newer_versions(names, candidates, list_pkgs(), version_cmp)


def available_version(*names: str, refresh: bool = True) -> str | dict[str, str]:
    """Salt's other name for :func:`latest_version`.

    CLI example: ``ff '*' pkg.available_version nginx``
    """
    return latest_version(*names, refresh=refresh)


def list_repo_pkgs(*names: str) -> dict[str, list[str]]:
    """Return the versions of each package that apt's lists offer, newest first.

    Read from ``apt-cache madison`` without refreshing the lists; a version
    known only from dpkg's status (an installed ``.deb``) is not offered. A
    package that no list has maps to ``[]``.

    CLI example: ``ff '*' pkg.list_repo_pkgs nginx``
    """
    pkgops.need_names("pkg.list_repo_pkgs", names)
    out = _run("pkg.list_repo_pkgs", ["apt-cache", "madison", *names])
    found: dict[str, list[str]] = {name: [] for name in names}
    for line in out.stdout.splitlines():
        cols = [col.strip() for col in line.split("|")]
        if len(cols) == 3 and cols[0] in found and not cols[2].endswith("Sources"):
            found[cols[0]].append(cols[1])
    return {name: pkgops.sorted_versions(vers, version_cmp) for name, vers in found.items()}


def refresh_db() -> dict[str, bool | None]:
    """Update the package lists (``apt-get update``); this uses the network.

    Returns ``{source: True}`` for lists fetched anew, ``None`` for lists that
    had not changed (``Hit``), ``False`` for ignored or failed ones, as Salt does.

    CLI example: ``ff '*' pkg.refresh_db``
    """
    out = _run("pkg.refresh_db", ["apt-get", "-q", "update"])
    ret: dict[str, bool | None] = {}
    for line in out.stdout.splitlines():
        word, _, rest = line.partition(" ")
        kind = word.split(":", 1)[0]
        if kind in ("Get", "Hit", "Ign", "Err") and rest:
            source = re.sub(r"\s*\[[^]]*\]$", "", " ".join(rest.split()))
            ret[source] = {"Get": True, "Hit": None}.get(kind, False)
    pkgops.check("pkg.refresh_db", out, "apt-get update")
    return ret


def source_info(path: str) -> dict[str, str]:
    """Return ``{name, version, arch}`` of the package file ``path`` (a ``.deb``).

    CLI example: ``ff '*' pkg.source_info /tmp/hello_1.0_all.deb``
    """
    local = pkgops.local_source("pkg.source_info", path)
    out = _run("pkg.source_info", ["dpkg-deb", "-f", local, "Package", "Version", "Architecture"])
    pkgops.check("pkg.source_info", out, "dpkg-deb")
    fields = dict(line.split(": ", 1) for line in out.stdout.splitlines() if ": " in line)
    return {
        "name": fields.get("Package", ""),
        "version": fields.get("Version", ""),
        "arch": fields.get("Architecture", ""),
    }


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

    ``name``: one package (with ``version``: exactly that version, ``name=version``
    to apt). ``pkgs``: several, as names or ``{name: version}`` maps; it
    overrides ``name``. ``sources``: local package files as
    ``[{name: path}]``, a path or an ``ff://`` file of the master, installed
    with ``dpkg -i``. ``refresh``: run :func:`refresh_db` first.
    ``fromrepo``: the release to take them from (``-t``). ``reinstall``:
    install again packages already installed. A version older than the
    installed one is a downgrade (``--allow-downgrades``). Dependencies
    installed along appear in the result too.

    CLI example: ``ff '*' pkg.install nginx version=1.22.1-9``
    """
    targets, sources_list = pkgops.install_targets("pkg.install", name, pkgs, sources, version)
    if refresh:
        refresh_db()
    before = list_pkgs()
    if sources_list:
        paths = [pkgops.local_source("pkg.install", path or "") for _, path in sources_list]
        out = _run("pkg.install", ["dpkg", "-i", "--force-confold", *paths])
        pkgops.check("pkg.install", out, "dpkg -i")
    if targets:
        argv = ["apt-get", *APT_OPTIONS, "install"]
        if reinstall:
            argv.append("--reinstall")
        if _downgrades(targets, list_pkgs()):
            argv.append("--allow-downgrades")
        if fromrepo:
            argv += ["-t", fromrepo]
        argv += [f"{pkg}={ver.lstrip('=')}" if ver else pkg for pkg, ver in targets]
        out = _run("pkg.install", argv)
        pkgops.check("pkg.install", out, "apt-get install")
    return pkgops.diff(before, list_pkgs())


def _downgrades(targets: list[tuple[str, str | None]], have: dict[str, Any]) -> bool:
    """Whether an exact version asked for is older than the installed one."""
    return any(
        ver and pkg in have and version_cmp(ver.lstrip("="), have[pkg]) < 0 for pkg, ver in targets
    )


def _uninstall(fname: str, action: str, name: str | None, pkgs: Any) -> dict[str, Any]:
    names = pkgops.remove_names(fname, name, pkgs)
    before = list_pkgs()
    before_rc = list_pkgs(removed=True) if action == "purge" else {}
    todo = [pkg for pkg in names if pkg in before or pkg in before_rc]
    if not todo:
        return {}
    out = _run(fname, ["apt-get", *APT_OPTIONS, action, *todo])
    pkgops.check(fname, out, f"apt-get {action}")
    changes = pkgops.diff(before, list_pkgs())
    if action == "purge":
        changes.update(pkgops.diff(before_rc, list_pkgs(removed=True)))
    return dict(sorted(changes.items()))


def remove(name: str | None = None, pkgs: Any = None, **kwargs: Any) -> dict[str, Any]:
    """Remove packages, keeping their configuration files; return what changed.

    ``pkgs`` (a list) overrides ``name``; versions in it are ignored.

    CLI example: ``ff '*' pkg.remove nginx``
    """
    return _uninstall("pkg.remove", "remove", name, pkgs)


def purge(name: str | None = None, pkgs: Any = None, **kwargs: Any) -> dict[str, Any]:
    """Remove packages and their configuration files; return what changed.

    Packages already removed whose configuration remains are purged too and
    reported with their old version.

    CLI example: ``ff '*' pkg.purge nginx``
    """
    return _uninstall("pkg.purge", "purge", name, pkgs)


def upgrade(refresh: bool = True, dist_upgrade: bool = False, **kwargs: Any) -> dict[str, Any]:
    """Upgrade every package (``apt-get upgrade``, or ``dist-upgrade``); return what changed.

    ``refresh=True`` (as in Salt) updates the package lists first.

    CLI example: ``ff '*' pkg.upgrade dist_upgrade=True``
    """
    if refresh:
        refresh_db()
    before = list_pkgs()
    action = "dist-upgrade" if dist_upgrade else "upgrade"
    out = _run("pkg.upgrade", ["apt-get", *APT_OPTIONS, action])
    pkgops.check("pkg.upgrade", out, f"apt-get {action}")
    return pkgops.diff(before, list_pkgs())
