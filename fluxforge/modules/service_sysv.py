"""Services of hosts without systemd: SysV init scripts (module ``service``).

Available when systemd is not the init system (``/run/systemd/system`` is
absent) and the init script folder exists. A service is the script
``<INIT_DIR>/<name>``, run as ``<script> start|stop|restart|reload|status``
(what ``service <name> <action>`` does). The exit status decides: 0 is
success, and for ``status`` 0 is running (the LSB convention).

Starting at boot is a link ``S<NN><name>`` in ``<RC_ROOT>/rc[2-5].d``. On a
host with the system folders (``/etc/init.d``, ``/etc``) ``enable`` and
``disable`` use ``update-rc.d`` (Debian) or ``chkconfig`` (Red Hat), which
order the links by the scripts' LSB headers; elsewhere, or without those
tools, they write the links themselves. ``INIT_DIR`` and ``RC_ROOT`` are
module constants so that tests (and unusual hosts) can point them elsewhere.
"""

from __future__ import annotations

import glob
import os
import re
import shutil

import psutil

from fluxforge.errors import ExecutionError
from fluxforge.host.procs import Outcome, run_argv

__virtualname__ = "service"

INIT_DIR = "/etc/init.d"
RC_ROOT = "/etc"
SYSTEMD_MARK = "/run/systemd/system"
BOOT_LEVELS = "2345"
HALT_LEVELS = "016"
TIMEOUT = 300.0
_NOT_SERVICES = {"README", "skeleton", "rc", "rcS", "functions", "halt", "reboot", "single"}
_SYSTEM_INIT_DIR = "/etc/init.d"
_SYSTEM_RC_ROOT = "/etc"


def __virtual__() -> bool | tuple[bool, str]:
    if os.path.isdir(SYSTEMD_MARK):
        return False, "systemd is the init system here: the systemd backend serves service"
    if not os.path.isdir(INIT_DIR):
        return False, f"no init script folder {INIT_DIR}"
    return True


def _script(fname: str, name: str) -> str:
    if not name or "/" in name or name.startswith("."):
        raise ExecutionError(f"{fname}: {name!r} is not a service name")
    path = os.path.join(INIT_DIR, name)
    if not os.path.isfile(path):
        raise ExecutionError(f"{fname}: no init script {path}")
    return path


def _run(fname: str, argv: list[str]) -> Outcome:
    """Run ``argv`` as cmd.run does (own process group, killed if the job is cancelled)."""
    return run_argv(fname, argv, {"LC_ALL": "C"}, "/", TIMEOUT)


def _action(fname: str, name: str, action: str) -> bool:
    out = _run(fname, [_script(fname, name), action])
    return out.retcode == 0


def start(name: str) -> bool:
    """Start the service ``name``; True if its script succeeded.

    CLI example: ``ff '*' service.start nginx``
    """
    return _action("service.start", name, "start")


def stop(name: str) -> bool:
    """Stop the service ``name``; True if its script succeeded.

    CLI example: ``ff '*' service.stop nginx``
    """
    return _action("service.stop", name, "stop")


def restart(name: str) -> bool:
    """Restart the service ``name``; True if its script succeeded.

    CLI example: ``ff '*' service.restart nginx``
    """
    return _action("service.restart", name, "restart")


def reload_(name: str) -> bool:
    """Reload the configuration of the service ``name``; True if its script succeeded.

    CLI example: ``ff '*' service.reload nginx``
    """
    return _action("service.reload", name, "reload")


def status(name: str, sig: str | None = None) -> bool:
    """Return whether the service ``name`` runs (its script's ``status`` exits 0).

    ``sig``: instead, whether a process whose command line matches this
    regular expression runs, for scripts without a ``status`` action.

    CLI example: ``ff '*' service.status nginx``
    """
    if sig:
        pattern = re.compile(sig)
        me = os.getpid()
        for proc in psutil.process_iter(["pid", "cmdline"]):
            cmdline = " ".join(proc.info["cmdline"] or [])
            if proc.info["pid"] != me and cmdline and pattern.search(cmdline):
                return True
        return False
    return _action("service.status", name, "status")


