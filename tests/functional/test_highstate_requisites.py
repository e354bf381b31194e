"""The state engine runs real trees (tests/states/req) through state.sls: requisites and order.

Every run goes through the real file client, renderers, compiler, runner
and loader; ``rec`` (tests/states/req/_states/rec.py) records what it did
in a log file, so a test sees which states really ran, and in what order.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fluxforge.files.client import local_client
from fluxforge.plugins.loader import BUILTIN_STATES, Functions, execution_functions
from fluxforge.plugins.results import Result
from fluxforge.testing import job_context

TREE = Path(__file__).resolve().parent.parent / "states" / "req"


class Harness:
    """A job context over the ``req`` tree, and helpers to run SLS and read the log."""

    def __init__(self, tmp_path: Path, **opts: Any) -> None:
        self.dir = tmp_path
        self.log_path = tmp_path / "log"
        cache = str(tmp_path / "cache")
        self.reports: list[dict[str, Any]] = []
        self.ctx = job_context(
            tmp_path,
            {"id": "m1", **opts},
            grains={"os": "Debian"},
            pillar={"log": str(self.log_path), "dir": str(tmp_path)},
            funcs=execution_functions(cache),
            states=Functions([BUILTIN_STATES, str(TREE / "_states")], kind="states"),
            files=local_client(cache, {"base": [str(TREE)]}),
            jid="20240101000000000001",
            fun="state.sls",
            progress=self.reports.append,
        )

    def sls(self, mods: str, **kwargs: Any) -> Result:
        out = self.ctx.funcs["state.sls"](mods, **kwargs)
        assert isinstance(out, Result)
        return out

    def run(self, mods: str, **kwargs: Any) -> dict[str, dict[str, Any]]:
        """Run ``mods``; the results keyed by state ID (every tag's ID is unique here)."""
        out = self.sls(mods, **kwargs)
        assert isinstance(out.value, dict), out.value
        self.last = out
        return {ret["__id__"]: ret for ret in out.value.values()}

    def log(self) -> list[str]:
        if not self.log_path.exists():
            return []
        return self.log_path.read_text().splitlines()


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path)
    with harness.ctx:
        yield harness


def run_order(results: dict[str, dict[str, Any]]) -> list[str]:
    return sorted(results, key=lambda i: results[i]["__run_num__"])


# --- order ------------------------------------------------------------------------------


def test_definition_order_but_requisites_pull_their_targets_first(h: Harness) -> None:
    res = h.run("order")
    assert run_order(res) == ["last_defined", "first_defined", "middle"]
    assert h.log() == ["same:last_defined", "same:first_defined", "same:middle"]


def test_order_first_integers_unordered_negative_last(h: Harness) -> None:
    res = h.run("order_kw")
    assert run_order(res) == ["d_first", "f_one", "c_two", "b_plain", "e_negative", "a_last"]


def test_return_format_keys_and_run_numbers(h: Harness) -> None:
    out = h.sls("order")
    assert list(out.value) == [
        "rec_|-last_defined_|-last_defined_|-same",
        "rec_|-first_defined_|-first_defined_|-same",
        "rec_|-middle_|-middle_|-same",
    ]
    for n, ret in enumerate(out.value.values()):
        assert set(ret) == {
            "name",
            "result",
            "changes",
            "comment",
            "duration",
            "start_time",
            "__run_num__",
            "__id__",
            "__sls__",
        }
        assert ret["__run_num__"] == n and ret["__sls__"] == "order"
        assert isinstance(ret["duration"], float) and ret["duration"] >= 0
        assert len(ret["start_time"]) == len("12:00:00.000000")
    assert out.retcode == 0


def test_progress_is_reported_after_each_state(h: Harness) -> None:
    h.run("watch")
    assert [r["n"] for r in h.reports] == list(range(1, 11))
    assert {r["total"] for r in h.reports} == {10}
    first = h.reports[0]
    assert first == {
        "n": 1,
        "total": 10,
        "id": "conf",
        "state": "rec.changed",
        "name": "conf",
        "result": True,
        "changed": True,
    }
    assert h.reports[2]["result"] is False and h.reports[2]["changed"] is False


