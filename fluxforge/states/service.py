"""Service states: ``service.running``, ``service.dead``, ``service.enabled``, ``service.disabled``.

They work through the ``service`` execution module, so the same SLS drives
systemd and SysV init hosts. Changes, as in Salt: ``{name: True}`` when the
service was started or stopped (``service.enabled``/``disabled``: when its
boot setting changed), plus ``{"enabled": True|False}`` when ``running``
or ``dead`` also changed whether it starts at boot (``enable=...``).

``mod_watch`` runs when a watched state changed: a running service is
restarted (or reloaded, with ``reload: True``; stopped then started, with
``full_restart: True``), a stopped one that should run is started, and
under ``service.dead`` a running one is stopped.
"""

from __future__ import annotations

from typing import Any

from fluxforge.plugins.context import current


def _ret(name: str) -> dict[str, Any]:
    return {"name": name, "result": True, "changes": {}, "comment": ""}


def _call(fun: str, *args: Any) -> Any:
    return current().funcs[f"service.{fun}"](*args)


def _unavailable(ret: dict[str, Any], name: str) -> dict[str, Any] | None:
    if _call("available", name):
        return None
    ret.update(result=False, comment=f"The named service {name} is not available")
    return ret


def _boot_change(name: str, enable: bool | None) -> bool | None:
    """The boot setting to apply (True or False), or None when it is as wanted."""
    if enable is None:
        return None
    return None if bool(_call("enabled", name)) is bool(enable) else bool(enable)


def _apply_boot(ret: dict[str, Any], name: str, boot: bool | None) -> bool:
    """Apply a boot change; record it, or the failure, in ``ret``. False when it failed."""
    if boot is None:
        return True
    if not _call("enable" if boot else "disable", name):
        ret["result"] = False
        ret["comment"] += f" Failed to {'enable' if boot else 'disable'} service {name}."
        return False
    ret["changes"]["enabled"] = boot
    ret["comment"] += f" Service {name} {'enabled' if boot else 'disabled'} at boot."
    return True


def _finish(ret: dict[str, Any]) -> dict[str, Any]:
    ret["comment"] = ret["comment"].strip()
    return ret


def _predict(
    ret: dict[str, Any], name: str, acting: bool, comment: str, boot: bool | None
) -> dict[str, Any]:
    """The test-mode return of :func:`running` and :func:`dead`: what they would change."""
    ret["result"] = None
    if acting:
        ret["changes"][name] = True
        ret["comment"] = comment
    if boot is not None:
        ret["changes"]["enabled"] = boot
        ret["comment"] += f" Service {name} is set to be {'en' if boot else 'dis'}abled."
    return _finish(ret)


def _conclude(
    ret: dict[str, Any],
    name: str,
    boot: bool | None,
    ok: bool | None,
    done: str,
    failed: str,
    already: str,
) -> dict[str, Any]:
    """Record a start or stop (``ok``; None when there was none to do), then the boot change."""
    if ok is None:
        ret["comment"] = already
    elif ok:
        ret["changes"][name] = True
        ret["comment"] = done
    else:
        ret.update(result=False, comment=failed)
    _apply_boot(ret, name, boot)
    return _finish(ret)


def _wait(init_delay: float | None) -> None:
    if init_delay and current().cancelled.wait(float(init_delay)):
        raise RuntimeError("cancelled while waiting init_delay")


def running(
    name: str, enable: bool | None = None, sig: str | None = None, init_delay: float | None = None
) -> dict[str, Any]:
    """Ensure that the service ``name`` runs.

    ``enable``: True also makes it start at boot, False makes it not; by
    default the boot setting is left alone. ``sig``: a regular expression
    of its command line, to tell whether it runs when its init script
    cannot. ``init_delay``: seconds to wait after starting it before
    checking that it runs.
    """
    ctx = current()
    ret = _ret(name)
    if _unavailable(ret, name):
        return ret
    start = not _call("status", name, sig)
    boot = _boot_change(name, enable)
    if not start and boot is None:
        ret["comment"] = f"The service {name} is already running"
        return ret
    if ctx.test:
        return _predict(ret, name, start, f"Service {name} is set to start.", boot)
    ok = None
    if start:
        started = _call("start", name)
        _wait(init_delay)
        ok = bool(started and _call("status", name, sig))
    return _conclude(
        ret,
        name,
        boot,
        ok,
        f"Started service {name}.",
        f"Service {name} failed to start.",
        f"The service {name} is already running.",
    )


