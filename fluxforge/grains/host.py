"""Host grains other than the distribution: process, memory, hardware, init, virtualisation.

Salt computes several of these by running programs (``systemctl --version``,
``systemd-detect-virt``, ``lspci``, ``dpkg``). A FluxForge minion computes
its grains at every start and refresh, so each one here comes from a file
under ``/proc``, ``/sys`` or ``/etc`` instead, or from the process itself;
where that gives a different answer from Salt's program, the function's
docstring says so. Every reader is given its root so tests can point it at
fixture trees.
"""

from __future__ import annotations

import datetime
import grp
import ipaddress
import locale
import mmap
import os
import pwd
import re
import shutil
import sys
from typing import Any

_DMI_FILES = {
    "biosversion": "bios_version",
    "biosvendor": "bios_vendor",
    "boardname": "board_name",
    "productname": "product_name",
    "manufacturer": "sys_vendor",
    "biosreleasedate": "bios_date",
    "uuid": "product_uuid",
    "serialnumber": "product_serial",
}

# GPU vendors by PCI vendor id, named as Salt names them.
_GPU_VENDORS = {
    "0x10de": "nvidia",
    "0x1002": "amd",
    "0x8086": "intel",
    "0x102b": "matrox",
    "0x1a03": "aspeed",
    "0x15ad": "vmware",
    "0x1234": "unknown",
    "0x1af4": "unknown",
    "0x1013": "unknown",
}

_SYSTEMD_LIB_DIRS = (
    "/usr/lib/x86_64-linux-gnu/systemd",
    "/usr/lib/aarch64-linux-gnu/systemd",
    "/usr/lib64/systemd",
    "/usr/lib/systemd",
    "/lib/systemd",
)
_SYSTEMD_LIB = re.compile(r"^libsystemd-shared-(\d+)[.\-].*so$")


def _read(path: str, limit: int = 1 << 20) -> str | None:
    try:
        with open(path, "rb") as fh:
            return fh.read(limit).decode("utf-8", errors="replace")
    except OSError:
        return None


def process_grains() -> dict[str, Any]:
    """``uid``, ``gid``, ``username``, ``groupname``, ``shell``, ``path``, ``pythonexecutable``."""
    uid, gid = os.geteuid(), os.getegid()
    grains: dict[str, Any] = {"uid": uid, "gid": gid, "username": "", "groupname": ""}
    try:
        entry = pwd.getpwuid(uid)
        grains["username"] = entry.pw_name
        grains["groupname"] = grp.getgrgid(entry.pw_gid).gr_name
    except KeyError:
        pass
    path = os.environ.get("PATH", "").strip()
    grains.update(
        {
            "shell": os.environ.get("SHELL", "/bin/sh"),
            "path": path,
            "systempath": path.split(os.pathsep),
            "pythonexecutable": sys.executable,
            "kernelversion": os.uname().version,
        }
    )
    return grains


def memory_grains(meminfo: str = "/proc/meminfo") -> dict[str, int]:
    """``mem_total`` and ``swap_total`` in MiB (floor), from ``/proc/meminfo``."""
    grains = {"mem_total": 0, "swap_total": 0}
    for line in (_read(meminfo) or "").splitlines():
        key, _, rest = line.partition(":")
        fields = rest.split()
        if key in ("MemTotal", "SwapTotal") and fields and fields[0].isdigit():
            grains["mem_total" if key == "MemTotal" else "swap_total"] = int(fields[0]) // 1024
    return grains


def machine_id(root: str = "/") -> dict[str, str]:
    """``machine_id`` from ``/etc/machine-id`` (or D-Bus's copy); no grain when neither exists."""
    for name in ("etc/machine-id", "var/lib/dbus/machine-id"):
        text = _read(os.path.join(root, name))
        if text and text.strip():
            return {"machine_id": text.strip()}
    return {}


def dmi_grains(folder: str = "/sys/class/dmi/id") -> dict[str, str]:
    """``productname``, ``manufacturer``, ``serialnumber`` and the BIOS grains that are readable.

    ``product_serial`` and ``product_uuid`` are readable by root only, so an
    unprivileged minion has no ``serialnumber`` or ``uuid``, as in Salt.
    """
    grains: dict[str, str] = {}
    if not os.path.isdir(folder):
        return grains
    for key, name in _DMI_FILES.items():
        text = _read(os.path.join(folder, name))
        if text is not None:
            grains[key] = text.strip().lower() if key == "uuid" else text.strip()
    return grains


def init_system(root: str = "/") -> str:
    """The ``init`` grain: ``systemd`` when it runs, else recognised from PID 1's command line."""
    if os.path.exists(os.path.join(root, "run/systemd/system")):
        return "systemd"
    cmdline = (_read(os.path.join(root, "proc/1/cmdline")) or "").replace("\x00", " ").split()
    if not cmdline:
        return "unknown"
    binary = shutil.which(cmdline[0])
    if binary and binary.endswith("bin/init"):
        return _init_from_binary(binary)
    for name in ("supervisord", "dumb-init", "tini"):
        found = shutil.which(name)
        if found and found in cmdline:
            return name
    if cmdline == ["runit"] or "/sbin/my_init" in cmdline:
        return "runit"
    return "unknown"


