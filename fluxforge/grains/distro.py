"""Which distribution this is: the ``os*`` and ``lsb_distrib_*`` grains, as Salt derives them.

Formulas key their ``map.jinja`` on these grains (``os_family``, ``os``,
``osfinger``, ``osarch``), so the values must be Salt's exactly, quirks
included. The inputs are three small files, read once:

* ``/etc/os-release`` (or ``/usr/lib/os-release``), the main source;
* ``/etc/lsb-release``, which Ubuntu ships and which, when present, supplies
  the ``lsb_distrib_*`` grains (Salt parses it when the ``lsb_release`` Python
  module is missing, which it is in Salt's own packages and virtualenvs);
* the Red Hat style ``/etc/<id>-release`` file, whose ``release 7.9.2009``
  is more precise than os-release's ``VERSION_ID=7`` on CentOS 7.

:func:`distro_grains` is a pure function of those texts, so the Red Hat
family is tested on fixture files from a Debian machine. The rules it
follows (all measured against Salt 3008.5):

* ``osfullname`` is os-release ``NAME``; ``os`` is that name without its
  " Linux" / " GNU/Linux" suffix, with a few traditional short names
  (``Red Hat Enterprise Linux`` is ``RedHat``, ``Oracle Linux Server`` is
  ``OEL``, ``Linux Mint`` is ``Mint``);
* ``os_family`` comes from a table keyed by ``os``, falling back to the
  os-release ``ID`` / ``ID_LIKE`` chain and then to ``os`` itself;
* without ``/etc/lsb-release``, ``lsb_distrib_codename`` is
  ``VERSION_CODENAME`` when os-release has that key (even empty, as Fedora
  does), else the whole ``PRETTY_NAME``; Rocky and AlmaLinux then keep only
  the part in brackets (``Blue Onyx``);
* ``osrelease`` is ``lsb_distrib_release`` (``VERSION_ID``) except on CentOS
  7 and 8, where it is the most precise version among os-release and the
  release file (``7.9.2009``);
* ``osfinger`` is ``<osfullname>-<major>``, except that Debian, Raspbian and
  AlmaLinux use ``os`` and Ubuntu and Pop use the whole release
  (``Ubuntu-22.04``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# ``os`` for names the " Linux"-stripping rule would get wrong, keyed like Salt
# by the first ten characters of the stripped name, lowercased, without spaces.
_SHORT_NAMES = {
    "redhatente": "RedHat",
    "debian": "Debian",
    "raspbian": "Raspbian",
    "fedoraremi": "Fedora",
    "amazonami": "Amazon",
    "enterprise": "OEL",
    "oracleserv": "OEL",
    "cloudserve": "CloudLinux",
    "cloudlinux": "CloudLinux",
    "almalinux": "AlmaLinux",
    "almalinuxk": "AlmaLinux",
    "scientific": "ScientificLinux",
    "linuxmint": "Mint",
    "pop": "Pop",
    "rocky": "Rocky",
    "alibabaclo": "Alinux",
    "photon": "VMware Photon OS",
    "archarm": "Arch ARM",
    "arch": "Arch",
    "gentoobase": "Gentoo",
    "sles": "SUSE",
    "manjaro": "Manjaro",
    "manjarolin": "Manjaro",
    "void": "Void",
}

# ``os_family`` by ``os``: the Debian and Red Hat families, and the names the
# ID_LIKE fallback below would not find.
_FAMILY_BY_OS = {
    **dict.fromkeys(
        [
            "Ubuntu",
            "Mint",
            "Raspbian",
            "Devuan",
            "Kali",
            "Pop",
            "Trisquel",
            "Linaro",
            "Univention",
            "Deepin",
            "Cumulus",
            "TurnKey",
            "Mendel",
            "OSMC",
            "antiX",
            "neon",
        ],
        "Debian",
    ),
    "KDE neon": "Debian",
    "elementary OS": "Debian",
    "Parrot OS": "Debian",
    **dict.fromkeys(
        [
            "RedHat",
            "Fedora",
            "CentOS",
            "Scientific",
            "ScientificLinux",
            "Amazon",
            "CloudLinux",
            "Virtuozzo",
            "AlmaLinux",
            "OVS",
            "OEL",
            "XCP",
            "XCP-ng",
            "XenServer",
            "Rocky",
            "Alinux",
            "openEuler",
            "ALT",
        ],
        "RedHat",
    ),
    "CentOS Stream": "RedHat",
    "VMware Photon OS": "RedHat",
    **dict.fromkeys(["SLES", "SLED", "SUSE", "openSUSE"], "Suse"),
    "openSUSE Leap": "Suse",
    "openSUSE Tumbleweed": "Suse",
    **dict.fromkeys(["Manjaro", "EndeavourOS", "Antergos"], "Arch"),
    "Arch ARM": "Arch",
}

# ``os_family`` by os-release ID, for distributions the table above misses.
_FAMILY_BY_ID = {
    "debian": "Debian",
    "ubuntu": "Debian",
    "rhel": "RedHat",
    "fedora": "RedHat",
    "centos": "RedHat",
    "suse": "Suse",
    "opensuse": "Suse",
    "sles": "Suse",
    "arch": "Arch",
    "alpine": "Alpine",
}

# Debian's name for each CPU architecture, as ``dpkg --print-architecture`` prints it.
_DEBIAN_ARCH = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "armv7l": "armhf",
    "armv6l": "armel",
    "i386": "i386",
    "i486": "i386",
    "i586": "i386",
    "i686": "i386",
    "ppc64le": "ppc64el",
    "s390x": "s390x",
    "riscv64": "riscv64",
    "mips64": "mips64el",
    "loongarch64": "loong64",
}

_LINUX_SUFFIX = re.compile(r"\W(?:gnu/)?linux", re.IGNORECASE)
_LSB_LINE = re.compile(r"^(DISTRIB_(?:ID|RELEASE|CODENAME|DESCRIPTION))=['\"]?([\w\s.\-]+)['\"]?")
_RELEASE_LINE = re.compile(r"(?:release|version)?\s*(\d[\d.]*)[^(]*(?:\(([^)]*)\))?")
_BRACKETED = re.compile(r"\(([^)]*)\)")


def parse_os_release(text: str) -> dict[str, str]:
    """``{KEY: value}`` from the text of an os-release file (shell quoting undone)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if not sep or not key or key.startswith("#"):
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        fields[key.strip()] = re.sub(r"\\([$\"'\\`])", r"\1", value)
    return fields


