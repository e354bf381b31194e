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
from fluxforge.plugins.stateresult import StateResult, apply_changes, catch_errors, settle


def _call(fun: str, *args: Any) -> Any:
    return current().funcs[f"service.{fun}"](*args)


def _unavailable(name: str) -> StateResult | None:
    if _call("available", name):
        return None
    return StateResult(name, False, {}, f"The named service {name} is not available")


def _boot_change(name: str, enable: bool | None) -> bool | None:
    """The boot setting to apply (True or False), or None when it is as wanted."""
    if enable is None:
        return None
    return None if bool(_call("enabled", name)) is bool(enable) else bool(enable)


def _with_boot(ret: StateResult, boot: bool | None) -> StateResult:
    """Apply a boot change after the start or stop that ``ret`` reports; add it, or its failure."""
    if boot is not None:
        word = "enable" if boot else "disable"
        if _call(word, ret.name):
            ret.changes["enabled"] = boot
            ret.comment += f" Service {ret.name} {word}d at boot."
        else:
            ret.result = False
            ret.comment += f" Failed to {word} service {ret.name}."
    ret.comment = ret.comment.strip()
    return ret


def _predict(name: str, acting: bool, comment: str, boot: bool | None) -> StateResult:
    """The plan of :func:`running` and :func:`dead`: what they would change."""
    changes: dict[str, Any] = {name: True} if acting else {}
    text = comment if acting else ""
    if boot is not None:
        changes["enabled"] = boot
        text += f" Service {name} is set to be {'en' if boot else 'dis'}abled."
    return StateResult(name, None, changes, text.strip())


def _conclude(
    name: str, boot: bool | None, ok: bool | None, done: str, failed: str, already: str
) -> StateResult:
    """Report a start or stop (``ok``; None when there was none to do), then the boot change."""
    if ok is None:
        ret = StateResult(name, True, {}, already)
    elif ok:
        ret = StateResult(name, True, {name: True}, done)
    else:
        ret = StateResult(name, False, {}, failed)
    return _with_boot(ret, boot)


def _wait(init_delay: float | None) -> None:
    if init_delay and current().cancelled.wait(float(init_delay)):
        raise RuntimeError("cancelled while waiting init_delay")


@catch_errors
def running(
    name: str, enable: bool | None = None, sig: str | None = None, init_delay: float | None = None
) -> StateResult:
    """Ensure that the service ``name`` runs.

    ``enable``: True also makes it start at boot, False makes it not; by
    default the boot setting is left alone. ``sig``: a regular expression
    of its command line, to tell whether it runs when its init script
    cannot. ``init_delay``: seconds to wait after starting it before
    checking that it runs.
    """
    unavailable = _unavailable(name)
    if unavailable is not None:
        return unavailable
    start = not _call("status", name, sig)
    boot = _boot_change(name, enable)
    if not start and boot is None:
        return StateResult(name, comment=f"The service {name} is already running")

    def act() -> StateResult:
        ok = None
        if start:
            started = _call("start", name)
            _wait(init_delay)
            ok = bool(started and _call("status", name, sig))
        return _conclude(
            name,
            boot,
            ok,
            f"Started service {name}.",
            f"Service {name} failed to start.",
            f"The service {name} is already running.",
        )

    return settle(_predict(name, start, f"Service {name} is set to start.", boot), act)


@catch_errors
def dead(name: str, enable: bool | None = None, sig: str | None = None) -> StateResult:
    """Ensure that the service ``name`` is stopped.

    ``enable``: False also makes it not start at boot, True makes it start
    at boot; by default the boot setting is left alone. A service that
    does not exist is as dead as it gets: nothing to do. ``sig`` as for
    :func:`running`.
    """
    if not _call("available", name):
        return StateResult(name, comment=f"The named service {name} is not available")
    stop = bool(_call("status", name, sig))
    boot = _boot_change(name, enable)
    if not stop and boot is None:
        return StateResult(name, comment=f"The service {name} is already dead")

    def act() -> StateResult:
        ok = None
        if stop:
            ok = bool(_call("stop", name) and not _call("status", name, sig))
        return _conclude(
            name,
            boot,
            ok,
            f"Service {name} was killed.",
            f"Service {name} failed to die.",
            f"The service {name} is already dead.",
        )

    return settle(_predict(name, stop, f"Service {name} is set to be killed.", boot), act)


def _boot_state(name: str, on: bool) -> StateResult:
    word = "enabled" if on else "disabled"
    unavailable = _unavailable(name)
    if unavailable is not None:
        return unavailable

    def act() -> StateResult | None:
        if not _call("enable" if on else "disable", name):
            return StateResult(name, False, {}, f"Failed to make service {name} {word}")
        return None

    return apply_changes(
        name,
        {} if bool(_call("enabled", name)) is on else {name: True},
        act,
        ok=f"Service {name} is already {word}",
        done=f"Service {name} has been {word}",
        predicted=f"Service {name} set to be {word}",
    )


@catch_errors
def enabled(name: str) -> StateResult:
    """Ensure that the service ``name`` starts at boot; whether it runs now is left alone."""
    return _boot_state(name, True)


@catch_errors
def disabled(name: str) -> StateResult:
    """Ensure that the service ``name`` does not start at boot; whether it runs is left alone."""
    return _boot_state(name, False)


@catch_errors
def mod_watch(
    name: str,
    sfun: str | None = None,
    sig: str | None = None,
    reload: bool = False,
    full_restart: bool = False,
    init_delay: float | None = None,
    enable: bool | None = None,
    **kwargs: Any,
) -> StateResult:
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
            return StateResult(name, False, {}, f"Unable to trigger watch for service.{sfun}")
        return other(name)
    unavailable = _unavailable(name)
    if unavailable is not None:
        return unavailable
    if not _call("status", name, sig):
        return running(name, enable=enable, sig=sig, init_delay=init_delay)
    verb, action = ("reloaded", "reload") if reload else ("restarted", "restart")
    boot = _boot_change(name, enable)
    predicted: dict[str, Any] = {name: True}
    if boot is not None:
        predicted["enabled"] = boot

    def act() -> StateResult:
        if action == "restart" and full_restart:
            done = _call("stop", name) and _call("start", name)
        else:
            done = _call(action, name)
        _wait(init_delay)
        if not done or not _call("status", name, sig):
            ret = StateResult(name, False, {}, f"Service {name} failed to be {verb}.")
        else:
            ret = StateResult(name, True, {name: True}, f"Service {name} {verb}.")
        return _with_boot(ret, boot)

    return settle(StateResult(name, None, predicted, f"Service is set to be {verb}"), act)
