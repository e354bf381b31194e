"""Core grains, and :func:`all_grains`: every layer of grains merged in order.

Core grains are what the minion knows about its host without asking anyone.
Everything here reads local files and kernel interfaces only (no
subprocess; :mod:`fluxforge.grains.distro` and :mod:`fluxforge.grains.host`
say where each grain comes from); the host's names come from /etc/hosts,
so computing grains sends nothing on the network.
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
import ipaddress
import os
import platform
import socket
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import psutil

import fluxforge
from fluxforge.grains import distro, host, store

if TYPE_CHECKING:
    from fluxforge.config import MinionConfig

_OS_RELEASE_FILES = ("/etc/os-release", "/usr/lib/os-release")


def read_os_release(paths: tuple[str, ...] = _OS_RELEASE_FILES) -> dict[str, str]:
    """Parse the first readable os-release file into ``{KEY: value}`` (empty if none)."""
    for path in paths:
        text = _read_text(path)
        if text is not None:
            return distro.parse_os_release(text)
    return {}


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read(1 << 16)
    except OSError:
        return None


def os_grains(release: Mapping[str, str]) -> dict[str, str]:
    """``os``, ``os_family``, ``osrelease`` and ``oscodename`` from parsed os-release fields."""
    grains = distro.distro_grains(release)
    if not grains["os"]:
        grains["os"] = grains["os_family"] = platform.system() or "Linux"
    return {key: grains[key] for key in ("os", "os_family", "osrelease", "oscodename")}


def distribution_grains(root: str = "/") -> dict[str, Any]:
    """Every ``os*`` and ``lsb_distrib_*`` grain of the system under ``root``."""
    etc = os.path.join(root, "etc")
    release = read_os_release(
        (os.path.join(etc, "os-release"), os.path.join(root, "usr/lib/os-release"))
    )
    ident = release.get("ID", "")
    release_file = ""
    if ident:
        for name in (f"{ident}-release", "centos-release", "redhat-release", "system-release"):
            release_file = _read_text(os.path.join(etc, name)) or ""
            if release_file:
                break
    grains = distro.distro_grains(
        release,
        lsb_release=_read_text(os.path.join(etc, "lsb-release")) or "",
        release_file=release_file,
        machine=platform.machine(),
    )
    if not grains["os"]:
        grains["os"] = grains["os_family"] = platform.system() or "Linux"
    return grains


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
    """Addresses by interface and in all, as Salt lists them.

    ``ip4_interfaces``, ``ip6_interfaces`` and ``ip_interfaces`` map every
    interface (with or without addresses) to its addresses in the kernel's
    order, IPv4 before IPv6 in the last; ``ipv4`` and ``ipv6`` are every
    address once, in numeric order; ``hwaddr_interfaces`` maps each interface
    that has a link-layer address to it. IPv6 addresses carry no ``%scope``.
    """
    ip4: dict[str, list[str]] = {}
    ip6: dict[str, list[str]] = {}
    hwaddr: dict[str, str] = {}
    for ifname, addrs in psutil.net_if_addrs().items():
        ip4[ifname] = [a.address for a in addrs if a.family == socket.AF_INET]
        ip6[ifname] = [a.address.split("%")[0] for a in addrs if a.family == socket.AF_INET6]
        for addr in addrs:
            if addr.family == psutil.AF_LINK and addr.address:
                hwaddr[ifname] = addr.address
    return {
        "ipv4": _ordered(ip4),
        "ipv6": _ordered(ip6),
        "ip4_interfaces": ip4,
        "ip6_interfaces": ip6,
        "ip_interfaces": {name: ip4[name] + ip6[name] for name in ip4},
        "hwaddr_interfaces": hwaddr,
    }


def _ordered(interfaces: Mapping[str, list[str]]) -> list[str]:
    unique = {ipaddress.ip_address(a) for addrs in interfaces.values() for a in addrs}
    return [str(a) for a in sorted(unique)]


def core_grains(opts: MinionConfig) -> dict[str, Any]:
    """Compute the core grains of this host for the minion configured by ``opts``."""
    grains: dict[str, Any] = {
        "id": opts.id,
        "kernel": platform.system(),
        "kernelrelease": platform.release(),
        "cpuarch": platform.machine(),
        "num_cpus": psutil.cpu_count() or os.cpu_count() or 1,
        "cpu_model": _cpu_model(),
        "pythonversion": list(sys.version_info),
        "fluxforge_version": fluxforge.__version__,
        "init": host.init_system(),
    }
    grains.update(host.name_grains(socket.gethostname(), _read_text("/etc/hosts") or ""))
    grains.update(host.memory_grains())
    grains.update(host.process_grains())
    grains.update(host.machine_id())
    grains.update(host.dmi_grains())
    grains.update(host.virtual_grains())
    grains.update(host.systemd_grain())
    grains.update(host.gpu_grains())
    grains.update(host.locale_grains())
    grains.update(host.dns_grains())
    grains.update(distribution_grains())
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
