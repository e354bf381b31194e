"""The SysV ``service`` module and the service states, against a real init script.

systemd is not PID 1 in the test container, so the SysV backend is the one
the loader picks here and the one tested for real. The test does not touch
``/etc``: it writes an init script into tmp_path and points the module's
``INIT_DIR`` and ``RC_ROOT`` constants there (they exist for this). The
script starts and stops a real background ``sleep`` with a pid file, and
logs each action so that restart and reload can be told apart. Boot links
are written by the module itself, since update-rc.d only works on /etc.
The systemd backend is tested with a fake systemctl in test_sys_modules.py.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from fluxforge.errors import ExecutionError
from fluxforge.modules import service_sysv
from fluxforge.plugins.context import JobContext
from fluxforge.testing import job_context

pytestmark = pytest.mark.skipif(
    os.path.isdir("/run/systemd/system"), reason="systemd is PID 1: the SysV backend is not used"
)

SCRIPT = """#!/bin/sh
PIDFILE={run}/daemon.pid
LOG={run}/actions.log
running() {{ [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }}
case "$1" in
  start)
    echo start >> "$LOG"
    running && exit 0
    sleep {secs} </dev/null >/dev/null 2>&1 &
    echo $! > "$PIDFILE"
    ;;
  stop)
    echo stop >> "$LOG"
    if [ -f "$PIDFILE" ]; then kill "$(cat "$PIDFILE")" 2>/dev/null; rm -f "$PIDFILE"; fi
    ;;
  restart) "$0" stop; "$0" start ;;
  reload) echo reload >> "$LOG"; running ;;
  status) running || exit 3 ;;
  *) echo "usage: $0 start|stop|restart|reload|status" >&2; exit 2 ;;