# --- require -----------------------------------------------------------------------------


def test_require_and_require_any(h: Harness) -> None:
    res = h.run("require")
    assert res["needs_broken"]["result"] is False
    assert res["needs_broken"]["comment"] == "One or more requisite failed: require.broken"
    assert "same:needs_broken" not in h.log()
    assert res["needs_any"]["result"] is True and "same:needs_any" in h.log()
    assert res["needs_any_all_failed"]["result"] is False
    assert h.last.retcode == 2


def test_require_in_by_name_by_sls_and_by_glob(h: Harness) -> None:
    res = h.run("require")
    order = run_order(res)
    # The included SLS comes first (definition order), then the file's own states.
    assert order[:2] == ["dep_one", "dep_two"]
    assert order.index("reversed") < order.index("late") < order.index("by_name")
    assert res["late"]["name"] == "late-name"
    assert all(res[i]["result"] is True for i in ("by_sls", "by_glob", "by_name", "late"))


# --- watch -------------------------------------------------------------------------------


def test_watch_runs_mod_watch_when_a_watched_state_changed(h: Harness) -> None:
    res = h.run("watch")
    log = h.log()
    assert res["svc"]["comment"] == "watch fired for same"
    assert "watch:svc:same" in log and "same:svc" not in log
    assert res["quiet_svc"]["comment"] == "same" and "same:quiet_svc" in log
    assert "watch:any_svc:same" in log  # watch_any: one changed, one failed
    assert res["watch_failed"]["result"] is False
    assert res["watch_failed"]["comment"] == "One or more requisite failed: watch.broken"
    # A module without mod_watch runs its function as usual.
    assert res["plain_watcher"]["comment"] == "rec2 same"
    # watch_in: the watching state comes after, and fires.
    assert "watch:reverse_svc:same" in log
    assert run_order(res).index("reverse_watched") < run_order(res).index("reverse_svc")


# --- onchanges / onfail ------------------------------------------------------------------


def test_onchanges_and_onchanges_any(h: Harness) -> None:
    res = h.run("onchanges")
    log = h.log()
    assert "same:on_yes" in log
    assert res["on_no"]["result"] is True and "same:on_no" not in log
    assert res["on_no"]["comment"] == (
        "State was not run because none of the onchanges reqs changed"
    )
    assert "same:on_mixed" in log
    assert res["on_failed"]["result"] is False
    assert res["on_failed"]["comment"] == "One or more requisite failed: onchanges.broken"
    assert "same:on_any_failed" in log
    assert "same:on_in" in log
    assert run_order(res).index("changes_in") < run_order(res).index("on_in")


def test_onfail_any_and_all(h: Harness) -> None:
    res = h.run("onfail")
    log = h.log()
    assert "same:of_yes" in log
    assert "same:of_no" not in log and res["of_no"]["result"] is True
    assert res["of_no"]["comment"] == "State was not run because onfail req did not change"
    assert "same:of_any" in log
    assert "same:of_all_no" not in log and res["of_all_no"]["result"] is True
    assert "same:of_all_yes" in log
    assert "same:of_in" in log


# --- prereq ------------------------------------------------------------------------------


def test_prereq_runs_first_only_when_the_target_would_change(h: Harness) -> None:
    res = h.run("prereq")
    log = h.log()
    assert log.index("same:graceful_down") == log.index("changed:deploy") - 1
    assert res["noop_down"]["comment"] == "No changes detected"
    assert "same:noop_down" not in log and "same:stable" in log
    # Declared after its target, the prereq state still runs before it.
    assert log.index("same:late_pre") < log.index("changed:late_target")
    # When the prereq state fails, its target does not run.
    assert res["fail_target"]["result"] is False
    assert res["fail_target"]["comment"] == "One or more requisite failed: prereq.fail_down"
    assert "changed:fail_target" not in log
    assert log.index("same:in_pre") < log.index("changed:in_target")


# --- use / listen ------------------------------------------------------------------------


