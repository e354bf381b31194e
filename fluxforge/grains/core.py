"""Core grains, and :func:`all_grains`: every layer of grains merged in order.

Core grains are what the minion knows about its host without asking anyone.
Everything here reads local files and kernel interfaces only; there is no
network traffic beyond the resolver's own work for ``socket.getfqdn()``.
:func:`all_grains` runs at every ``ff-call --local`` start and at every
grains refresh, so nothing slow (CPU sampling, subprocesses on the common
path) belongs here.

Precedence, lowest first; each layer is deep-merged over the ones before it
(mappings merge key by key, any other value replaces):

1. core grains (:func:`core_grains`);
2. custom grain modules synced from the master's ``_grains/``
   (:mod:`fluxforge.grains.custom`);
3. the persisted grains file ``grains_file``, which ``grains.setval`` and
   friends write (:mod:`fluxforge.grains.store`);
4. ``grains:`` in the minion configuration.

This is the order Salt's loader applies (its documentation lists custom
modules last, but its code merges the grains file and then the config's
``grains:`` after every grain module). As in Salt, a grain set in the
configuration wins over the same grain in the grains file, so
``grains.setval`` cannot override it.
"""

from __future__ import annotations

import copy
import os
import platform
import socket
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import psutil

import fluxforge
from fluxforge.grains import store

if TYPE_CHECKING:
    from fluxforge.config import MinionConfig

_OS_RELEASE_FILES = ("/etc/os-release", "/usr/lib/os-release")

# Distribution ids whose NAME's first word would be a poor grain ("Red" for RHEL).
_OS_NAMES = {
    "rhel": "RedHat",
    "centos": "CentOS",
    "rocky": "Rocky",
    "almalinux": "AlmaLinux",
    "ol": "OEL",
    "amzn": "Amazon",
    "opensuse-leap": "Leap",
    "opensuse-tumbleweed": "Tumbleweed",
    "sles": "SUSE",
}

_OS_FAMILIES = {
    "debian": "Debian",
    "ubuntu": "Debian",
    "rhel": "RedHat",
    "fedora": "RedHat",
    "centos": "RedHat",
    "rocky": "RedHat",
    "almalinux": "RedHat",
    "ol": "RedHat",
    "amzn": "RedHat",
    "suse": "Suse",
    "sles": "Suse",
    "opensuse": "Suse",
    "opensuse-leap": "Suse",
    "opensuse-tumbleweed": "Suse",
    "arch": "Arch",
    "alpine": "Alpine",
}


def read_os_release(paths: tuple[str, ...] = _OS_RELEASE_FILES) -> dict[str, str]:
    """Parse the first readable os-release file into ``{KEY: value}`` (empty if none)."""
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError:
            continue
        fields: dict[str, str] = {}
        for line in text.splitlines():
            key, sep, value = line.strip().partition("=")
            if not sep or key.startswith("#"):
                continue
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            fields[key.strip()] = value
        return fields
    return {}


def os_grains(release: Mapping[str, str]) -> dict[str, str]:
    """``os``, ``os_family``, ``osrelease`` and ``oscodename`` from parsed os-release fields."""
    ident = release.get("ID", "").lower()
    name = release.get("NAME", "").split()
    if ident in _OS_NAMES:
        os_name = _OS_NAMES[ident]
    elif name:
        os_name = name[0]
    elif ident:
        os_name = ident.capitalize()
    else:
        os_name = platform.system() or "Linux"
    family = os_name
    for candidate in [ident, *release.get("ID_LIKE", "").lower().split()]:
        if candidate in _OS_FAMILIES:
            family = _OS_FAMILIES[candidate]
            break
    return {
        "os": os_name,
        "os_family": family,
        "osrelease": release.get("VERSION_ID", ""),
        "oscodename": release.get("VERSION_CODENAME", ""),
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, sep, value = line.partition(":")
                if sep and key.strip() in ("model name", "Processor", "cpu model"):
                    return value.strip()
    except OSError:
        pass
    return platform.processor()


def network_grains() -> dict[str, Any]:
    """``ipv4`` (every IPv4 address, sorted) and ``ip4_interfaces`` (``{ifname: [addrs]}``)."""
    interfaces: dict[str, list[str]] = {}
    for ifname, addrs in psutil.net_if_addrs().items():
        interfaces[ifname] = sorted(a.address for a in addrs if a.family == socket.AF_INET)
    everything = sorted({addr for addrs in interfaces.values() for addr in addrs})
    return {"ipv4": everything, "ip4_interfaces": interfaces}


def core_grains(opts: MinionConfig) -> dict[str, Any]:
    """Compute the core grains of this host for the minion configured by ``opts``."""
    hostname = socket.gethostname()
    grains: dict[str, Any] = {
        "id": opts.id,
        "host": hostname.split(".")[0],
        "fqdn": socket.getfqdn(),
        "kernel": platform.system(),
        "kernelrelease": platform.release(),
        "cpuarch": platform.machine(),
        "num_cpus": psutil.cpu_count() or os.cpu_count() or 1,
        "cpu_model": _cpu_model(),
        "mem_total": int(psutil.virtual_memory().total // (1024 * 1024)),
        "pythonversion": list(sys.version_info),
        "fluxforge_version": fluxforge.__version__,
    }
    grains.update(os_grains(read_os_release()))
    grains.update(network_grains())
    return grains


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``over`` onto a copy of ``base``: mappings merge, other values replace."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def all_grains(opts: MinionConfig) -> dict[str, Any]:
    """The grains of this minion: core, custom modules, grains file, config, in that order."""
    from fluxforge.grains.custom import custom_grains  # imports merge from here

    grains = custom_grains(opts, core_grains(opts))
    grains = merge(grains, store.load(opts.grains_file))
    return merge(grains, opts.grains)
