"""Space and inodes of mounted filesystems, in the shape of Salt's ``disk`` module (``df -P``).

Numbers are text, as ``df`` prints them and Salt returns them: sizes in
1024-byte blocks, ``capacity`` as ``"45%"`` (used over used plus
available, rounded up, as df computes it). Filesystems with no blocks
(``proc``, ``sysfs``) are left out, as df leaves them out.
"""

from __future__ import annotations

import math
import os
from typing import Any

import psutil

from fluxforge.errors import ExecutionError


def _mounts() -> list[tuple[str, str]]:
    """``(device, mount point)`` of every mount, the last mount of a point winning."""
    seen: dict[str, str] = {}
    for part in psutil.disk_partitions(all=True):
        seen[part.mountpoint] = part.device
    return [(device, mount) for mount, device in seen.items()]


def _pick(fname: str, args: str | None) -> list[tuple[str, str]]:
    mounts = _mounts()
    if not args:
        return mounts
    wanted = [a.strip() for a in str(args).split(",") if a.strip()]
    chosen = [m for m in mounts if m[0] in wanted or m[1] in wanted]
    if not chosen:
        raise ExecutionError(f"disk.{fname}: no mounted filesystem {args!r}")
    return chosen


def _percent(used: int, free: int) -> str:
    total = used + free
    return f"{math.ceil(used * 100 / total)}%" if total else "-"


def usage(args: str | None = None) -> dict[str, dict[str, str]]:
    """Return the space of mounted filesystems, by mount point.

    ``{mount: {"filesystem", "1K-blocks", "used", "available", "capacity",
    "mounted"}}``. ``args``: a mount point or device (or several, comma
    separated) to report alone.

    CLI example: ``ff '*' disk.usage``
    """
    out: dict[str, dict[str, str]] = {}
    for device, mount in _pick("usage", args):
        try:
            st = os.statvfs(mount)
        except OSError:
            continue
        if st.f_blocks == 0:
            continue
        used = (st.f_blocks - st.f_bfree) * st.f_frsize // 1024
        avail = st.f_bavail * st.f_frsize // 1024
        out[mount] = {
            "filesystem": device,
            "1K-blocks": str(st.f_blocks * st.f_frsize // 1024),
            "used": str(used),
            "available": str(avail),
            "capacity": _percent(used, avail),
            "mounted": mount,
        }
    return out


def inodeusage(args: str | None = None) -> dict[str, dict[str, Any]]:
    """Return the inodes of mounted filesystems, by mount point.

    ``{mount: {"inodes", "used", "free", "use", "filesystem"}}`` (``use`` as
    ``"12%"``). ``args`` as for :func:`usage`.

    CLI example: ``ff '*' disk.inodeusage``
    """
    out: dict[str, dict[str, Any]] = {}
    for device, mount in _pick("inodeusage", args):
        try:
            st = os.statvfs(mount)
        except OSError:
            continue
        if st.f_files == 0:
            continue
        used = st.f_files - st.f_ffree
        out[mount] = {
            "inodes": str(st.f_files),
            "used": str(used),
            "free": str(st.f_ffree),
            "use": _percent(used, st.f_favail),
            "filesystem": device,
        }
    return out


def percent(args: str | None = None) -> str | dict[str, str]:
    """Return ``capacity`` of every filesystem as ``{mount: "45%"}``; of ``args`` alone as text.

    CLI example: ``ff '*' disk.percent /var``
    """
    found = {mount: data["capacity"] for mount, data in usage(args).items()}
    if args and len(found) == 1:
        return next(iter(found.values()))
    return found