esac
"""


@pytest.fixture
def svc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """A service ``fftest-<random>`` in tmp_path; ``(name, run folder)``. Stopped afterwards."""
    name = f"fftest-{uuid.uuid4().hex[:8]}"
    secs = random.randint(100000, 999999)  # a command line no other process has
    init, run = tmp_path / "init.d", tmp_path / "run"
    init.mkdir()
    run.mkdir()
    script = init / name
    script.write_text(SCRIPT.format(run=run, secs=secs))
    script.chmod(0o755)
    (init / "README").write_text("not a service\n")
    monkeypatch.setattr(service_sysv, "INIT_DIR", str(init))
    monkeypatch.setattr(service_sysv, "RC_ROOT", str(tmp_path / "etc"))
    try:
        yield name, run
    finally:
        pidfile = run / "daemon.pid"
        if pidfile.exists():
            try:
                psutil.Process(int(pidfile.read_text())).kill()
            except psutil.NoSuchProcess:
                pass


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[JobContext]:
    with job_context(tmp_path / "root") as job:
        yield job


def call(job: JobContext, fun: str, /, *args: object, **kwargs: object) -> object:
    return job.funcs.call(fun, list(args), kwargs)


def state(job: JobContext, fun: str, /, *args: object, **kwargs: object) -> dict[str, object]:
    assert job.states is not None
    result: dict[str, object] = job.states[fun](*args, **kwargs)
    assert set(result) == {"name", "result", "changes", "comment"}
    return result


def daemon_pid(run: Path) -> int | None:
    pidfile = run / "daemon.pid"
    if not pidfile.exists():
        return None
    pid = int(pidfile.read_text())
    try:
        alive = psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        alive = False
    return pid if alive else None


def actions(run: Path) -> list[str]:
    log = run / "actions.log"
    return log.read_text().split() if log.exists() else []


def test_loader_picks_sysv_here(ctx: JobContext) -> None:
    assert ctx.funcs["service.start"] is service_sysv.start


def test_start_status_reload_restart_stop(ctx: JobContext, svc: tuple[str, Path]) -> None:
    name, run = svc
    assert call(ctx, "service.get_all") == [name]  # README is not a service
    assert call(ctx, "service.available", name) is True
    assert call(ctx, "service.missing", "nope") is True
    assert call(ctx, "service.status", name) is False
    assert call(ctx, "service.start", name) is True
    first = daemon_pid(run)
    assert first is not None and call(ctx, "service.status", name) is True
    secs = int((run.parent / "init.d" / name).read_text().split("sleep ")[1].split()[0])
    assert call(ctx, "service.status", name, sig=f"^sleep {secs}$") is True
    assert call(ctx, "service.status", name, sig=f"^sleep {secs}0$") is False
    assert call(ctx, "service.reload", name) is True and daemon_pid(run) == first
    assert call(ctx, "service.restart", name) is True
    second = daemon_pid(run)
    assert second is not None and second != first
    assert call(ctx, "service.stop", name) is True
    assert daemon_pid(run) is None and call(ctx, "service.status", name) is False
    assert actions(run) == ["start", "reload", "stop", "start", "stop"]


def test_unknown_service_and_bad_names_are_errors(ctx: JobContext, svc: tuple[str, Path]) -> None:
    with pytest.raises(ExecutionError, match="no init script"):
        call(ctx, "service.start", "nope")
    with pytest.raises(ExecutionError, match="not a service name"):
        call(ctx, "service.start", "../../bin/sh")


def test_enable_disable_write_rc_links(
    ctx: JobContext, svc: tuple[str, Path], tmp_path: Path
) -> None:
    name, _ = svc
    assert call(ctx, "service.enabled", name) is False
    assert call(ctx, "service.enable", name) is True
    assert call(ctx, "service.enabled", name) is True
    assert call(ctx, "service.get_enabled") == [name]
    link = tmp_path / "etc" / "rc2.d" / f"S20{name}"
    assert os.path.realpath(link) == str(tmp_path / "init.d" / name)
    assert call(ctx, "service.disable", name) is True
    assert call(ctx, "service.disabled", name) is True
    assert (tmp_path / "etc" / "rc2.d" / f"K80{name}").is_symlink() and not link.exists()


def test_running_and_dead_predict_apply_and_are_idempotent(
    ctx: JobContext, svc: tuple[str, Path]
) -> None:
    name, run = svc
    ctx.test = True
    ret = state(ctx, "service.running", name, enable=True)
    assert ret["result"] is None and ret["changes"] == {name: True, "enabled": True}
    assert daemon_pid(run) is None and call(ctx, "service.enabled", name) is False
    ctx.test = False
    ret = state(ctx, "service.running", name, enable=True)
    assert ret["result"] is True and ret["changes"] == {name: True, "enabled": True}, ret
    assert daemon_pid(run) is not None and call(ctx, "service.enabled", name) is True
    ret = state(ctx, "service.running", name, enable=True)
    assert ret["result"] is True and ret["changes"] == {}
    ctx.test = True
    ret = state(ctx, "service.dead", name)
    assert ret["result"] is None and ret["changes"] == {name: True}
    ctx.test = False
    ret = state(ctx, "service.dead", name, enable=False)
    assert ret["result"] is True and ret["changes"] == {name: True, "enabled": False}, ret
    assert daemon_pid(run) is None and call(ctx, "service.enabled", name) is False
    assert state(ctx, "service.dead", name, enable=False)["changes"] == {}
    ret = state(ctx, "service.running", "fftest-missing-service")
    assert ret["result"] is False and "not available" in str(ret["comment"])
    assert state(ctx, "service.dead", "fftest-missing-service")["result"] is True


def test_enabled_and_disabled_states(ctx: JobContext, svc: tuple[str, Path]) -> None:
    name, run = svc
    ctx.test = True
    assert state(ctx, "service.enabled", name)["changes"] == {name: True}
    ctx.test = False
    assert state(ctx, "service.enabled", name)["changes"] == {name: True}
    assert state(ctx, "service.enabled", name)["changes"] == {}
    assert state(ctx, "service.disabled", name)["changes"] == {name: True}
    assert state(ctx, "service.disabled", name)["changes"] == {}
    assert daemon_pid(run) is None  # boot settings only


def test_mod_watch_restarts_reloads_or_starts(ctx: JobContext, svc: tuple[str, Path]) -> None:
    name, run = svc
    # A stopped service that should run is started.
    ret = state(ctx, "service.mod_watch", name, sfun="running")
    assert ret["result"] is True and ret["changes"] == {name: True}
    first = daemon_pid(run)
    assert first is not None
    ctx.test = True
    ret = state(ctx, "service.mod_watch", name, sfun="running")
    assert ret["result"] is None and ret["changes"] == {name: True}
    assert daemon_pid(run) == first
    ctx.test = False
    ret = state(ctx, "service.mod_watch", name, sfun="running")
    assert ret["result"] is True and ret["changes"] == {name: True}
    second = daemon_pid(run)
    assert second is not None and second != first
    ret = state(ctx, "service.mod_watch", name, sfun="running", reload=True)
    assert ret["result"] is True and "reloaded" in str(ret["comment"])
    assert daemon_pid(run) == second
    ret = state(ctx, "service.mod_watch", name, sfun="dead")
    assert ret["result"] is True and ret["changes"] == {name: True}
    assert daemon_pid(run) is None
    assert actions(run) == ["start", "stop", "start", "reload", "stop"]
