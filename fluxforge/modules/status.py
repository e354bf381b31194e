"""The host's load, memory, CPUs, uptime, processes and disk space (psutil and /proc).

Returns follow Salt's ``status`` module where it has one: ``meminfo`` is
``{field: {"value": text, "unit": "kB"}}`` as in ``/proc/meminfo``, and
``cpuinfo`` the fields of ``/proc/cpuinfo``.
"""

from __future__ import annotations

import datetime
import os
import re
import time
from typing import Any

import psutil

from fluxforge.errors import ExecutionError

PROC_MEMINFO = "/proc/meminfo"
PROC_CPUINFO = "/proc/cpuinfo"


def loadavg() -> dict[str, float]:
    """Return the load averages as ``{"1-min": ..., "5-min": ..., "15-min": ...}``.

    CLI example: ``ff '*' status.loadavg``
    """
    one, five, fifteen = psutil.getloadavg()
    return {"1-min": one, "5-min": five, "15-min": fifteen}


def meminfo() -> dict[str, dict[str, str]]:
    """Return ``/proc/meminfo`` as ``{"MemTotal": {"value": "16384", "unit": "kB"}, ...}``.

    Where there is no ``/proc/meminfo``, the same shape is made from psutil
    (``MemTotal``, ``MemFree``, ``MemAvailable``, ``SwapTotal``, ``SwapFree``).

    CLI example: ``ff '*' status.meminfo``
    """
    out: dict[str, dict[str, str]] = {}
    try:
        with open(PROC_MEMINFO, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError:
        mem, swap = psutil.virtual_memory(), psutil.swap_memory()
        for key, value in (
            ("MemTotal", mem.total),
            ("MemFree", mem.free),
            ("MemAvailable", mem.available),
            ("SwapTotal", swap.total),
            ("SwapFree", swap.free),
        ):
            out[key] = {"value": str(value // 1024), "unit": "kB"}
        return out
    for line in lines:
        key, _, rest = line.partition(":")
        words = rest.split()
        if key and words:
            out[key.strip()] = {"value": words[0], **({"unit": words[1]} if len(words) > 1 else {})}
    return out


def cpuinfo() -> dict[str, Any]:
    """Return the fields of ``/proc/cpuinfo`` (of its last processor; ``flags`` as a list).

    Where there is no ``/proc/cpuinfo``: ``{"processors", "cpu MHz"}`` from psutil.

    CLI example: ``ff '*' status.cpuinfo``
    """
    try:
        with open(PROC_CPUINFO, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError:
        freq = psutil.cpu_freq()
        return {"processors": psutil.cpu_count(), "cpu MHz": freq.current if freq else None}
    out: dict[str, Any] = {}
    for line in lines:
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        out[key] = value.split() if key in ("flags", "Features", "bugs") else value
    return out


def uptime() -> dict[str, Any]:
    """Return how long the host has been up.

    ``{"seconds", "since_iso", "since_t", "days", "time" ("H:MM" past the
    days), "users" (logged-in sessions)}``, as Salt returns.

    CLI example: ``ff '*' status.uptime``
    """
    boot = psutil.boot_time()
    seconds = int(time.time() - boot)
    days, rest = divmod(seconds, 86400)
    hours, minutes = rest // 3600, rest % 3600 // 60
    return {
        "seconds": seconds,
        "since_iso": datetime.datetime.fromtimestamp(boot).isoformat(),
        "since_t": int(boot),
        "days": days,
        "time": f"{hours}:{minutes:02d}",
        "users": len(psutil.users()),
    }


def procs() -> dict[str, dict[str, str]]:
    """Return the running processes as ``{pid: {"user": ..., "cmd": ...}}`` (pids as text).

    CLI example: ``ff '*' status.procs``
    """
    out: dict[str, dict[str, str]] = {}
    for proc in psutil.process_iter(["pid", "username", "cmdline", "name"]):
        cmd = " ".join(proc.info["cmdline"] or []) or f"[{proc.info['name']}]"
        out[str(proc.info["pid"])] = {"user": proc.info["username"] or "", "cmd": cmd}
    return out


def pid(sig: str) -> list[int]:
    """Return the sorted pids of processes whose command line matches the regex ``sig``.

    The minion's own process is left out. Salt returns the pids as lines
    of text; a list is easier to use, and is just as empty when none match.

    CLI example: ``ff '*' status.pid nginx``
    """
    try:
        pattern = re.compile(sig)
    except re.error as exc:
        raise ExecutionError(f"status.pid: {sig!r} is not a regular expression: {exc}")
    me = os.getpid()
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "name"]):
        cmd = " ".join(proc.info["cmdline"] or []) or proc.info["name"] or ""
        if proc.info["pid"] != me and pattern.search(cmd):
            found.append(proc.info["pid"])
    return sorted(found)


def diskusage(*paths: str) -> dict[str, dict[str, int]]:
    """Return ``{path: {"total": bytes, "available": bytes}}`` for ``paths``, or every mount.

    ``available`` is what an ordinary user may still write.

    CLI example: ``ff '*' status.diskusage / /var``
    """
    if not paths:
        paths = tuple(part.mountpoint for part in psutil.disk_partitions(all=False))
    out: dict[str, dict[str, int]] = {}
    for path in paths:
        try:
            st = os.statvfs(path)
        except OSError as exc:
            raise ExecutionError(f"status.diskusage: cannot read {path}: {exc.strerror}")
        out[path] = {"total": st.f_blocks * st.f_frsize, "available": st.f_bavail * st.f_frsize}
    return out
