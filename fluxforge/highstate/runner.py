"""Running ordered low chunks through the state modules of the job.

For each chunk, in order: the requisites decide (run, run ``mod_watch``,
fail, skip); a ``prereq`` state first runs its targets in test mode; then
``onlyif``, ``unless`` and ``creates`` may skip it; then the state function
is called with the arguments it accepts (``mod_watch`` instead when a
watched state changed), and ``check_cmd`` may fail it afterwards. With
``retry`` (not in test mode), all of that is done again, after a pause,
until the result is the one wanted or the attempts run out; the comment
then starts with one line per earlier attempt, as in Salt. With
``reload_modules: True`` the execution and state modules are scanned again
once the state has run, whatever its result, so that later states find
modules it installed. Each result is recorded under its
tag with Salt's keys and reported through ``ctx.progress``. A failure
with ``failhard`` (the state's own, or the minion's) stops the run: later
states are not run and do not appear in the result. ``listen`` watchers run
their ``mod_watch`` after every other state.

The result of a run::

    {"test_|-motd_|-/etc/motd_|-succeed_with_changes": {
        "name": "/etc/motd", "result": True, "changes": {...}, "comment": "...",
        "duration": 0.412, "start_time": "14:03:07.120112",
        "__run_num__": 0, "__id__": "motd", "__sls__": "web"}, ...}
"""

from __future__ import annotations

import dataclasses
import datetime
import inspect
import logging
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from fluxforge.errors import ExecutionError, FluxForgeError, UnknownFunction
from fluxforge.highstate.compiler import CMD_OPTIONS, Low
from fluxforge.highstate.requisites import ENGINE_KEYS, Outcome, decide
from fluxforge.highstate.retry import RetryPolicy, retry_policy
from fluxforge.plugins.context import JobContext, activate, current, deactivate
from fluxforge.plugins.results import unwrap
from fluxforge.plugins.stateresult import StateResult

log = logging.getLogger(__name__)

RESULT_KEYS = ("name", "result", "changes", "comment")


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())


def _ret(name: str, result: bool | None, comment: str, changes: Any = None) -> dict[str, Any]:
    return {"name": name, "result": result, "changes": changes or {}, "comment": comment}


class _CheckFailed(Exception):
    """An onlyif/unless condition could not be evaluated."""