def dead(name: str, enable: bool | None = None, sig: str | None = None) -> dict[str, Any]:
    """Ensure that the service ``name`` is stopped.

    ``enable``: False also makes it not start at boot, True makes it start
    at boot; by default the boot setting is left alone. A service that
    does not exist is as dead as it gets: nothing to do. ``sig`` as for
    :func:`running`.
    """
    ctx = current()
    ret = _ret(name)
    if not _call("available", name):
        ret["comment"] = f"The named service {name} is not available"
        return ret
    stop = bool(_call("status", name, sig))
    boot = _boot_change(name, enable)
    if not stop and boot is None:
        ret["comment"] = f"The service {name} is already dead"
        return ret
    if ctx.test:
        return _predict(ret, name, stop, f"Service {name} is set to be killed.", boot)
    ok = None
    if stop:
        ok = bool(_call("stop", name) and not _call("status", name, sig))
    return _conclude(
        ret,
        name,
        boot,
        ok,
        f"Service {name} was killed.",
        f"Service {name} failed to die.",
        f"The service {name} is already dead.",
    )


def _boot_state(name: str, on: bool) -> dict[str, Any]:
    ctx = current()
    ret = _ret(name)
    word = "enabled" if on else "disabled"
    if _unavailable(ret, name):
        return ret
    if bool(_call("enabled", name)) is on:
        ret["comment"] = f"Service {name} is already {word}"
        return ret
    if ctx.test:
        ret.update(result=None, changes={name: True}, comment=f"Service {name} set to be {word}")
        return ret
    if not _call("enable" if on else "disable", name):
        ret.update(result=False, comment=f"Failed to make service {name} {word}")
        return ret
    ret.update(changes={name: True}, comment=f"Service {name} has been {word}")
    return ret


def enabled(name: str) -> dict[str, Any]:
    """Ensure that the service ``name`` starts at boot; whether it runs now is left alone."""
    return _boot_state(name, True)


def disabled(name: str) -> dict[str, Any]:
    """Ensure that the service ``name`` does not start at boot; whether it runs is left alone."""
    return _boot_state(name, False)


def mod_watch(
    name: str,
    sfun: str | None = None,
    sig: str | None = None,
    reload: bool = False,
    full_restart: bool = False,
    init_delay: float | None = None,
    enable: bool | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """React to a change in a watched state: restart, reload, start or stop ``name``.

    ``sfun`` is the state function of the SLS. Under ``running``: restart
    the service (``reload: True`` reloads it instead, ``full_restart: True``
    stops then starts it), or start it if it is stopped; ``enable`` is
    applied as :func:`running` does. Under ``dead``: stop it if it runs.
    Under any other function, that function runs as usual.
    """
    if sfun == "dead":
        return dead(name, enable=enable, sig=sig)
    if sfun not in ("running", None):
        other = {"enabled": enabled, "disabled": disabled}.get(sfun)
        if other is None:
            ret = _ret(name)
            ret.update(result=False, comment=f"Unable to trigger watch for service.{sfun}")
            return ret
        return other(name)
    ret = _ret(name)
    if _unavailable(ret, name):
        return ret
    if not _call("status", name, sig):
        return running(name, enable=enable, sig=sig, init_delay=init_delay)
    verb, action = ("reloaded", "reload") if reload else ("restarted", "restart")
    boot = _boot_change(name, enable)
    if current().test:
        ret.update(result=None, changes={name: True}, comment=f"Service is set to be {verb}")
        if boot is not None:
            ret["changes"]["enabled"] = boot
        return ret
    if action == "restart" and full_restart:
        done = _call("stop", name) and _call("start", name)
    else:
        done = _call(action, name)
    _wait(init_delay)
    if not done or not _call("status", name, sig):
        ret.update(result=False, comment=f"Service {name} failed to be {verb}.")
    else:
        ret.update(changes={name: True}, comment=f"Service {name} {verb}.")
    _apply_boot(ret, name, boot)
    return _finish(ret)