def test_use_copies_arguments_the_state_does_not_set(h: Harness) -> None:
    res = h.run("use")
    assert res["copier"]["comment"] == '{"mode": "0600", "user": "root"}'
    assert res["taker"]["comment"] == '{"group": "staff"}'


def test_listen_runs_mod_watch_at_the_end(h: Harness) -> None:
    out = h.sls("listen")
    tags = list(out.value)
    assert tags[-2:] == [
        "rec_|-listener_listener_|-listener_|-mod_watch",
        "rec_|-listener_in_listener_|-in_listener_|-mod_watch",
    ]
    assert tags.index("rec_|-listener_|-listener_|-same") == 1  # runs in place too
    log = h.log()
    assert log[-2:] == ["watch:listener:same", "watch:in_listener:same"]
    assert "watch:quiet_listener:same" not in log
    assert out.value[tags[-1]]["__id__"] == "listener_in_listener"


# --- failhard ----------------------------------------------------------------------------


def test_failhard_on_a_state_stops_the_run(h: Harness) -> None:
    res = h.run("failhard")
    assert list(res) == ["one", "stopper"]
    assert h.log() == ["same:one", "fail:stopper"]
    assert h.last.retcode == 2


def test_global_failhard(tmp_path: Path) -> None:
    harness = Harness(tmp_path, failhard=True)
    with harness.ctx:
        res = harness.run("plain_fail")
    assert list(res) == ["one", "fails"]


def test_without_failhard_the_run_goes_on(h: Harness) -> None:
    res = h.run("plain_fail")
    assert list(res) == ["one", "fails", "after_fail"]


# --- unless / onlyif / creates -----------------------------------------------------------


def test_unless_onlyif_creates(h: Harness) -> None:
    (h.dir / "exists").write_text("")
    res = h.run("conditions")
    log = h.log()
    assert "changed:only_true" in log
    assert res["only_false"]["comment"] == "onlyif condition is false"
    assert res["only_false"]["result"] is True and "changed:only_false" not in log
    assert res["unless_true"]["comment"] == "unless condition is true"
    assert "changed:unless_mixed" in log
    assert res["creates_yes"]["comment"] == "All files in creates exist"
    assert "changed:creates_no" in log
    assert res["only_fun"]["comment"] == "onlyif condition is false"
    assert res["cwd_unless"]["comment"] == "unless condition is true"  # ran in cwd
    assert res["checked_ok"]["result"] is True
    assert res["checked_bad"]["result"] is False
    assert res["checked_bad"]["comment"] == "changed\ncheck_cmd determined the state failed"


# --- test mode ---------------------------------------------------------------------------


def test_test_mode_predicts_and_changes_nothing(h: Harness) -> None:
    out = h.sls("testmode", test=True)
    res = {r["__id__"]: r for r in out.value.values()}
    assert h.log() == []
    assert res["conf"]["result"] is None and res["conf"]["changes"] == {"rec": "conf"}
    assert res["svc"]["result"] is None and res["svc"]["comment"] == "watch fired for same"
    assert res["on_change"]["result"] is True  # would run: its target would change
    assert res["pre"]["result"] is True and res["pre"]["comment"] == "same"
    assert out.retcode == 0
    assert h.ctx.test is False  # the job's own context is left as it was


def test_test_mode_from_the_context(h: Harness) -> None:
    h.ctx.test = True
    res = h.run("onchanges")
    assert h.log() == []
    assert res["changes"]["result"] is None


# --- arguments and failures of state functions ----------------------------------------------


def test_only_accepted_arguments_are_passed(h: Harness) -> None:
    res = h.run("args")
    assert res["strict_one"]["comment"] == "mode=0700 saltenv=base"
    # Engine keywords (unless, order, require ...) never reach the function.
    assert res["args_env"]["comment"] == '{"anything": 1}'
    assert res["missing_arg"]["result"] is False
    assert "rec.needs" in res["missing_arg"]["comment"]
    assert "required" in res["missing_arg"]["comment"]
    assert res["raiser"]["comment"] == "rec.boom raised RuntimeError: kaboom second line"
    assert res["bad_return"]["result"] is False
    assert "rec.bad returned str" in res["bad_return"]["comment"]
    assert res["unknown_fun"]["result"] is False
    assert "'rec.nonexistent' is not" in res["unknown_fun"]["comment"]