class Runner:
    """Runs the chunks of one state run, in the order given, under the current job."""

    def __init__(self, ctx: JobContext, lows: list[Low]) -> None:
        if ctx.states is None:
            raise ExecutionError("this job has no state modules (ctx.states is None)")
        self.ctx = ctx
        self.states = ctx.states
        self.lows = lows
        self.by_index = {low.index: low for low in lows}
        self.results: dict[str, dict[str, Any]] = {}
        self.done: dict[int, dict[str, Any]] = {}
        self.total = len(lows)
        self.stopped = False

    # --- the run ---------------------------------------------------------------------

    def run(self) -> dict[str, dict[str, Any]]:
        """Run every chunk, then the listeners; return the results keyed by tag, in run order."""
        for low in self.lows:
            if self.ctx.cancelled.is_set():
                raise ExecutionError(
                    f"state run cancelled after {len(self.results)} of {self.total} states"
                )
            start = time.monotonic()
            started = datetime.datetime.now().time().isoformat(timespec="microseconds")
            ret = self._one(low)
            self.done[low.index] = ret
            self._record(low, low.tag, low.id, ret, start, started)
            if self._failhard(low, ret):
                self.stopped = True
                return self.results
        self._listeners()
        return self.results

    def _failhard(self, low: Low, ret: Mapping[str, Any]) -> bool:
        if self.ctx.test or ret.get("result") is not False:
            return False
        return bool(low.args.get("failhard", self.ctx.opts.failhard))

    def _record(
        self, low: Low, tag: str, state_id: str, ret: dict[str, Any], start: float, started: str
    ) -> None:
        ret["duration"] = round((time.monotonic() - start) * 1000, 3)
        ret["start_time"] = started
        ret["__run_num__"] = len(self.results)
        ret["__id__"] = state_id
        ret["__sls__"] = low.sls
        self.results[tag] = ret
        report = {
            "n": len(self.results),
            "total": self.total,
            "id": state_id,
            "state": f"{low.state}.{low.fun}",
            "name": ret["name"],
            "result": ret["result"],
            "changed": bool(ret["changes"]),
        }
        try:
            self.ctx.progress(report)
        except Exception:  # a progress report must never break the run
            log.debug("progress report failed", exc_info=True)

    # --- one chunk -------------------------------------------------------------------------

    def _one(self, low: Low) -> dict[str, Any]:
        outcome = decide(low.reqs, self.done)
        if outcome.action == "fail":
            return self._requisite_failed(low, outcome.failed)
        if outcome.action == "skip":
            return _ret(low.name, True, outcome.comment)
        if low.reqs.get("prereq"):
            gate = self._prereq(low)
            if gate is not None:
                return gate
        return self._run_state(low, watch=outcome.action == "watch")

    def _requisite_failed(self, low: Low, failed: list[int]) -> dict[str, Any]:
        names = ", ".join(
            dict.fromkeys(f"{self.by_index[t].sls}.{self.by_index[t].id}" for t in failed)
        )
        return _ret(low.name, False, f"One or more requisite failed: {names}")

    def _prereq(self, low: Low) -> dict[str, Any] | None:
        """None when a target would change (run the state), else the state's result."""
        would_change = False
        failed: list[int] = []
        for target in low.reqs["prereq"]:
            other = self.by_index[target]
            outcome: Outcome = decide(other.reqs, self.done, frozenset({"prerequired"}))
            if outcome.action in ("fail", "skip"):
                continue
            with self._mode(test=True):
                probe = self._execute(other, watch=outcome.action == "watch")
            if probe["result"] is False:
                failed.append(target)
            elif probe["changes"]:
                would_change = True
        if failed:
            return self._requisite_failed(low, failed)
        if not would_change:
            return _ret(low.name, True, "No changes detected")
        return None

    def _run_state(self, low: Low, watch: bool) -> dict[str, Any]:
        """Execute a state whose requisites allow it, with its ``retry`` and ``reload_modules``."""
        try:
            policy = retry_policy(low.args.get("retry"))
        except ValueError as exc:
            return _ret(low.name, False, str(exc))
        ret = self._execute(low, watch)
        if policy is not None:
            ret = self._retry(low, watch, policy, ret)
        if low.args.get("reload_modules") is True:
            self._reload_modules()
        return ret

    def _retry(
        self, low: Low, watch: bool, policy: RetryPolicy, ret: dict[str, Any]
    ) -> dict[str, Any]:
        """Execute ``low`` again until its result is ``policy.until`` or the attempts run out."""
        ctx = current()
        if ctx.test:
            ret["comment"] = (
                f"{ret['comment']}\nThe state would be retried every {policy.interval} seconds "
                f"(with a splay of up to {policy.splay} seconds) a maximum of "
                f"{policy.attempts} times or until a result of {policy.until} is returned"
            ).strip()
            return ret
        notes: list[str] = []
        attempt = 1
        while ret["result"] != policy.until and attempt < policy.attempts:
            notes.append(
                f'Attempt {attempt}: Returned a result of "{ret["result"]}", '
                f'with the following comment: "{ret["comment"]}"'
            )
            pause = policy.interval + (random.uniform(0, policy.splay) if policy.splay else 0)
            if ctx.cancelled.wait(pause):
                notes.append(f"Retry stopped after attempt {attempt}: the job was cancelled")
                break
            attempt += 1
            ret = self._execute(low, watch)
        if notes:
            ret["comment"] = "\n".join([*notes, ret["comment"]]).strip()
        return ret

    def _reload_modules(self) -> None:
        """Scan the plugin folders again, so later states see modules added since the start."""
        log.debug("reloading execution and state modules")
        self.ctx.funcs.scan()
        if self.ctx.states is not None:
            self.ctx.states.scan()

    def _execute(self, low: Low, watch: bool = False) -> dict[str, Any]:
        """Check onlyif/unless/creates, call the state function (or ``mod_watch``), check_cmd."""
        try:
            skipped = self._checks(low)
        except _CheckFailed as exc:
            return _ret(low.name, False, str(exc))
        if skipped is not None:
            return skipped
        fun = low.fun
        if watch and f"{low.state}.mod_watch" in self.states:
            fun = "mod_watch"
        ret = self._call(low, fun)
        if "check_cmd" in low.args and ret["result"] is not False and not current().test:
            try:
                ok = all(
                    self._condition(low, c, "check_cmd") for c in _as_list(low.args["check_cmd"])
                )
            except _CheckFailed as exc:
                ok, ret["comment"] = False, f"{ret['comment']}\n{exc}".strip()
            if not ok:
                ret["result"] = False
                ret["comment"] = f"{ret['comment']}\ncheck_cmd determined the state failed".strip()
        return ret

    @contextmanager
    def _mode(self, test: bool) -> Iterator[None]:
        """Run the block with ``test`` set in the job's context."""
        ctx = current()
        if ctx.test == test:
            yield
            return
        token = activate(dataclasses.replace(ctx, test=test))
        try:
            yield
        finally:
            deactivate(token)

    # --- calling state functions ----------------------------------------------------------

    def _call(self, low: Low, fun: str) -> dict[str, Any]:
        full = f"{low.state}.{fun}"
        try:
            fn = self.states.get(full)
        except UnknownFunction as exc:
            return _ret(low.name, False, f"State {full!r} is not available: {_one_line(exc)}")
        try:
            kwargs = arguments(fn, low, {"sfun": low.fun} if fun != low.fun else {})
        except TypeError as exc:
            return _ret(low.name, False, f"{full}: {_one_line(exc)}")
        try:
            returned = fn(**kwargs)
        except FluxForgeError as exc:
            log.debug("%s raised", full, exc_info=True)
            return _ret(low.name, False, _one_line(exc))
        except Exception as exc:
            log.debug("%s raised", full, exc_info=True)
            return _ret(low.name, False, f"{full} raised {type(exc).__name__}: {_one_line(exc)}")
        return normalise(full, low.name, returned)

    # --- onlyif, unless, creates ----------------------------------------------------------

    def _checks(self, low: Low) -> dict[str, Any] | None:
        args = low.args
        if "onlyif" in args:
            for cond in _as_list(args["onlyif"]):
                if not self._condition(low, cond, "onlyif"):
                    return _ret(low.name, True, "onlyif condition is false")
        if "unless" in args:
            conds = _as_list(args["unless"])
            if conds and all(self._condition(low, cond, "unless") for cond in conds):
                return _ret(low.name, True, "unless condition is true")
        if "creates" in args:
            paths = _as_list(args["creates"])
            if paths and all(os.path.exists(str(p)) for p in paths):
                return _ret(low.name, True, "All files in creates exist")
        return None

    def _condition(self, low: Low, cond: Any, kind: str) -> bool:
        """Whether one onlyif/unless condition holds: a command exits 0, a function is truthy."""
        try:
            if isinstance(cond, str):
                opts = {k: low.args[k] for k in CMD_OPTIONS if k in low.args}
                value, _ = unwrap(self.ctx.funcs["cmd.retcode"](cond, **opts))
                return value == 0
            if isinstance(cond, dict) and isinstance(cond.get("fun"), str):
                call = dict(cond)
                fun = call.pop("fun")
                args = call.pop("args", [])
                args = args if isinstance(args, list) else [args]
                value, retcode = unwrap(self.ctx.funcs[fun](*args, **call))
                return retcode == 0 and bool(value)
        except FluxForgeError as exc:
            raise _CheckFailed(f"{kind}: {_one_line(exc)}")
        except Exception as exc:
            raise _CheckFailed(f"{kind}: {type(exc).__name__}: {_one_line(exc)}")
        raise _CheckFailed(
            f"{kind}: {cond!r} is neither a command nor {{fun: module.function, args: [...]}}"
        )

    # --- listen -----------------------------------------------------------------------------

    def _listeners(self) -> None:
        """Run ``mod_watch`` of every state that listens to a state that changed."""
        todo = [
            low
            for low in self.lows
            if any(self.done.get(t, {}).get("changes") for t in low.reqs.get("listen", ()))
        ]
        self.total += len(todo)
        for low in todo:
            start = time.monotonic()
            started = datetime.datetime.now().time().isoformat(timespec="microseconds")
            ret = self._run_state(low, watch=True)
            state_id = f"listener_{low.id}"
            tag = f"{low.state}_|-{state_id}_|-{low.name}_|-mod_watch"
            self._record(low, tag, state_id, ret, start, started)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def arguments(fn: Callable[..., Any], low: Low, extra: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of a state function: only what it accepts, never engine keywords.

    Raises TypeError when an argument the function requires is missing.
    """
    sig = inspect.signature(fn)
    params = sig.parameters
    takes_all = any(p.kind == p.VAR_KEYWORD for p in params.values())
    data = {k: v for k, v in low.args.items() if k not in ENGINE_KEYS and not k.startswith("__")}
    data["name"] = low.name
    data.update(extra)
    if "saltenv" in params:
        data.setdefault("saltenv", low.env)
    if not takes_all:
        accepted = {
            n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        }
        data = {k: v for k, v in data.items() if k in accepted}
    sig.bind(**data)
    return data


def normalise(full: str, name: str, returned: Any) -> dict[str, Any]:
    """A state function's return as ``{name, result, changes, comment, ...}``, or a failure.

    The one place a :class:`StateResult` becomes the dict the run records; a
    plain dict (as custom modules in ``_states/`` may return) is taken as is.
    """
    if isinstance(returned, StateResult):
        returned = returned.to_dict()
    if not isinstance(returned, Mapping) or "result" not in returned:
        return _ret(
            name,
            False,
            f"{full} returned {type(returned).__name__}, not a mapping with "
            "name, result, changes and comment",
        )
    ret = dict(returned)
    result = ret["result"]
    if result is not None and not isinstance(result, bool):
        result = bool(result)
    comment = ret.get("comment", "")
    if isinstance(comment, list):
        comment = "\n".join(str(c) for c in comment)
    changes = ret.get("changes") or {}
    ret.update(
        name=ret.get("name", name),
        result=result,
        changes=changes if isinstance(changes, Mapping) else {"changes": changes},
        comment=str(comment),
    )
    return ret