def _links(name: str, levels: str, kind: str) -> list[str]:
    found = []
    for level in levels:
        pattern = os.path.join(RC_ROOT, f"rc{level}.d", f"{kind}[0-9][0-9]{glob.escape(name)}")
        found += glob.glob(pattern)
    return sorted(found)


def enabled(name: str) -> bool:
    """Return whether the service ``name`` starts at boot (a start link in rc2.d to rc5.d).

    CLI example: ``ff '*' service.enabled nginx``
    """
    _script("service.enabled", name)
    return bool(_links(name, BOOT_LEVELS, "S"))


def disabled(name: str) -> bool:
    """Return whether the service ``name`` does not start at boot.

    CLI example: ``ff '*' service.disabled nginx``
    """
    return not enabled(name)


def _tool() -> str | None:
    """update-rc.d or chkconfig, when the folders are the system's and the tool exists."""
    if (INIT_DIR, RC_ROOT) != (_SYSTEM_INIT_DIR, _SYSTEM_RC_ROOT):
        return None
    for tool in ("update-rc.d", "chkconfig"):
        if shutil.which(tool):
            return tool
    return None


def _relink(name: str, start_at_boot: bool) -> None:
    """Write the rc links of ``name`` ourselves: S20 in the boot levels when enabled, else K80."""
    for old in _links(name, BOOT_LEVELS + HALT_LEVELS, "[SK]"):
        os.unlink(old)
    for level in BOOT_LEVELS + HALT_LEVELS:
        folder = os.path.join(RC_ROOT, f"rc{level}.d")
        os.makedirs(folder, exist_ok=True)
        kind = "S20" if start_at_boot and level in BOOT_LEVELS else "K80"
        target = os.path.relpath(os.path.join(INIT_DIR, name), folder)
        os.symlink(target, os.path.join(folder, f"{kind}{name}"))


def _set_boot(fname: str, name: str, on: bool) -> bool:
    _script(fname, name)
    tool = _tool()
    if tool == "update-rc.d":
        if on:
            _run(fname, ["update-rc.d", name, "defaults"])
        out = _run(fname, ["update-rc.d", name, "enable" if on else "disable"])
        if out.retcode != 0:
            raise ExecutionError(f"{fname}: update-rc.d failed: {out.stderr.strip()}")
    elif tool == "chkconfig":
        out = _run(fname, ["chkconfig", name, "on" if on else "off"])
        if out.retcode != 0:
            raise ExecutionError(f"{fname}: chkconfig failed: {out.stderr.strip()}")
    else:
        _relink(name, on)
    return enabled(name) is on


def enable(name: str) -> bool:
    """Make the service ``name`` start at boot; True when it now does.

    CLI example: ``ff '*' service.enable nginx``
    """
    return _set_boot("service.enable", name, True)


def disable(name: str) -> bool:
    """Make the service ``name`` not start at boot; True when it now does not.

    CLI example: ``ff '*' service.disable nginx``
    """
    return _set_boot("service.disable", name, False)


def get_all() -> list[str]:
    """Return the sorted names of every service (every executable script in the init folder).

    CLI example: ``ff '*' service.get_all``
    """
    try:
        names = os.listdir(INIT_DIR)
    except FileNotFoundError:
        return []
    return sorted(
        name
        for name in names
        if name not in _NOT_SERVICES
        and not name.startswith(".")
        and os.path.isfile(path := os.path.join(INIT_DIR, name))
        and os.access(path, os.X_OK)
    )


def get_enabled() -> list[str]:
    """Return the sorted names of the services that start at boot.

    CLI example: ``ff '*' service.get_enabled``
    """
    return [name for name in get_all() if _links(name, BOOT_LEVELS, "S")]


def available(name: str) -> bool:
    """Return whether a service ``name`` exists here.

    CLI example: ``ff '*' service.available nginx``
    """
    return name in get_all()


def missing(name: str) -> bool:
    """Return whether no service ``name`` exists here (the opposite of :func:`available`).

    CLI example: ``ff '*' service.missing nginx``
    """
    return not available(name)