def parse_lsb_release(text: str) -> dict[str, str]:
    """The ``lsb_distrib_*`` grains from the text of ``/etc/lsb-release``."""
    grains: dict[str, str] = {}
    for line in text.splitlines():
        match = _LSB_LINE.match(line.strip())
        if match:
            grains["lsb_" + match.group(1).lower()] = match.group(2).strip()
    return grains


def parse_release_file(text: str) -> tuple[str, str]:
    """``(version, codename)`` from a line like ``CentOS Linux release 7.9.2009 (Core)``."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    match = _RELEASE_LINE.search(first)
    if not match:
        return "", ""
    return match.group(1), (match.group(2) or "").strip()


def os_name(full_name: str) -> str:
    """The ``os`` grain for an os-release ``NAME``."""
    stripped = _LINUX_SUFFIX.sub("", full_name).strip()
    return _SHORT_NAMES.get(stripped.replace(" ", "").lower()[:10], stripped)


def os_family(os: str, release: Mapping[str, str]) -> str:
    """The ``os_family`` grain: by ``os``, then by os-release ``ID`` / ``ID_LIKE``, then ``os``."""
    if os in _FAMILY_BY_OS:
        return _FAMILY_BY_OS[os]
    for ident in [release.get("ID", ""), *release.get("ID_LIKE", "").split()]:
        if ident.lower() in _FAMILY_BY_ID:
            return _FAMILY_BY_ID[ident.lower()]
    return os


def osarch(family: str, machine: str) -> str:
    """The ``osarch`` grain: the package manager's name for this CPU architecture."""
    if family == "Debian":
        return _DEBIAN_ARCH.get(machine, machine)
    return machine


