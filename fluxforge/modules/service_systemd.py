"""Services under systemd, through ``systemctl`` (module ``service``).

Available when systemd is the init system, that is when
``/run/systemd/system`` exists (systemd creates it at boot) and
``systemctl`` is installed. A bare name means its ``.service`` unit; other
units are named with their suffix (``docker.socket``). The functions and
their returns are those of the SysV backend, :mod:`fluxforge.modules.service_sysv`.
"""

from __future__ import annotations

import os
import shutil

from fluxforge.errors import ExecutionError
from fluxforge.host.procs import Outcome, run_argv

__virtualname__ = "service"

SYSTEMD_MARK = "/run/systemd/system"
TIMEOUT = 300.0
_ENABLED = {"enabled", "enabled-runtime", "alias"}


def __virtual__() -> bool | tuple[bool, str]:
    if not os.path.isdir(SYSTEMD_MARK):
        return False, f"systemd is not the init system here ({SYSTEMD_MARK} is absent)"
    if shutil.which("systemctl") is None:
        return False, "systemctl is not installed"
    return True


def _run(fname: str, argv: list[str]) -> Outcome:
    """Run ``argv`` as cmd.run does (own process group, killed if the job is cancelled)."""
    return run_argv(fname, argv, {"LC_ALL": "C", "SYSTEMD_PAGER": ""}, timeout=TIMEOUT)


def _unit(fname: str, name: str) -> str:
    if not name or "/" in name or name.startswith("-"):
        raise ExecutionError(f"{fname}: {name!r} is not a unit name")
    return name


def _systemctl(fname: str, *words: str) -> Outcome:
    return _run(fname, ["systemctl", "--no-pager", "--no-ask-password", *words])


def _action(fname: str, action: str, name: str) -> bool:
    return _systemctl(fname, action, _unit(fname, name)).retcode == 0


def start(name: str) -> bool:
    """Start the service ``name``; True if systemctl succeeded.

    CLI example: ``ff '*' service.start nginx``
    """
    return _action("service.start", "start", name)


def stop(name: str) -> bool:
    """Stop the service ``name``; True if systemctl succeeded.

    CLI example: ``ff '*' service.stop nginx``
    """
    return _action("service.stop", "stop", name)


def restart(name: str) -> bool:
    """Restart the service ``name``; True if systemctl succeeded.

    CLI example: ``ff '*' service.restart nginx``
    """
    return _action("service.restart", "restart", name)


def reload_(name: str) -> bool:
    """Reload the configuration of the service ``name``; True if systemctl succeeded.

    CLI example: ``ff '*' service.reload nginx``
    """
    return _action("service.reload", "reload", name)


def status(name: str, sig: str | None = None) -> bool:
    """Return whether the service ``name`` is active (``systemctl is-active``).

    ``sig`` is accepted for compatibility with the SysV backend and ignored:
    systemd knows the state of its units.

    CLI example: ``ff '*' service.status nginx``
    """
    return _action("service.status", "is-active", name)


def _is_enabled(fname: str, name: str) -> str:
    out = _systemctl(fname, "is-enabled", _unit(fname, name))
    return out.stdout.strip().splitlines()[0] if out.stdout.strip() else ""


def enabled(name: str) -> bool:
    """Return whether the service ``name`` starts at boot (``systemctl is-enabled``).

    CLI example: ``ff '*' service.enabled nginx``
    """
    return _is_enabled("service.enabled", name) in _ENABLED


def disabled(name: str) -> bool:
    """Return whether the service ``name`` does not start at boot.

    CLI example: ``ff '*' service.disabled nginx``
    """
    return not enabled(name)


def enable(name: str) -> bool:
    """Make the service ``name`` start at boot (``systemctl enable``); True on success.

    CLI example: ``ff '*' service.enable nginx``
    """
    return _action("service.enable", "enable", name)


def disable(name: str) -> bool:
    """Make the service ``name`` not start at boot (``systemctl disable``); True on success.

    CLI example: ``ff '*' service.disable nginx``
    """
    return _action("service.disable", "disable", name)


def _names(out: Outcome) -> set[str]:
    found = set()
    for line in out.stdout.splitlines():
        cols = line.split()
        if cols and cols[0].endswith(".service"):
            found.add(cols[0][: -len(".service")])
    return found


def get_all() -> list[str]:
    """Return the sorted names of every service unit, loaded or only installed.

    CLI example: ``ff '*' service.get_all``
    """
    words = ("--type=service", "--all", "--no-legend", "--plain")
    names = _names(_systemctl("service.get_all", "list-unit-files", *words))
    names |= _names(_systemctl("service.get_all", "list-units", *words))
    return sorted(names)


def get_enabled() -> list[str]:
    """Return the sorted names of the service units enabled at boot.

    CLI example: ``ff '*' service.get_enabled``
    """
    out = _systemctl(
        "service.get_enabled",
        "list-unit-files",
        "--type=service",
        "--state=enabled",
        "--no-legend",
        "--plain",
    )
    return sorted(_names(out))


def available(name: str) -> bool:
    """Return whether a unit ``name`` exists (``LoadState`` is not ``not-found``).

    CLI example: ``ff '*' service.available nginx``
    """
    out = _systemctl(
        "service.available",
        "show",
        "--property=LoadState",
        "--value",
        _unit("service.available", name),
    )
    state = out.stdout.strip()
    return out.retcode == 0 and state not in ("", "not-found")


def missing(name: str) -> bool:
    """Return whether no unit ``name`` exists (the opposite of :func:`available`).

    CLI example: ``ff '*' service.missing nginx``
    """
    return not available(name)