def test_an_argument_the_function_does_not_take_is_an_error_with_the_closest_name(
    h: Harness,
) -> None:
    out = h.sls("misspelt")
    assert out.retcode == 1
    assert out.value == [
        "rec.strict takes no argument 'mdoe' (did you mean 'mode'?) in state 'site' "
        "(rec.strict, SLS misspelt in ff://misspelt.sls)",
        "rec.strict takes no argument 'colour' (it takes mode) in state 'other' "
        "(rec.strict, SLS misspelt in ff://misspelt.sls)",
    ]
    assert h.log() == []  # nothing ran
    # state.single checks the same way; a function with **kwargs takes anything.
    out = h.ctx.funcs["state.single"]("rec.strict", "x", mdoe="0700")
    assert out.value == [
        "rec.strict takes no argument 'mdoe' (did you mean 'mode'?) in state 'x' "
        "(rec.strict, state.single)"
    ]
    out = h.ctx.funcs["state.single"]("file.managed", str(h.dir / "f"), sourc="ff://x")
    assert len(out.value) == 1 and out.value[0].startswith(
        "file.managed takes no argument 'sourc' (did you mean 'source'?)"
    ), out.value
    assert not (h.dir / "f").exists()


def test_salts_own_arguments_that_a_state_ignores_are_not_mistakes(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    # Formulas pass arguments Salt's file.managed takes and ours does not act
    # on (keep_source, tmp_dir, ...): they must keep compiling, with a warning,
    # unlike a misspelling.
    target = h.dir / "sudoers"
    with caplog.at_level("WARNING"):
        out = h.ctx.funcs["state.single"](
            "file.managed", str(target), contents="x\n", keep_source=False, tmp_dir="/tmp"
        )
    assert out.retcode == 0, out.value
    assert target.read_text() == "x\n"
    assert "Salt's argument 'keep_source' is not supported and is ignored" in caplog.text
    assert "Salt's argument 'tmp_dir' is not supported and is ignored" in caplog.text


def test_names_with_per_name_arguments(h: Harness) -> None:
    out = h.sls("names")
    assert list(out.value) == [
        "rec_|-pkgs_|-alpha_|-args",
        "rec_|-pkgs_|-beta_|-args",
        "rec_|-pkgs_|-gamma_|-args",
    ]
    comments = [r["comment"] for r in out.value.values()]
    assert comments == ['{"mode": "0644"}', '{"mode": "0700"}', '{"mode": "0750"}']


# --- retry ----------------------------------------------------------------------------------


def test_retry_until_the_result_or_out_of_attempts(h: Harness) -> None:
    res = h.run("retry")
    log = h.log()
    ok = res["flaky_then_ok"]
    assert ok["result"] is True
    assert ok["comment"] == (
        'Attempt 1: Returned a result of "False", with the following comment: "call 1 failed"\n'
        'Attempt 2: Returned a result of "False", with the following comment: "call 2 failed"\n'
        "call 3 worked"
    )
    assert [e for e in log if e.startswith("flaky:flaky_then_ok")] == [
        "flaky:flaky_then_ok:1",
        "flaky:flaky_then_ok:2",
        "flaky:flaky_then_ok:3",
    ]
    out = res["flaky_out_of_attempts"]
    assert out["result"] is False
    assert out["comment"] == (
        'Attempt 1: Returned a result of "False", with the following comment: "call 1 failed"\n'
        "call 2 failed"
    )
    # until: False retries a state that succeeds, as many times as allowed.
    assert res["until_false"]["result"] is True
    assert "flaky:until_false:3" in log and res["until_false"]["comment"].count("Attempt") == 2
    assert res["ok_at_once"]["comment"] == "call 1 worked"
    assert "flaky:ok_at_once:2" not in log
    assert res["no_retry"]["result"] is False and "flaky:no_retry:2" not in log
    assert h.last.retcode == 2


def test_retry_true_takes_the_defaults(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float | None] = []
    monkeypatch.setattr(h.ctx.cancelled, "wait", lambda timeout=None: waits.append(timeout))
    res = h.run("retry_default")
    assert waits == [30]  # interval 30, no splay, two attempts in all
    assert res["default_retry"]["result"] is True
    assert h.log() == ["flaky:default_retry:1", "flaky:default_retry:2"]


def test_retry_is_not_done_in_test_mode(h: Harness) -> None:
    res = h.run("retry", test=True)
    assert h.log() == []
    assert res["flaky_out_of_attempts"]["comment"] == (
        "call 1 failed\nThe state would be retried every 0 seconds (with a splay of up to "
        "0 seconds) a maximum of 2 times or until a result of True is returned"
    )
    assert (h.dir / "flaky_out_of_attempts.count").read_text() == "1"


def test_retry_stops_waiting_when_the_job_is_cancelled(h: Harness) -> None:
    started = time.monotonic()
    res = h.run("retry_cancel")
    assert time.monotonic() - started < 10  # not 4 pauses of 60 s
    assert h.log() == ["flaky:cancelled:1"]
    assert res["cancelled"]["result"] is False
    assert res["cancelled"]["comment"] == (
        'Attempt 1: Returned a result of "False", with the following comment: "call 1 failed"\n'
        "Retry stopped after attempt 1: the job was cancelled\n"
        "call 1 failed"
    )


def test_malformed_retry_and_reload_modules_do_not_compile(h: Harness) -> None:
    out = h.sls("retry_bad")
    assert out.retcode == 1
    where = "(rec.same, SLS retry_bad in ff://retry_bad.sls)"
    assert out.value == [
        "retry has unknown key(s) tries; known: attempts, until, interval, splay "
        f"in state 'unknown_key' {where}",
        "retry interval must be a number of seconds >= 0, not 'soon' "
        f"in state 'wrong_type' {where}",
        f"retry attempts must be an integer >= 1, not 0 in state 'zero_attempts' {where}",
        "retry must be True or a mapping of attempts, until, interval, splay, not [1, 2] "
        f"in state 'not_a_mapping' {where}",
        f"reload_modules must be True or False, not 'sometimes', in state 'bad_reload' {where}",
    ]
    assert h.log() == []


def test_retry_and_reload_modules_never_reach_the_state_function(h: Harness) -> None:
    out = h.ctx.funcs["state.single"](
        "rec.args", "x", retry={"attempts": 1}, reload_modules=True, other=1
    )
    (ret,) = out.value.values()
    assert ret["comment"] == '{"other": 1}'
    bad = h.ctx.funcs["state.single"]("rec.args", "x", retry={"attempts": "many"})
    assert bad.retcode == 1


# --- reload_modules -------------------------------------------------------------------------


def _reload_run(h: Harness, reload: bool) -> dict[str, dict[str, Any]]:
    assert h.ctx.states is not None
    h.ctx.states.folders.append(str(h.dir / "extstates"))
    h.ctx.states.scan()
    h.ctx.pillar = {**h.ctx.pillar, "reload": reload}
    return h.run("reload")


def test_reload_modules_lets_later_states_use_new_modules(h: Harness) -> None:
    res = _reload_run(h, reload=True)
    # The writers fail on purpose: the modules are rescanned whatever the result.
    assert res["install_module"]["result"] is False
    assert res["use_module"]["result"] is True
    assert res["use_module"]["comment"] == "hello from fresh"
    assert res["use_state"]["result"] is True and res["use_state"]["comment"] == "fresh state"


def test_without_reload_modules_new_modules_stay_unknown(h: Harness) -> None:
    res = _reload_run(h, reload=False)
    assert res["use_module"]["result"] is False
    assert "'fresh.hello' is not a known function" in res["use_module"]["comment"]
    assert res["use_state"]["result"] is False
    assert "freshstate.present" in res["use_state"]["comment"]
