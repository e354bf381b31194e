"""The state outcome primitive: StateResult, settle, apply_changes, require, catch_errors.

Each helper runs under a real job context (``fluxforge.testing.job_context``)
in test mode and in a real run; the actions count their calls, so a test
fails if test mode acts or a real run acts more than once.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fluxforge.errors import ExecutionError
from fluxforge.highstate.runner import normalise
from fluxforge.plugins.context import JobContext
from fluxforge.plugins.stateresult import (
    StateResult,
    apply_changes,
    catch_errors,
    require,
    settle,
)
from fluxforge.testing import job_context


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[JobContext]:
    with job_context(tmp_path) as job:
        yield job


class Action:
    """An action that counts its calls and returns what it was given."""

    def __init__(self, returns: Any = None) -> None:
        self.calls = 0
        self.returns = returns

    def __call__(self) -> Any:
        self.calls += 1
        return self.returns


# --- StateResult -------------------------------------------------------------------


def test_to_dict_is_salts_shape_in_salts_order() -> None:
    ret = StateResult("/etc/motd", None, {"diff": "New file"}, "would change")
    out = ret.to_dict()
    assert type(out) is dict
    assert list(out) == ["name", "result", "changes", "comment"]
    assert out == {
        "name": "/etc/motd",
        "result": None,
        "changes": {"diff": "New file"},
        "comment": "would change",
    }


def test_defaults_and_reading_as_a_mapping() -> None:
    ret = StateResult("x")
    assert (ret.result, ret.changes, ret.comment) == (True, {}, "")
    assert ret["result"] is True and set(ret) == {"name", "result", "changes", "comment"}
    assert ret == {"name": "x", "result": True, "changes": {}, "comment": ""}
    assert ret == StateResult("x") and ret != StateResult("x", False)
    with pytest.raises(KeyError):
        ret["duration"]
    assert StateResult("a").changes is not StateResult("b").changes


# --- apply_changes -------------------------------------------------------------------


@pytest.mark.parametrize("test", [True, False])
def test_no_changes_is_ok_and_applies_nothing(ctx: JobContext, test: bool) -> None:
    ctx.test = test
    apply = Action()
    ret = apply_changes("x", {}, apply, ok="x is fine", done="x changed")
    assert ret == {"name": "x", "result": True, "changes": {}, "comment": "x is fine"}
    assert apply.calls == 0


def test_test_mode_predicts_the_changes_and_applies_nothing(ctx: JobContext) -> None:
    ctx.test = True
    apply = Action()
    ret = apply_changes("x", {"mode": "0600"}, apply, ok="fine", done="changed")
    assert ret == {
        "name": "x",
        "result": None,
        "changes": {"mode": "0600"},
        "comment": "x is set to be changed",
    }
    ret = apply_changes("x", {"mode": "0600"}, apply, ok="", predicted="x would be chmodded")
    assert ret.comment == "x would be chmodded" and ret.result is None
    assert apply.calls == 0


def test_a_real_run_applies_once_and_reports_the_planned_changes(ctx: JobContext) -> None:
    apply = Action(returns=True)  # anything but a StateResult: the plan is reported
    ret = apply_changes("x", {"mode": "0600"}, apply, ok="fine", done="x changed")
    assert ret == {"name": "x", "result": True, "changes": {"mode": "0600"}, "comment": "x changed"}
    assert apply.calls == 1


def test_a_real_run_reports_what_the_action_returns(ctx: JobContext) -> None:
    failed = StateResult("x", False, {"mode": "0600"}, "changed, but mode is 0644")
    apply = Action(returns=failed)
    assert apply_changes("x", {"mode": "0600"}, apply, ok="fine", done="done") is failed
    assert apply.calls == 1


# --- settle ------------------------------------------------------------------------------


def test_settle_returns_the_plan_in_test_mode_even_a_predicted_failure(ctx: JobContext) -> None:
    ctx.test = True
    plan = StateResult("x", False, {}, "would fail")
    apply = Action(returns=StateResult("x", False, {}, "failed"))
    assert settle(plan, apply) is plan
    assert apply.calls == 0


def test_settle_applies_exactly_once_in_a_real_run(ctx: JobContext) -> None:
    done = StateResult("x", True, {"x": True}, "done")
    apply = Action(returns=done)
    lazy = Action(returns=StateResult("x", None, {"x": True}, "would"))
    assert settle(lazy, apply) is done
    assert (apply.calls, lazy.calls) == (1, 0)  # a plan given as a function is not worked out


def test_settle_works_out_a_lazy_plan_only_in_test_mode(ctx: JobContext) -> None:
    ctx.test = True
    planned = StateResult("x", None, {"x": True}, "would")
    lazy, apply = Action(returns=planned), Action()
    assert settle(lazy, apply) is planned
    assert (lazy.calls, apply.calls) == (1, 0)


# --- require and catch_errors -------------------------------------------------------------


@catch_errors
def needs_group(name: str, group_exists: bool) -> StateResult:
    require(group_exists, f"The group of {name} does not exist")
    return StateResult(name, None, {"name": name}, f"{name} set to be added")


def test_require_fails_a_real_run_and_lets_a_test_run_plan_on(ctx: JobContext) -> None:
    assert needs_group("u", False) == {
        "name": "u",
        "result": False,
        "changes": {},
        "comment": "The group of u does not exist",
    }
    assert needs_group("u", True).result is None
    ctx.test = True
    assert needs_group("u", False) == {
        "name": "u",
        "result": None,
        "changes": {"name": "u"},
        "comment": "u set to be added",
    }


def test_require_raises_without_the_decorator(ctx: JobContext) -> None:
    with pytest.raises(ExecutionError, match=r"^missing$"):
        require(False, "missing")
    require(True, "not raised")


@catch_errors
def raising(name: str, exc: BaseException) -> StateResult:
    raise exc


def test_errors_become_result_false_with_a_one_line_comment(ctx: JobContext) -> None:
    ret = raising("/srv/x", ExecutionError("render failed:\n  line 3\tbad"))
    assert ret == {
        "name": "/srv/x",
        "result": False,
        "changes": {},
        "comment": "render failed: line 3 bad",
    }
    ret = raising(name="/srv/y", exc=PermissionError(13, "Permission denied"))
    assert ret.result is False and ret.comment == "/srv/y: [Errno 13] Permission denied"
    assert isinstance(ret, StateResult)


def test_other_exceptions_reach_the_engine(ctx: JobContext) -> None:
    with pytest.raises(ValueError, match="a bug"):
        raising("x", ValueError("a bug"))


def test_catch_errors_keeps_the_signature_the_engine_reads() -> None:
    assert list(inspect.signature(needs_group).parameters) == ["name", "group_exists"]
    assert needs_group.__name__ == "needs_group" and needs_group.__module__ == __name__


# --- the engine's boundary ----------------------------------------------------------------


def test_the_engine_records_a_state_result_and_a_plain_dict_alike() -> None:
    typed = normalise("x.y", "n", StateResult("n", None, {"a": 1}, "would"))
    plain = normalise(
        "x.y", "n", {"name": "n", "result": None, "changes": {"a": 1}, "comment": "would"}
    )
    assert type(typed) is dict and typed == plain
    assert list(typed) == ["name", "result", "changes", "comment"]
