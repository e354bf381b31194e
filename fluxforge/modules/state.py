"""Apply state trees: the highstate, some SLS, or one state; and show what they compile to.

A run renders the SLS files through the file client (the master's file
server, or the local ``file_roots`` masterless), compiles them and runs
the states in order (see :mod:`fluxforge.highstate`). Its return is a
mapping of results keyed ``<module>_|-<id>_|-<name>_|-<function>``, each
``{name, result, changes, comment, duration, start_time, __run_num__,
__id__, __sls__}``. Retcodes: 0 when every state succeeded (``result``
None counts as success in test mode), 2 when a state failed, 1 when the
tree did not render or compile, or the pillar did not (the return is then
a list of error lines).

Only one state run at a time per minion id: a second one fails at once
naming the running job, unless ``queue=True``, which waits for it.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from fluxforge.errors import ExecutionError
from fluxforge.highstate import engine
from fluxforge.highstate.compiler import CompileError
from fluxforge.pillar.data import merge
from fluxforge.plugins.context import JobContext, activate, current, deactivate
from fluxforge.plugins.results import Result
from fluxforge.render.untrusted import taint

RETCODE_ERROR = 1
RETCODE_FAILED = 2
_QUEUE_POLL = 0.2

# One lock per minion id: the minions of a swarm share this process.
_locks: dict[str, threading.Lock] = {}
_running: dict[str, str] = {}
_registry = threading.Lock()


@contextmanager
def _one_run(ctx: JobContext, fun: str, queue: bool) -> Iterator[None]:
    """Hold the state-run lock of this minion for the block."""
    with _registry:
        lock = _locks.setdefault(ctx.opts.id, threading.Lock())
    if not lock.acquire(blocking=False):
        if not queue:
            with _registry:
                jid = _running.get(ctx.opts.id, "")
            raise ExecutionError(
                f"{fun}: a state run is already running on {ctx.opts.id!r} "
                f"(jid {jid or 'unknown'}); wait for it, or pass queue=True to run after it"
            )
        while not lock.acquire(timeout=_QUEUE_POLL):
            if ctx.cancelled.is_set():
                raise ExecutionError(f"{fun}: cancelled while queued behind another state run")
    try:
        held = _file_lock(ctx, fun, queue)
    except BaseException:
        lock.release()
        raise
    with _registry:
        _running[ctx.opts.id] = ctx.jid or "(local)"
    try:
        yield
    finally:
        with _registry:
            _running.pop(ctx.opts.id, None)
        held.close()  # closing the file releases the flock
        lock.release()


def _file_lock(ctx: JobContext, fun: str, queue: bool) -> IO[str]:
    """The flock of this minion's state runs across processes (a daemon and ``ff-call --local``).

    The lock file in ``cachedir`` holds the pid of the run that has it.
    """
    os.makedirs(ctx.opts.cachedir, mode=0o700, exist_ok=True)
    path = os.path.join(ctx.opts.cachedir, f"state-run-{ctx.opts.id}.lock")
    fh = open(path, "a+", encoding="ascii")  # noqa: SIM115 - held for the whole run
    try:
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not queue:
                    fh.seek(0)
                    pid = fh.read().strip() or "unknown"
                    raise ExecutionError(
                        f"{fun}: a state run is already running on {ctx.opts.id!r} in another "
                        f"process (pid {pid}); wait for it, or pass queue=True to run after it"
                    ) from None
                if ctx.cancelled.wait(_QUEUE_POLL):
                    raise ExecutionError(
                        f"{fun}: cancelled while queued behind another state run"
                    ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
    except BaseException:
        fh.close()
        raise
    return fh


@contextmanager
def _run_context(fun: str, test: bool, pillar: Any) -> Iterator[JobContext]:
    """The job's context with test mode and the pillar override applied, made current."""
    ctx = current()
    if pillar is not None and not isinstance(pillar, dict):
        raise ExecutionError(f"{fun}: pillar must be a mapping such as pillar='{{\"a\": 1}}'")
    run_ctx = dataclasses.replace(
        ctx,
        test=bool(ctx.test or test),
        # Job arguments are data: never rendered as templates (render.untrusted).
        pillar=merge(ctx.pillar, taint(pillar)) if pillar else ctx.pillar,
    )
    token = activate(run_ctx)
    try:
        yield run_ctx
    finally:
        deactivate(token)


def _mods(mods: Any) -> list[str]:
    if isinstance(mods, list):
        items = [str(m) for m in mods]
    else:
        items = str(mods).split(",") if mods not in (None, "") else []
    return [m.strip() for m in items if str(m).strip()]


def _required_mods(fname: str, mods: Any, example: str = "") -> list[str]:
    """The SLS names of ``mods``; an error unless there is at least one."""
    names = _mods(mods)
    if not names:
        raise ExecutionError(f"{fname}: name at least one SLS{example}")
    return names


def _retcode(results: dict[str, Any]) -> int:
    return RETCODE_FAILED if any(r.get("result") is False for r in results.values()) else 0


def _pillar_failed(ctx: JobContext) -> Result | None:
    if ctx.pillar_error:
        return Result([f"Pillar failed to compile: {ctx.pillar_error}"], RETCODE_ERROR)
    return None


