"""Running commands on the minion: the one place that spawns a process.

:func:`execute` checks a command's arguments and hands the resulting
:class:`Command` to the job's command runner, ``current().command_runner``.
That is :func:`spawn` unless the job says otherwise (a test passes a fake
runner in its :class:`~fluxforge.plugins.context.JobContext`); so every
command a module runs goes through this one seam. :func:`spawn` runs the
command in its own process group, with stdin from ``stdin`` (or nothing),
output decoded as UTF-8. A timeout or a cancelled job
(``current().cancelled``) kills the whole group, so a command's children do
not outlive it; output pipes that a background process keeps open are given
up :data:`DRAIN_GRACE` seconds after the command ends. A runner returns an
:class:`Outcome` (stdout, stderr, exit status, pid). :func:`run_argv` runs
a system tool's argument list without a shell, and :func:`run_checked`
also raises with the tool's complaint when it fails.

The ``cmd`` execution module is built on it, and so are the modules that
run system tools (``user``, ``group``, ``network``, ``pkg_apt``,
``pkg_dnf``, ``service_systemd``, ``service_sysv``). This is a library
module, not an execution module: the loader does not expose it.
"""

from __future__ import annotations

import logging
import os
import pwd
import select
import selectors
import shlex
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fluxforge.errors import ExecutionError
from fluxforge.plugins.context import current

log = logging.getLogger(__name__)

TIMEOUT_RETCODE = 124  # the exit status reported for a command killed by its timeout
_POLL = 0.1
DRAIN_GRACE = 2.0  # seconds to wait for output pipes once the command itself has ended


@dataclass
class Outcome:
    """What a command printed, its exit status and its process id."""

    stdout: str
    stderr: str
    retcode: int
    pid: int


@dataclass
class Command:
    """A command whose arguments :func:`execute` has checked, for a command runner to run.

    ``fname`` (such as ``cmd.run``) starts every error and log line.
    ``env`` is set over the minion's environment. ``runas`` is a user to
    switch to (it exists and the minion may switch to it), or None.
    ``merge_stderr`` sends stderr into stdout.
    """

    fname: str
    argv: list[str]
    cwd: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    stdin: str | None = None
    timeout: float | None = None
    runas: str | None = None
    merge_stderr: bool = False


# What ``JobContext.command_runner`` holds: :func:`spawn`, or a stand-in for tests.
CommandRunner = Callable[[Command], Outcome]


def _user_env(fname: str, runas: str | None) -> tuple[dict[str, Any], dict[str, str]]:
    """Popen arguments and environment to run as ``runas``; empty when not switching user."""
    if not runas:
        return {}, {}
    try:
        entry = pwd.getpwnam(runas)
    except KeyError:
        raise ExecutionError(f"{fname}: runas user {runas!r} does not exist")
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid()).pw_name
        if entry.pw_uid == os.geteuid():
            return {}, {}
        raise ExecutionError(
            f"{fname}: cannot run as {runas!r}: the minion runs as {me!r}, not root"
        )
    popen = {
        "user": entry.pw_uid,
        "group": entry.pw_gid,
        "extra_groups": os.getgrouplist(entry.pw_name, entry.pw_gid),
    }
    env = {"HOME": entry.pw_dir, "USER": entry.pw_name, "LOGNAME": entry.pw_name}
    return popen, env


def _argv(fname: str, cmd: str, shell: str, python_shell: bool) -> list[str]:
    if not isinstance(cmd, str) or not cmd.strip():
        raise ExecutionError(f"{fname}: the command must be non-empty text, got {cmd!r}")
    if python_shell:
        return [shell, "-c", cmd]
    try:
        return shlex.split(cmd)
    except ValueError as exc:
        raise ExecutionError(f"{fname}: cannot split {cmd!r} into arguments: {exc}")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class _Pipes:
    """Feed a process's stdin and collect its stdout and stderr without blocking."""

    def __init__(self, proc: subprocess.Popen[bytes], stdin: bytes | None) -> None:
        self.proc = proc
        self.selector = selectors.DefaultSelector()
        self.output: dict[Any, list[bytes]] = {}
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                self.output[stream] = []
                self.selector.register(stream, selectors.EVENT_READ)
        self.pending = memoryview(stdin or b"")
        if proc.stdin is not None:
            if self.pending:
                self.selector.register(proc.stdin, selectors.EVENT_WRITE)
            else:
                proc.stdin.close()

    def open(self) -> bool:
        """Whether some pipe is still open."""
        return bool(self.selector.get_map())

    def pump(self, wait: float) -> None:
        """Move data for up to ``wait`` seconds; a pipe that reaches its end is closed."""
        for key, _ in self.selector.select(wait):
            stream = key.fileobj
            if stream is self.proc.stdin:
                try:
                    written = os.write(key.fd, self.pending[: select.PIPE_BUF])
                    self.pending = self.pending[written:]
                except BrokenPipeError:
                    self.pending = self.pending[:0]
                if not self.pending:
                    self._close(stream)
                continue
            chunk = os.read(key.fd, 65536)
            if chunk:
                self.output[stream].append(chunk)
            else:
                self._close(stream)

    def _close(self, stream: Any) -> None:
        self.selector.unregister(stream)
        stream.close()

    def close(self) -> tuple[bytes, bytes]:
        """Close every pipe and return what was read from stdout and stderr."""
        for key in list(self.selector.get_map().values()):
            self._close(key.fileobj)
        self.selector.close()
        out = b"".join(self.output.get(self.proc.stdout, []))
        err = b"".join(self.output.get(self.proc.stderr, []))
        return out, err


