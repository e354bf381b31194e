"""Run shell commands on the minion.

Every function runs the command through :func:`fluxforge.host.procs.execute`:
in its own process group, with stdin from ``stdin`` (or nothing), output
decoded as UTF-8. A timeout or a cancelled job kills the whole group, so a
command's children do not outlive it. Functions return a
:class:`~fluxforge.plugins.results.Result` whose retcode is
the command's exit status, so a failing command fails the job.

``cmd.script`` and ``cmd.exec_code`` write what they run to a private
temporary folder (mode 0700, the file 0500, owned by ``runas`` when given)
that is removed once the command ends.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shlex
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

from fluxforge.errors import ExecutionError, FileServerError
from fluxforge.files.server import DEFAULT_ENV
from fluxforge.host.procs import execute
from fluxforge.plugins.context import current
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


def shell(
    cmd: str,
    cwd: str | None = None,
    env: dict[str, Any] | None = None,
    stdin: str | None = None,
    timeout: float | None = None,
    runas: str | None = None,
    shell: str = "/bin/sh",
) -> Result:
    """Run ``cmd`` with the shell, always, and return its output as :func:`run` does.

    Salt's ``cmd.shell``: pipes, redirections and globs work; there is no
    ``python_shell`` to turn the shell off. The parameters are those of
    :func:`run`.

    CLI example: ``ff '*' cmd.shell 'ls /etc | wc -l'``
    """
    out = execute("cmd.shell", cmd, cwd, env, stdin, timeout, runas, shell, True, True)
    return Result(out.stdout, out.retcode)


@contextlib.contextmanager
def _private_file(
    fname: str, text: str | None, source: str | None, runas: str | None
) -> Iterator[str]:
    """A file only its runner can read, with ``text`` or a copy of ``source``; removed after.

    With ``runas`` (the minion being root) that user owns the folder and the file.
    """
    folder = tempfile.mkdtemp(prefix="ff-cmd-")
    try:
        path = os.path.join(folder, os.path.basename(source or "") or "code")
        try:
            if source is not None:
                shutil.copyfile(source, path)
            else:
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(text or "")
            os.chmod(path, 0o500)
            if runas and os.geteuid() == 0:  # otherwise the runner refuses runas itself
                user = pwd.getpwnam(runas)
                os.chown(folder, user.pw_uid, user.pw_gid)
                os.chown(path, user.pw_uid, user.pw_gid)
        except KeyError:
            raise ExecutionError(f"{fname}: unknown user {runas!r}")
        except OSError as exc:
            raise ExecutionError(f"{fname}: cannot write the file to run: {exc.strerror or exc}")
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _script_source(source: str, saltenv: str) -> str | None:
    """The local path of a script: an ``ff://``/``salt://`` file cached from the master,
    or an absolute path on the minion; None when there is no such file."""
    if os.path.isabs(source):
        return source if os.path.isfile(source) else None
    files = current().files
    if files is None:
        raise ExecutionError(
            "cmd.script needs a file client for a file-server source "
            "(a running minion, or ff-call --local with file_roots)"
        )
    try:
        local: str | None = files.cache_file(source, saltenv)
    except FileServerError as exc:
        raise ExecutionError(f"cmd.script: {exc}")
    return local


def _words(fname: str, args: Any) -> list[str]:
    """Script arguments: a text split as a shell would, or a list of words."""
    if args is None:
        return []
    if isinstance(args, list | tuple):
        return [str(word) for word in args]
    try:
        return shlex.split(str(args))
    except ValueError as exc:
        raise ExecutionError(f"{fname}: cannot split args {args!r} into words: {exc}")


def script(
    source: str,
    args: Any = None,
    cwd: str | None = None,
    env: dict[str, Any] | None = None,
    stdin: str | None = None,
    timeout: float | None = None,
    runas: str | None = None,
    saltenv: str = DEFAULT_ENV,
) -> Result:
    """Fetch the script ``source`` and run it; return ``{pid, retcode, stdout, stderr}``.

    ``source`` is an ``ff://``/``salt://`` file of the master's file server
    (in ``saltenv``) or an absolute path on the minion. The script is run
    directly, so its first line picks the interpreter. ``args``: its
    arguments, a text split as a shell would (``"one 'two words'"``) or a
    list. ``cwd``, ``env``, ``stdin``, ``timeout`` and ``runas`` are as for
    :func:`run`. The job's retcode is the script's exit status. A source that
    does not exist returns Salt's shape, retcode 1 and ``cache_error: True``,
    with ``stderr`` saying what was missing.

    CLI example: ``ff '*' cmd.script ff://scripts/report.sh "--since '1 day'"``
    """
    words = _words("cmd.script", args)
    local = _script_source(source, saltenv)
    if local is None:
        missing = {
            "pid": 0,
            "retcode": 1,
            "stdout": "",
            "stderr": f"cmd.script: {source} does not exist",
            "cache_error": True,
        }
        return Result(missing, 1)
    with _private_file("cmd.script", None, local, runas) as path:
        cmd = shlex.join([path, *words])
        out = execute("cmd.script", cmd, cwd, env, stdin, timeout, runas, "/bin/sh", False)
    return _all_of(out)


def _all_of(out: Any) -> Result:
    """``{pid, retcode, stdout, stderr}`` of a finished command, as Salt's ``*_all`` return."""
    value = {"pid": out.pid, "retcode": out.retcode, "stdout": out.stdout, "stderr": out.stderr}
    return Result(value, out.retcode)


def exec_code_all(
    lang: str,
    code: str,
    cwd: str | None = None,
    args: Any = None,
    env: dict[str, Any] | None = None,
    stdin: str | None = None,
    timeout: float | None = None,
    runas: str | None = None,
) -> Result:
    """Run ``code`` with the interpreter ``lang``; return ``{pid, retcode, stdout, stderr}``.

    The code is written to a file and run as ``lang FILE ARGS...``, without a
    shell. ``args``: a text (one argument, as in Salt) or a list. The other
    parameters are as for :func:`run`.

    CLI example: ``ff '*' cmd.exec_code_all python3 'import sys; print(sys.version)'``
    """
    if not isinstance(lang, str) or not lang.strip():
        raise ExecutionError(f"cmd.exec_code: lang must name an interpreter, got {lang!r}")
    extra = [args] if isinstance(args, str) else _words("cmd.exec_code", args)
    with _private_file("cmd.exec_code", code, None, runas) as path:
        cmd = shlex.join([*shlex.split(lang), path, *extra])
        out = execute("cmd.exec_code", cmd, cwd, env, stdin, timeout, runas, "/bin/sh", False)
    return _all_of(out)


def exec_code(
    lang: str,
    code: str,
    cwd: str | None = None,
    args: Any = None,
    env: dict[str, Any] | None = None,
    stdin: str | None = None,
    timeout: float | None = None,
    runas: str | None = None,
) -> Result:
    """Run ``code`` with the interpreter ``lang`` as :func:`exec_code_all` does; return stdout.

    CLI example: ``ff '*' cmd.exec_code python3 'print(6 * 7)'``
    """
    result = exec_code_all(lang, code, cwd, args, env, stdin, timeout, runas)
    return Result(result.value["stdout"], result.retcode)