def _best_version(*candidates: str) -> str:
    """The candidate with the most dot-separated parts; the first one wins a tie."""
    best = ""
    for version in candidates:
        if version and (not best or version.count(".") > best.count(".")):
            best = version
    return best


def _os_release_codename(release: Mapping[str, str]) -> str | None:
    """The codename os-release gives, ``None`` when it gives none (an empty one counts)."""
    for key in ("VERSION_CODENAME", "UBUNTU_CODENAME"):
        if key in release:
            return release[key]
    bracket = _BRACKETED.search(release.get("VERSION", ""))
    return bracket.group(1) if bracket else None


def release_info(osrelease: str) -> list[int | str]:
    """``osrelease_info``: the dotted parts of ``osrelease``, the numeric ones as ints."""
    return [int(part) if part.isdigit() else part for part in osrelease.split(".")]


def distro_grains(
    release: Mapping[str, str],
    lsb_release: str = "",
    release_file: str = "",
    machine: str = "",
) -> dict[str, Any]:
    """Every distribution grain from the parsed os-release and the two other files' texts."""
    name = release.get("NAME", "").strip()
    ident = release.get("ID", "")
    os = os_name(name) if name else (ident.capitalize() if ident else "")
    grains: dict[str, Any] = parse_lsb_release(lsb_release) if lsb_release else {}
    if "lsb_distrib_id" not in grains and release:
        if name:
            grains["lsb_distrib_id"] = name
        if "VERSION_ID" in release:
            grains["lsb_distrib_release"] = release["VERSION_ID"]
        if "VERSION_CODENAME" in release:
            grains["lsb_distrib_codename"] = release["VERSION_CODENAME"]
        elif "PRETTY_NAME" in release:
            grains["lsb_distrib_codename"] = release["PRETTY_NAME"]
    file_version, file_codename = parse_release_file(release_file)
    pretty_version, _ = parse_release_file(release.get("PRETTY_NAME", ""))
    best = _best_version(release.get("VERSION_ID", ""), file_version, pretty_version)

    codename = grains.get("lsb_distrib_codename", "")
    if any(old in codename for old in ("CentOS Linux 7", "CentOS Linux 8")):
        # os-release says only "7" there; Salt takes the release file's 7.9.2009.
        grains.pop("lsb_distrib_release", None)
    osrelease = grains.get("lsb_distrib_release", best).strip()
    if codename and os in ("Rocky", "AlmaLinux"):
        bracket = _BRACKETED.search(codename)
        if bracket:
            codename = grains["lsb_distrib_codename"] = bracket.group(1)
    fallback = _os_release_codename(release)
    fallback = file_codename if fallback is None else fallback
    oscodename = codename.strip() or fallback
    if "Red Hat" in oscodename:
        oscodename = fallback

    family = os_family(os, release)
    grains.update(
        {
            "os": os,
            "os_family": family,
            "osfullname": name or grains.get("lsb_distrib_id", "").strip(),
            "osrelease": osrelease,
            "oscodename": oscodename,
            "osrelease_info": release_info(osrelease),
        }
    )
    if machine:
        grains["osarch"] = osarch(family, machine)
    info = grains["osrelease_info"]
    if info and isinstance(info[0], int):
        grains["osmajorrelease"] = info[0]
    if osrelease:
        finger_name = os if os in ("Debian", "Raspbian", "AlmaLinux") else grains["osfullname"]
        finger_version = osrelease if os in ("Ubuntu", "Pop", "NixOS") else info[0]
        grains["osfinger"] = f"{finger_name}-{finger_version}"
    return grains