def _init_from_binary(path: str, chunk: int = 1 << 18) -> str:
    """Which init an ``init`` binary is, by the name found in it, case-insensitively.

    As in Salt, the file is read in chunks, and within the first chunk that
    names any of them, ``upstart`` wins over ``sysvinit`` over ``systemd``.
    """
    names = (b"upstart", b"sysvinit", b"systemd")
    overlap = max(len(n) for n in names) - 1
    try:
        with open(path, "rb") as fh:
            tail = b""
            while block := fh.read(chunk):
                block = tail + block.lower()
                for name in names:
                    if name in block:
                        return name.decode()
                tail = block[-overlap:]
    except OSError:
        pass
    return "unknown"


def systemd_grain(lib_dirs: tuple[str, ...] = _SYSTEMD_LIB_DIRS) -> dict[str, Any]:
    """``systemd``: ``{"version", "features"}`` as ``systemctl --version`` prints them.

    Read from ``libsystemd-shared-<version>.so``, which holds the feature
    string as a constant; empty when systemd is not installed (Salt then has
    no ``systemd`` grain either).
    """
    for folder in lib_dirs:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in sorted(names):
            match = _SYSTEMD_LIB.match(name)
            if match:
                features = _features(os.path.join(folder, name))
                return {"systemd": {"version": match.group(1), "features": features}}
    return {}


def _features(path: str) -> str:
    marker = b" default-hierarchy="
    try:
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            end = data.find(marker)
            if end < 0:
                return ""
            start = data.rfind(b"\x00", 0, end) + 1
            stop = data.find(b"\x00", end)
            return data[start:stop].decode("ascii", errors="replace")
    except (OSError, ValueError):
        return ""


def virtual_grains(root: str = "/") -> dict[str, str]:
    """``virtual`` (and ``virtual_subtype``) as Salt reports them via ``systemd-detect-virt``.

    Containers are recognised from the marker files and PID 1's environment
    that systemd-detect-virt reads; virtual machines from the DMI vendor and
    product. A VM without DMI (Firecracker) is ``physical`` here, where
    systemd-detect-virt would read the CPUID hypervisor vendor.
    """

    def path(name: str) -> str:
        return os.path.join(root, name)

    environ = _read(path("proc/1/environ")) or ""
    container = (
        next(
            (v[len("container=") :] for v in environ.split("\x00") if v.startswith("container=")),
            "",
        )
        or (_read(path("run/systemd/container")) or "").strip()
    )
    if os.path.exists(path("run/.containerenv")) or container == "podman":
        return {"virtual": "container", "virtual_subtype": "Podman"}
    if os.path.exists(path(".dockerenv")) or container == "docker":
        return {"virtual": "container", "virtual_subtype": "Docker"}
    if container.startswith("lxc"):
        return {"virtual": "container", "virtual_subtype": "LXC"}
    if container == "systemd-nspawn":
        return {"virtual": "systemd-nspawn"}
    cgroup = _read(path("proc/1/cgroup")) or ""
    if ":/lxc/" in cgroup:
        return {"virtual": "container", "virtual_subtype": "LXC"}
    if any(x in cgroup for x in (":/system.slice/docker", ":/docker/", ":/docker-ce/")):
        return {"virtual": "container", "virtual_subtype": "Docker"}
    dmi = " ".join(
        (_read(path(f"sys/class/dmi/id/{name}")) or "").strip()
        for name in ("sys_vendor", "product_name", "board_vendor", "bios_vendor")
    )
    for needle, grains in (
        ("Amazon EC2", {"virtual": "Nitro", "virtual_subtype": "Amazon EC2"}),
        ("VMware", {"virtual": "VMware"}),
        ("VirtualBox", {"virtual": "VirtualBox"}),
        ("innotek", {"virtual": "VirtualBox"}),
        ("Microsoft Corporation", {"virtual": "VirtualPC"}),
        ("Google", {"virtual": "gce"}),
        ("BHYVE", {"virtual": "bhyve"}),
        ("Xen", {"virtual": "xen"}),
        ("KVM", {"virtual": "kvm"}),
        ("QEMU", {"virtual": "kvm"}),
        ("Bochs", {"virtual": "bochs"}),
    ):
        if needle in dmi:
            return dict(grains)
    return {"virtual": "physical"}


def gpu_grains(folder: str = "/sys/bus/pci/devices") -> dict[str, Any]:
    """``gpus`` (``[{"vendor", "model"}]``) and ``num_gpus``, from PCI display-class devices.

    Salt names the model from ``lspci``'s database; here it is the PCI device
    id (``0x1111``), which is what a map keyed on the vendor needs.
    """
    gpus: list[dict[str, str]] = []
    try:
        devices = sorted(os.listdir(folder))
    except OSError:
        devices = []
    for device in devices:
        klass = (_read(os.path.join(folder, device, "class")) or "").strip()
        if not klass.startswith("0x03"):
            continue
        vendor = (_read(os.path.join(folder, device, "vendor")) or "").strip()
        model = (_read(os.path.join(folder, device, "device")) or "").strip()
        gpus.append({"vendor": _GPU_VENDORS.get(vendor, "unknown"), "model": model})
    return {"gpus": gpus, "num_gpus": len(gpus)}