def _apply(
    fun: str, mods: list[str] | None, test: bool, pillar: Any, saltenv: str, queue: bool
) -> Result:
    with _run_context(fun, test, pillar) as ctx:
        failed = _pillar_failed(ctx)
        if failed is not None:
            return failed
        with _one_run(ctx, fun, queue):
            try:
                results = engine.run(ctx, mods, saltenv)
            except CompileError as exc:
                return Result(exc.errors, RETCODE_ERROR)
    return Result(results, _retcode(results))


def apply(
    mods: str | list[str] = "",
    test: bool = False,
    pillar: dict[str, Any] | None = None,
    saltenv: str = "base",
    queue: bool = False,
) -> Result:
    """Apply the SLS ``mods`` (comma separated), or the highstate when none is given.

    ``test=True`` reports what would change without changing anything.
    ``pillar`` is merged over the minion's pillar for this run.
    ``saltenv`` is the environment to read the tree from. ``queue=True``
    waits for a state run in progress instead of failing.

    CLI example: ``ff '*' state.apply web,db test=True``
    """
    names = _mods(mods)
    return _apply("state.apply", names or None, test, pillar, saltenv, queue)


def sls(
    mods: str | list[str],
    test: bool = False,
    pillar: dict[str, Any] | None = None,
    saltenv: str = "base",
    queue: bool = False,
) -> Result:
    """Apply the SLS ``mods`` (comma separated); arguments as for ``state.apply``.

    CLI example: ``ff '*' state.sls web.nginx saltenv=dev``
    """
    names = _required_mods("state.sls", mods, ", e.g. state.sls web")
    return _apply("state.sls", names, test, pillar, saltenv, queue)


def highstate(
    test: bool = False,
    pillar: dict[str, Any] | None = None,
    saltenv: str = "base",
    queue: bool = False,
) -> Result:
    """Apply every SLS that ``top.sls`` of ``saltenv`` assigns to this minion.

    CLI example: ``ff '*' state.highstate test=True``
    """
    return _apply("state.highstate", None, test, pillar, saltenv, queue)


def single(
    fun: str,
    name: str,
    test: bool = False,
    pillar: dict[str, Any] | None = None,
    saltenv: str = "base",
    queue: bool = False,
    **kwargs: Any,
) -> Result:
    """Run one state function on ``name`` with the other keyword arguments as its arguments.

    CLI example: ``ff '*' state.single test.succeed_with_changes /tmp/x``
    """
    with _run_context("state.single", test, pillar) as ctx:
        failed = _pillar_failed(ctx)
        if failed is not None:
            return failed
        with _one_run(ctx, "state.single", queue):
            try:
                results = engine.run_single(ctx, fun, taint(name), taint(kwargs), saltenv)
            except CompileError as exc:
                return Result(exc.errors, RETCODE_ERROR)
    return Result(results, _retcode(results))


def _show(fun: str, pillar: Any, build: Any) -> Result:
    with _run_context(fun, False, pillar) as ctx:
        failed = _pillar_failed(ctx)
        if failed is not None:
            return failed
        try:
            return Result(build(ctx), 0)
        except CompileError as exc:
            return Result(exc.errors, RETCODE_ERROR)


def show_top(saltenv: str = "base", pillar: dict[str, Any] | None = None) -> Result:
    """Return ``{env: [sls, ...]}``: what the top file assigns to this minion.

    CLI example: ``ff '*' state.show_top``
    """
    return _show("state.show_top", pillar, lambda ctx: engine.top(ctx, saltenv))


def show_sls(
    mods: str | list[str], saltenv: str = "base", pillar: dict[str, Any] | None = None
) -> Result:
    """Return the high data of the SLS ``mods``: ``{id: {module: [function, {arg: value}]}}``.

    CLI example: ``ff '*' state.show_sls web``
    """
    names = _required_mods("state.show_sls", mods)
    return _show("state.show_sls", pillar, lambda ctx: engine.high(ctx, names, saltenv).states)


def show_highstate(saltenv: str = "base", pillar: dict[str, Any] | None = None) -> Result:
    """Return the high data of the highstate, as ``state.show_sls`` shows it.

    CLI example: ``ff '*' state.show_highstate``
    """
    return _show("state.show_highstate", pillar, lambda ctx: engine.high(ctx, None, saltenv).states)


def show_lowstate(saltenv: str = "base", pillar: dict[str, Any] | None = None) -> Result:
    """Return the low chunks of the highstate in run order, each with its ``order`` (from 1).

    CLI example: ``ff '*' state.show_lowstate``
    """
    return _show("state.show_lowstate", pillar, lambda ctx: _chunks(engine.low(ctx, None, saltenv)))


def show_low_sls(
    mods: str | list[str], saltenv: str = "base", pillar: dict[str, Any] | None = None
) -> Result:
    """Return the low chunks of the SLS ``mods`` in run order, as ``state.show_lowstate`` does.

    CLI example: ``ff '*' state.show_low_sls web``
    """
    names = _required_mods("state.show_low_sls", mods)
    return _show("state.show_low_sls", pillar, lambda ctx: _chunks(engine.low(ctx, names, saltenv)))


def _chunks(lows: list[Any]) -> list[dict[str, Any]]:
    return [{**low.chunk(), "order": i} for i, low in enumerate(lows, 1)]
