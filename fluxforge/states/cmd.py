"""Command states: ``cmd.run``, ``cmd.wait``, ``cmd.script`` and their ``mod_watch``.

A command always "changes" something when it runs: its changes are
``{"pid", "retcode", "stdout", "stderr"}``, and a non-zero exit status
fails the state. ``unless``, ``onlyif`` and ``creates`` are the engine's
business: by the time a function here is called, they allowed the run. In
test mode nothing runs: the result is None and the comment says which
command would have been executed.

``cmd.wait`` does nothing by itself; a state it ``watch``es that changed
makes the engine call ``mod_watch``, which runs the command.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from typing import Any

from fluxforge.errors import FluxForgeError
from fluxforge.files.server import DEFAULT_ENV
from fluxforge.plugins.context import current
from fluxforge.plugins.results import unwrap
from fluxforge.plugins.stateresult import StateResult, catch_errors, settle


def _env(env: Any) -> dict[str, str] | None:
    """Salt accepts ``env`` as a mapping or a list of one-key mappings."""
    if env is None or env == "":
        return None
    if isinstance(env, list):
        merged: dict[str, Any] = {}
        for item in env:
            if not isinstance(item, dict):
                raise ValueError(f"env must be a mapping or a list of mappings, got {env!r}")
            merged.update(item)
        env = merged
    if not isinstance(env, dict):
        raise ValueError(f"env must be a mapping or a list of mappings, got {env!r}")
    return {str(k): str(v) for k, v in env.items()}


def _execute(
    name: str,
    cmd: str,
    cwd: str | None,
    env: Any,
    runas: str | None,
    shell: str,
    timeout: float | None,
    stdin: str | None = None,
) -> StateResult:
    """Run ``cmd`` with cmd.run_all and report what happened."""
    value, retcode = unwrap(
        current().funcs["cmd.run_all"](
            cmd,
            cwd=cwd,
            env=_env(env),
            stdin=stdin,
            timeout=timeout,
            runas=runas,
            shell=shell,
        )
    )
    changes = {
        "pid": value["pid"],
        "retcode": retcode,
        "stdout": value["stdout"],
        "stderr": value["stderr"],
    }
    comment = f'Command "{name}" run' + ("" if retcode == 0 else f" and exited {retcode}")
    return StateResult(name, retcode == 0, changes, comment)


def _would_run(name: str, cmd: str) -> StateResult:
    """The plan of a command: nothing to predict but that it runs."""
    return StateResult(name, None, {}, f'Command "{cmd}" would have been executed')


@catch_errors
def run(
    name: str,
    cwd: str | None = None,
    env: Any = None,
    runas: str | None = None,
    shell: str = "/bin/sh",
    timeout: float | None = None,
    stdin: str | None = None,
) -> StateResult:
    """Run the command ``name`` with a shell; the state fails if it exits non-zero.

    ``cwd``: the folder to run in. ``env``: variables set for it (a mapping,
    or a list of one-key mappings as in Salt). ``runas``: the user to run as
    (the minion must be root). ``shell``: the shell that runs it with
    ``-c``. ``timeout``: seconds before it is killed. ``stdin``: text fed to it.
    """
    return settle(
        _would_run(name, name),
        lambda: _execute(name, name, cwd, env, runas, shell, timeout, stdin),
    )


@catch_errors
def wait(
    name: str,
    cwd: str | None = None,
    env: Any = None,
    runas: str | None = None,
    shell: str = "/bin/sh",
    timeout: float | None = None,
    stdin: str | None = None,
) -> StateResult:
    """Run the command ``name`` only when a watched state changed (through :func:`mod_watch`).

    Called by itself it does nothing. The arguments are those of :func:`run`.
    """
    return StateResult(name)


def _fetch(source: str, saltenv: str) -> str | None:
    if source.startswith(("ff://", "salt://")):
        files = current().files
        if files is None:
            raise FluxForgeError(f"no file client to fetch {source}")
        return files.cache_file(source, saltenv)
    return source if os.path.isfile(source) else None


@catch_errors
def script(
    name: str,
    source: str | None = None,
    args: str | None = None,
    cwd: str | None = None,
    env: Any = None,
    runas: str | None = None,
    shell: str = "/bin/sh",
    timeout: float | None = None,
    saltenv: str = DEFAULT_ENV,
) -> StateResult:
    """Fetch a script from the file server and run it; the state fails if it exits non-zero.

    ``source``: the script, ``ff://path`` (or ``salt://``) in the file roots,
    or a local path; by default ``name``. ``args``: text of arguments
    appended to its command line. The script runs with ``shell`` unless it
    starts with ``#!``, in which case it runs as a program. ``cwd``, ``env``,
    ``runas``, ``timeout``: as for :func:`run`. ``saltenv``: the environment
    of the file server (the run's own, by default).
    """
    source = source or name
    path = _fetch(source, saltenv)
    if path is None:
        return StateResult(name, False, {}, f"Unable to fetch the script {source}")
    return settle(
        _would_run(name, f"{source}{' ' + args if args else ''}"),
        lambda: _run_script(name, path, args, cwd, env, runas, shell, timeout),
    )


def _run_script(
    name: str,
    path: str,
    args: str | None,
    cwd: str | None,
    env: Any,
    runas: str | None,
    shell: str,
    timeout: float | None,
) -> StateResult:
    """Run a private copy of the fetched script ``path``, as ``runas`` when given."""
    folder = tempfile.mkdtemp(prefix="ff-script-")
    try:
        copy = os.path.join(folder, os.path.basename(path) or "script")
        shutil.copyfile(path, copy)
        if runas:
            shutil.chown(folder, user=runas)
            shutil.chown(copy, user=runas)
        os.chmod(copy, 0o700)
        with open(copy, "rb") as fh:
            shebang = fh.read(2) == b"#!"
        line = shlex.quote(copy) if shebang else f"{shlex.quote(shell)} {shlex.quote(copy)}"
        if args:
            line = f"{line} {args}"
        return _execute(name, line, cwd, env, runas, shell, timeout)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@catch_errors
def mod_watch(
    name: str, sfun: str | None = None, saltenv: str = DEFAULT_ENV, **kwargs: Any
) -> StateResult:
    """Run the command because a watched state changed.

    Under ``cmd.wait`` and ``cmd.run`` the command runs (again); under
    ``cmd.script`` the script does. ``kwargs`` are the state's arguments.
    """
    allowed = ("cwd", "env", "runas", "shell", "timeout", "stdin")
    if sfun in ("wait", "run", "watch", None):
        return run(name, **{k: v for k, v in kwargs.items() if k in allowed})
    if sfun == "script":
        keep = (*allowed[:-1], "source", "args")
        opts = {k: v for k, v in kwargs.items() if k in keep}
        return script(name, saltenv=saltenv, **opts)
    return StateResult(name, False, {}, f"cmd.{sfun} does not support watch")
