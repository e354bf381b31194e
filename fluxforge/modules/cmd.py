"""Run shell commands on the minion.

Every function runs the command through :func:`fluxforge.host.procs.execute`:
in its own process group, with stdin from ``stdin`` (or nothing), output
decoded as UTF-8. A timeout or a cancelled job kills the whole group, so a
command's children do not outlive it. Functions return a
:class:`~fluxforge.plugins.results.Result` whose retcode is
the command's exit status, so a failing command fails the job.
"""

from __future__ import annotations

from typing import Any

from fluxforge.host.procs import execute
from fluxforge.plugins.results import Result


def run(
    cmd: str,
    cwd: str | None = None,
    env: dict[str, Any] | None = None,
    stdin: str | None = None,
    timeout: float | None = None,
    runas: str | None = None,
    shell: str = "/bin/sh",
    python_shell: bool = True,
) -> Result:
    """Run ``cmd`` and return its output (stdout and stderr together, as in Salt).

    The job's retcode is the command's exit status; a timeout gives 124.
    ``cwd``: directory to run in. ``env``: variables set over the minion's
    environment. ``stdin``: text fed to the command. ``timeout``: seconds
    before the command and its children are killed. ``runas``: user to run
    as (the minion must be root). ``shell``: the shell that runs ``cmd``
    with ``-c``. ``python_shell=False``: split ``cmd`` into arguments and
    run it without a shell.

    CLI example: ``ff '*' cmd.run 'ls -l /etc' cwd=/ timeout=10``
    """
    out = execute("cmd.run", cmd, cwd, env, stdin, timeout, runas, shell, python_shell, True)
    return Result(out.stdout, out.retcode)


def run_stdout(
    cmd: str,
    cwd: str | None = None,
    env: dict[str, Any] | None = None,
    stdin: str | None = None,
    timeout: float | None = None,
    runas: str | None = None,
    shell: str = "/bin/sh",
    python_shell: bool = True,
) -> Result:
    """Run ``cmd`` as :func:`run` does and return its stdout only.

    CLI example: ``ff '*' cmd.run_stdout 'uname -r'``
    """
    out = execute("cmd.run_stdout", cmd, cwd, env, stdin, timeout, runas, shell, python_shell)
    return Result(out.stdout, out.retcode)


def run_all(
    cmd: str,
    cwd: str | None = None,
    env: dict[str, Any] | None = None,
    stdin: str | None = None,
    timeout: float | None = None,
    runas: str | None = None,
    shell: str = "/bin/sh",
    python_shell: bool = True,
) -> Result:
    """Run ``cmd`` as :func:`run` does and return ``{stdout, stderr, retcode, pid}``.

    CLI example: ``ff '*' cmd.run_all 'make test' cwd=/srv/app``
    """
    out = execute("cmd.run_all", cmd, cwd, env, stdin, timeout, runas, shell, python_shell)
    value = {"stdout": out.stdout, "stderr": out.stderr, "retcode": out.retcode, "pid": out.pid}
    return Result(value, out.retcode)


def retcode(
    cmd: str,
    cwd: str | None = None,
    env: dict[str, Any] | None = None,
    stdin: str | None = None,
    timeout: float | None = None,
    runas: str | None = None,
    shell: str = "/bin/sh",
    python_shell: bool = True,
) -> Result:
    """Run ``cmd`` as :func:`run` does and return its exit status only.

    CLI example: ``ff '*' cmd.retcode 'test -f /etc/motd'``
    """
    out = execute("cmd.retcode", cmd, cwd, env, stdin, timeout, runas, shell, python_shell)
    return Result(out.retcode, out.retcode)