def locale_grains() -> dict[str, Any]:
    """``locale_info``: the process locale, the interpreter's encoding, and the local time zone."""
    try:
        language, encoding = locale.getlocale()
    except ValueError:
        language, encoding = "unknown", "unknown"
    return {
        "locale_info": {
            "defaultlanguage": language,
            "defaultencoding": encoding,
            "detectedencoding": sys.getdefaultencoding(),
            "timezone": datetime.datetime.now().astimezone().tzname() or "unknown",
        }
    }


def parse_resolv_conf(text: str) -> dict[str, Any]:
    """The ``dns`` grain from the text of a resolv.conf, with Salt's keys and quirks."""
    nameservers: list[str] = []
    ip4: list[str] = []
    ip6: list[str] = []
    sortlist: list[str] = []
    search: list[str] = []
    options: list[str] = []
    domain = ""
    for raw in text.splitlines():
        words = raw.strip().split()
        if len(words) < 2 or words[0].startswith(("#", ";")):
            continue
        directive = words[0].lower()
        args: list[str] = []
        for word in words[1:]:
            if word[0] in "#;":
                break
            args.append(word)
        if not args:
            continue
        if directive == "nameserver":
            try:
                addr = ipaddress.ip_address(args[0])
            except ValueError:
                continue
            for bucket in (nameservers, ip4 if addr.version == 4 else ip6):
                if str(addr) not in bucket:
                    bucket.append(str(addr))
        elif directive == "domain":
            domain = args[0]
        elif directive == "search":
            search = args
        elif directive == "sortlist":
            for item in args:
                net = _sort_network(item)
                if net and net not in sortlist:
                    sortlist.append(net)
        elif directive == "options" and args[0] not in options:
            options.append(args[0])
    return {
        "nameservers": nameservers,
        "ip4_nameservers": ip4,
        "ip6_nameservers": ip6,
        "sortlist": sortlist,
        "domain": domain,
        "search": search,
        "options": options,
    }


def _sort_network(item: str) -> str | None:
    try:
        if "/" not in item and ":" not in item:
            first = int(item.split(".")[0])
            prefix = 8 if first < 128 else 16 if first < 192 else 24
            item = f"{item}/{prefix}"
        return ipaddress.ip_network(item, strict=False).with_netmask
    except ValueError:
        return None


def dns_grains(root: str = "/") -> dict[str, Any]:
    """``dns`` from systemd-resolved's upstream resolv.conf if there is one, else resolv.conf."""
    resolved = os.path.join(root, "run/systemd/resolve/resolv.conf")
    path = resolved if os.path.exists(resolved) else os.path.join(root, "etc/resolv.conf")
    text = _read(path)
    return {} if text is None else {"dns": parse_resolv_conf(text)}


def parse_hosts(text: str) -> list[tuple[str, list[str]]]:
    """``[(address, [canonical name, *aliases])]`` from the text of an /etc/hosts file."""
    entries: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2:
            entries.append((words[0], words[1:]))
    return entries


def name_grains(hostname: str, hosts_text: str) -> dict[str, Any]:
    """``fqdn``, ``host``, ``domain``, ``localhost``, ``fqdn_ip4`` and ``fqdn_ip6``.

    Salt asks the resolver for the canonical name of the host name and for
    that name's addresses; with ``hosts: files`` first, as on every usual
    Linux, the answer for a host listed in /etc/hosts is that file's, and that
    is where they come from here, so that no grain costs a DNS query. A host
    name missing from /etc/hosts is its own ``fqdn``, with no addresses, where
    Salt would ask DNS.
    """
    entries = parse_hosts(hosts_text)
    lowered = hostname.lower()
    fqdn = next(
        (names[0] for _, names in entries if lowered in (n.lower() for n in names)), hostname
    )
    ip4: set[ipaddress.IPv4Address] = set()
    ip6: set[ipaddress.IPv6Address] = set()
    for address, names in entries:
        if fqdn.lower() not in (n.lower() for n in names):
            continue
        try:
            parsed = ipaddress.ip_address(address.split("%")[0])
        except ValueError:
            continue
        if isinstance(parsed, ipaddress.IPv4Address):
            ip4.add(parsed)
        else:
            ip6.add(parsed)
    host, _, domain = fqdn.partition(".")
    return {
        "localhost": hostname,
        "nodename": hostname,
        "fqdn": fqdn,
        "host": host,
        "domain": domain,
        "fqdn_ip4": [str(a) for a in sorted(ip4)],
        "fqdn_ip6": [str(a) for a in sorted(ip6)],
    }