def _wait(
    fname: str, proc: subprocess.Popen[bytes], stdin: bytes | None, timeout: float | None
) -> tuple[bytes, bytes, str]:
    """Collect output until the command ends, times out or the job is cancelled.

    Returns stdout, stderr and why the command was stopped ("" if it ended by
    itself). Output pipes that a background process keeps open are given up
    :data:`DRAIN_GRACE` seconds after the command itself has ended.
    """
    cancelled = current().cancelled
    start = time.monotonic()
    pipes = _Pipes(proc, stdin)
    stopped = ""
    ended_at: float | None = None
    try:
        while pipes.open() or proc.poll() is None:
            if pipes.open():
                pipes.pump(_POLL)
            else:
                try:
                    proc.wait(_POLL)
                except subprocess.TimeoutExpired:
                    pass
            now = time.monotonic()
            if not stopped:
                if cancelled.is_set():
                    stopped = "cancelled"
                elif timeout is not None and now - start >= timeout:
                    stopped = f"timed out after {timeout:g} s"
                if stopped:
                    log.info("%s: %s; killing process group %d", fname, stopped, proc.pid)
                    _kill_group(proc)
            if ended_at is None and proc.poll() is not None:
                ended_at = now
            if ended_at is not None and now - ended_at >= DRAIN_GRACE:
                log.warning("%s: a background process keeps the output open; not waiting", fname)
                break
    finally:
        out, err = pipes.close()
        if proc.poll() is None:
            _kill_group(proc)
        proc.wait()
    return out, err, stopped


def execute(
    fname: str,
    cmd: str,
    cwd: str | None,
    env: dict[str, Any] | None,
    stdin: str | None,
    timeout: float | None,
    runas: str | None,
    shell: str,
    python_shell: bool,
    merge_stderr: bool = False,
) -> Outcome:
    """Run ``cmd`` through the job's command runner; what it printed and its exit status.

    ``fname`` (such as ``cmd.run``) starts every error and log line.
    ``python_shell`` runs ``cmd`` with ``shell -c``; otherwise it is split
    into arguments and run without a shell. ``env`` is set over the minion's
    environment; ``runas`` switches user (the minion must be root);
    ``merge_stderr`` sends stderr into stdout. A timeout kills the process
    group and gives :data:`TIMEOUT_RETCODE` with a note in the output; a
    cancelled job kills it and raises. Bad arguments, an unknown user or a
    command that cannot start raise a one-line
    :class:`~fluxforge.errors.ExecutionError`.
    """
    argv = _argv(fname, cmd, shell, python_shell)
    if cwd is not None and not os.path.isdir(cwd):
        raise ExecutionError(f"{fname}: cwd '{cwd}' does not exist")
    if env is not None and not isinstance(env, dict):
        raise ExecutionError(f"{fname}: env must be a mapping of names to values, got {env!r}")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float)):
        raise ExecutionError(f"{fname}: timeout must be a number of seconds, got {timeout!r}")
    user_args, user_env = _user_env(fname, runas)
    command = Command(
        fname,
        argv,
        cwd,
        {**user_env, **{str(k): str(v) for k, v in (env or {}).items()}},
        stdin,
        timeout,
        runas if user_args else None,
        merge_stderr,
    )
    log.debug("%s: running %r", fname, argv)
    return current().command_runner(command)


def spawn(command: Command) -> Outcome:
    """The real command runner: start ``command`` in its own process group and wait for it.

    See :func:`execute`, which checks the arguments first.
    """
    fname, argv = command.fname, command.argv
    user_args, _ = _user_env(fname, command.runas)
    try:
        proc = subprocess.Popen(
            argv,
            cwd=command.cwd,
            env={**os.environ, **command.env},
            stdin=subprocess.DEVNULL if command.stdin is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if command.merge_stderr else subprocess.PIPE,
            start_new_session=True,
            **user_args,
        )
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename and exc.filename != argv[0] else ""
        raise ExecutionError(f"{fname}: cannot start {argv[0]!r}: {exc.strerror or exc}{where}")
    stdin = None if command.stdin is None else command.stdin.encode()
    out, err, stopped = _wait(fname, proc, stdin, command.timeout)
    stdout = out.decode("utf-8", errors="replace").rstrip("\n")
    stderr = err.decode("utf-8", errors="replace").rstrip("\n")
    if stopped == "cancelled":
        raise ExecutionError(f"{fname}: cancelled; the command was killed")
    if stopped:
        note = f"{fname}: {stopped}"
        if command.merge_stderr:
            stdout = f"{stdout}\n{note}".lstrip("\n")
        else:
            stderr = f"{stderr}\n{note}".lstrip("\n")
        return Outcome(stdout, stderr, TIMEOUT_RETCODE, proc.pid)
    return Outcome(stdout, stderr, proc.returncode, proc.pid)


def run_argv(
    fname: str,
    argv: list[str],
    env: dict[str, Any] | None = None,
    cwd: str | None = None,
    timeout: float | None = None,
) -> Outcome:
    """Run the system tool ``argv`` without a shell, through :func:`execute`.

    What the modules that run system tools (``pkg``, ``service``, ``user``,
    ``group``) use: their own process group, killed if the job is cancelled.
    """
    return execute(fname, shlex.join(argv), cwd, env, None, timeout, None, "/bin/sh", False)


def run_checked(fname: str, argv: list[str], timeout: float | None = None) -> None:
    """Run ``argv`` in ``/`` with ``LC_ALL=C``; raise with its complaint when it fails.

    The error is ``fname: tool exited N: <its output on one line>``.
    """
    out = run_argv(fname, argv, {"LC_ALL": "C"}, "/", timeout)
    if out.retcode != 0:
        text = (out.stderr or out.stdout).strip().replace("\n", "; ")
        raise ExecutionError(f"{fname}: {argv[0]} exited {out.retcode}: {text or 'no output'}")
