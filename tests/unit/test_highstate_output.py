"""The highstate outputter, progress lines, and the state options of ff and ff-call."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from click.testing import CliRunner

from fluxforge.cli import call, ff
from fluxforge.client.local import succeeded
from fluxforge.errors import UsageError
from fluxforge.output import (
    STATE_OUTPUTS,
    default_outputter,
    format_all,
    format_progress,
    format_return,
    state_status,
)
from fluxforge.output.highstate import format_highstate

GREEN = "\033[0;32m"
CYAN = "\033[0;36m"
YELLOW = "\033[1;33m"
RED = "\033[0;31m"
END = "\033[0m"

MOTD_DIFF = "--- /etc/motd\n+++ /etc/motd\n@@ -1 +1 @@\n-old\n+new\n"


def state(
    state_id: str,
    result: bool | None,
    run_num: int,
    *,
    fun: str = "test.succeed_without_changes",
    name: str | None = None,
    changes: dict[str, Any] | None = None,
    comment: str = "Success!",
    duration: float = 1.5,
    sls: str = "common",
) -> tuple[str, dict[str, Any]]:
    """One entry of a state run's return, keyed as the engine keys it."""
    module, function = fun.split(".")
    name = state_id if name is None else name
    key = f"{module}_|-{state_id}_|-{name}_|-{function}"
    return key, {
        "name": name,
        "result": result,
        "changes": changes or {},
        "comment": comment,
        "duration": duration,
        "start_time": f"12:00:0{run_num}.000000",
        "__run_num__": run_num,
        "__id__": state_id,
        "__sls__": sls,
    }


def run(*states: tuple[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return dict(states)


# A realistic run, listed out of order: the outputter sorts by __run_num__.
RUN = run(
    state(
        "nginx",
        False,
        2,
        fun="pkg.installed",
        comment="Package nginx could not be installed\nE: Unable to locate package",
        duration=1500.25,
        sls="web",
    ),
    state(
        "motd",
        True,
        1,
        fun="file.managed",
        name="/etc/motd",
        changes={"diff": MOTD_DIFF},
        comment="File /etc/motd updated",
        duration=12.345,
    ),
    state("ready", True, 0),
)


def highstate(value: Any, state_output: str = "full", color: bool = False) -> str:
    return format_return("web1", value, "highstate", color=color, state_output=state_output)


# -- full ---------------------------------------------------------------------------


def test_full_layout_exact() -> None:
    assert highstate(RUN) == (
        "web1:\n"
        "    ----------\n"
        "          ID: ready\n"
        "    Function: test.succeed_without_changes\n"
        "        Name: ready\n"
        "         SLS: common\n"
        "      Result: True\n"
        "     Comment: Success!\n"
        "     Started: 12:00:00.000000\n"
        "    Duration: 1.500 ms\n"
        "    ----------\n"
        "          ID: motd\n"
        "    Function: file.managed\n"
        "        Name: /etc/motd\n"
        "         SLS: common\n"
        "      Result: True\n"
        "     Comment: File /etc/motd updated\n"
        "     Started: 12:00:01.000000\n"
        "    Duration: 12.345 ms\n"
        "     Changes:\n"
        "              diff:\n"
        "                  --- /etc/motd\n"
        "                  +++ /etc/motd\n"
        "                  @@ -1 +1 @@\n"
        "                  -old\n"
        "                  +new\n"
        "    ----------\n"
        "          ID: nginx\n"
        "    Function: pkg.installed\n"
        "        Name: nginx\n"
        "         SLS: web\n"
        "      Result: False\n"
        "     Comment: Package nginx could not be installed\n"
        "              E: Unable to locate package\n"
        "     Started: 12:00:02.000000\n"
        "    Duration: 1500.250 ms\n"
        "\n"
        "Summary for web1\n"
        "    Succeeded:        2 (changed=1)\n"
        "    Failed:           1\n"
        "    Total states run: 3\n"
        "    Total run time:   1.514 s\n"
    )


def test_states_shown_in_run_order_whatever_the_mapping_order() -> None:
    states = run(*(state(f"s{n}", True, n) for n in (5, 0, 12, 3)))
    text = highstate(states, "terse")
    assert re.findall(r"s\d+", text) == ["s0", "s3", "s5", "s12"]
    # A state without __run_num__ comes last rather than breaking the sort.
    key, extra = state("late", True, 0)
    del extra["__run_num__"]
    text = highstate({key: extra, **states}, "terse")
    assert re.findall(r"(s\d+|late)", text)[-1] == "late"


def test_nested_changes_old_before_new_and_lists() -> None:
    changes = {
        "nginx": {"new": "1.24.0", "old": ""},
        "users": ["www", {"name": "deploy", "groups": ["adm", "www"]}],
        "mode": "0644",
        "note": "two\nlines",
        "empty": {},
    }
    text = highstate(run(state("pkgs", True, 0, fun="pkg.installed", changes=changes)))
    assert text.split("     Changes:\n")[1].split("\n\n")[0] == (
        "              empty: {}\n"
        "              mode: 0644\n"
        "              nginx:\n"
        "                  old: ''\n"
        "                  new: 1.24.0\n"
        "              note:\n"
        "                  two\n"
        "                  lines\n"
        "              users:\n"
        "                  - www\n"
        "                  - groups:\n"
        "                        - adm\n"
        "                        - www\n"
        "                    name: deploy"
    )


def test_test_mode_would_change_counts_and_result_none() -> None:
    states = run(
        state("motd", None, 0, fun="file.managed", changes={"diff": MOTD_DIFF}),
        state("ready", True, 1),
    )
    text = highstate(states)
    assert "      Result: None\n" in text
    assert "    Succeeded:        2 (changed=0, would change=1)\n" in text
    assert "    Failed:           0\n" in text


def test_sub_second_run_time_in_ms_and_missing_fields() -> None:
    key, only = state("bare", True, 0, duration=0.25)
    for field in ("start_time", "__sls__", "__id__"):
        del only[field]
    text = highstate({key: only})
    assert "          ID: bare\n" in text  # from the key
    assert "Started" not in text and "SLS" not in text
    assert text.endswith("    Total run time:   0.250 ms\n")


def test_warnings_shown() -> None:
    key, value = state("old", True, 0)
    value["warnings"] = ["'pkg.latest' is deprecated"]
    assert "    Warnings: 'pkg.latest' is deprecated\n" in highstate({key: value})


# -- other layouts ------------------------------------------------------------


def test_terse_one_line_each() -> None:
    assert highstate(RUN, "terse").split("\n\n")[0] == (
        "web1:\n"
        "    test.succeed_without_changes ready: unchanged in 1.500 ms\n"
        "    file.managed /etc/motd (id motd): changed in 12.345 ms\n"
        "    pkg.installed nginx: failed in 1500.250 ms - Package nginx could not be installed"
    )


def test_mixed_full_for_failures_only() -> None:
    text = highstate(RUN, "mixed")
    assert "    test.succeed_without_changes ready: unchanged in 1.500 ms\n" in text
    assert "    file.managed /etc/motd (id motd): changed in 12.345 ms\n" in text
    assert "          ID: nginx\n" in text
    assert text.count("----------") == 1


def test_changes_hides_unchanged_successes_with_a_count() -> None:
    states = {**RUN, **run(state("also", True, 3))}
    text = highstate(states, "changes")
    assert "ID: ready" not in text and "ID: also" not in text
    assert "          ID: motd\n" in text and "          ID: nginx\n" in text
    assert "    2 states succeeded without changes (not shown)\n\nSummary for web1\n" in text
    assert "    Total states run: 4\n" in text
    one = highstate(run(state("ready", True, 0)), "changes")
    assert "    1 state succeeded without changes (not shown)\n" in one


def test_summary_same_in_every_layout() -> None:
    summaries = {highstate(RUN, layout).split("\n\n")[-1] for layout in STATE_OUTPUTS}
    assert len(summaries) == 1


def test_unknown_state_output() -> None:
    with pytest.raises(UsageError, match="unknown state output 'short'"):
        highstate(RUN, "short")


# -- returns that are not a state run's result ----------------------------------------


def test_compile_errors_listed() -> None:
    errors = ["web.sls, line 3: mapping values are not allowed here\n    port: : 80", "no sls 'db'"]
    assert highstate(errors) == (
        "web1:\n"
        "    The state run stopped before applying anything:\n"
        "    - web.sls, line 3: mapping values are not allowed here\n"
        "          port: : 80\n"
        "    - no sls 'db'\n"
    )
    coloured = highstate(errors, color=True)
    assert f"    {RED}- no sls 'db'{END}\n" in coloured


def test_string_error_and_other_values_shown_nested() -> None:
    assert highstate("ERROR: a state run is already running") == (
        "web1:\n    ERROR: a state run is already running\n"
    )
    text = format_return("web1", "ERROR: boom", "highstate", color=True, failed=True)
    assert text == f"{GREEN}web1{END}:\n    {RED}ERROR: boom{END}\n"
    assert highstate({"os": "Debian"}) == format_return("web1", {"os": "Debian"}, "nested", False)
    assert highstate(True) == "web1:\n    True\n"


def test_empty_run() -> None:
    text = highstate({})
    assert text.startswith("web1:\n    No states were run.\n\nSummary for web1\n")
    assert "    Succeeded:        0 (changed=0)\n    Failed:           0\n" in text


def test_json_stays_the_raw_return() -> None:
    assert json.loads(format_all({"web1": RUN}, "json")) == {"web1": RUN}


def test_format_all_passes_the_layout() -> None:
    text = format_all({"web2": RUN, "web1": RUN}, "highstate", state_output="terse")
    assert text == highstate(RUN, "terse") + highstate(RUN, "terse").replace("web1", "web2")


# -- colour -------------------------------------------------------------------


def test_colours_by_status() -> None:
    states = run(
        state("ready", True, 0),
        state("motd", True, 1, fun="file.managed", changes={"diff": MOTD_DIFF}),
        state("maybe", None, 2, changes={"x": 1}),
        state("broken", False, 3),
    )
    text = highstate(states, "terse", color=True)
    assert f"    {GREEN}test.succeed_without_changes ready: unchanged" in text
    assert f"    {CYAN}file.managed motd: changed" in text
    assert f"    {YELLOW}test.succeed_without_changes maybe: would change" in text
    assert f"    {RED}test.succeed_without_changes broken: failed" in text
    assert text.startswith(f"{GREEN}web1{END}:\n")
    assert f"    {GREEN}Succeeded:        3 (changed=1, would change=1){END}\n" in text
    assert f"    {RED}Failed:           1{END}\n" in text
    assert "    Total states run: 4\n" in text


def test_diff_lines_coloured_in_full() -> None:
    text = highstate(run(state("motd", True, 0, changes={"diff": MOTD_DIFF})), color=True)
    assert f"    {CYAN}      ID: motd{END}\n" in text
    assert f"                  {GREEN}+new{END}\n" in text
    assert f"                  {RED}-old{END}\n" in text
    assert f"                  {CYAN}@@ -1 +1 @@{END}\n" in text
    assert f"                  {CYAN}--- /etc/motd{END}\n" in text  # the state's colour


def test_no_escape_codes_without_colour() -> None:
    for layout in STATE_OUTPUTS:
        assert "\033" not in highstate(RUN, layout)
    assert "\033" not in highstate(["error"]) + highstate("ERROR: x")


def test_failed_is_green_when_nothing_failed() -> None:
    text = highstate(run(state("ready", True, 0)), color=True)
    assert f"    {GREEN}Failed:           0{END}\n" in text


def test_format_highstate_direct_call_equals_format_return() -> None:
    assert format_highstate("web1", RUN, color=False) == highstate(RUN)


# -- progress lines, statuses, defaults ----------------------------------------------


@pytest.mark.parametrize(
    ("result", "changes", "status"),
    [
        (True, {}, "unchanged"),
        (True, {"diff": "x"}, "changed"),
        (None, {"diff": "x"}, "would change"),
        (False, {}, "failed"),
        (False, {"partly": True}, "failed"),
    ],
)
def test_state_status(result: bool | None, changes: dict[str, Any], status: str) -> None:
    assert state_status(result, changes) == status


def test_format_progress() -> None:
    data = {
        "n": 3,
        "total": 20,
        "id": "motd",
        "state": "file.managed",
        "name": "/etc/motd",
        "result": True,
        "changed": True,
    }
    assert format_progress(data) == "[3/20] file.managed /etc/motd: changed"
    assert (
        format_progress({**data, "result": None}) == "[3/20] file.managed /etc/motd: would change"
    )
    assert format_progress({**data, "result": False}) == "[3/20] file.managed /etc/motd: failed"
    assert format_progress({**data, "changed": False}) == "[3/20] file.managed /etc/motd: unchanged"
    assert format_progress({}) is None  # a heartbeat
    assert format_progress(None) is None


@pytest.mark.parametrize(
    "function",
    ["state.apply", "state.sls", "state.highstate", "state.single"],
)
def test_state_runs_default_to_highstate(function: str) -> None:
    assert default_outputter(function) == "highstate"


@pytest.mark.parametrize("function", ["state.show_sls", "state.show_top", "test.ping", "cmd.run"])
def test_other_functions_default_to_nested(function: str) -> None:
    assert default_outputter(function) == "nested"


def test_a_failed_state_fails_the_return() -> None:
    """A state run with a failed state returns retcode 2; ff counts it as failed (exit 1)."""
    assert not succeeded({"success": False, "retcode": 2, "return": RUN})
    assert succeeded({"success": True, "retcode": 0, "return": {}})


# -- ff's progress display ----------------------------------------------------------


def prog(n: int, total: int, result: bool | None = True, changed: bool = False) -> dict[str, Any]:
    data = {"n": n, "total": total, "id": f"s{n}", "state": "test.nop", "name": f"s{n}"}
    return {
        "id": "web1",
        "jid": "1",
        "fun": "state.apply",
        "elapsed": 1.0,
        "data": {**data, "result": result, "changed": changed},
    }


def test_ff_verbose_prints_each_state(capsys: pytest.CaptureFixture[str]) -> None:
    progress = ff._Progress(verbose=True, live=False)
    progress("web1", prog(1, 2, changed=True))
    progress("web1", {"id": "web1", "jid": "1", "fun": "state.apply", "elapsed": 1.0, "data": {}})
    progress("web2", prog(2, 2, result=False))
    err = capsys.readouterr().err
    assert err.splitlines()[:2] == [
        "web1: [1/2] test.nop s1: changed",
        "web2: [2/2] test.nop s2: failed",
    ]


def test_ff_quiet_off_a_terminal_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    progress = ff._Progress(verbose=False, live=False)
    progress("web1", prog(1, 2))
    assert capsys.readouterr().err == ""


def test_ff_live_status_line_erased(capsys: pytest.CaptureFixture[str]) -> None:
    progress = ff._Progress(verbose=False, live=True)
    progress("web1", prog(3, 20))
    assert capsys.readouterr().err == "\r\033[Kstates: web1 3/20"
    progress.returned("web1")
    assert capsys.readouterr().err == "\r\033[K"
    progress.clear()  # nothing shown, nothing to erase
    assert capsys.readouterr().err == ""


# -- ff and ff-call options, parsed without a master ---------------------------------


def test_ff_help_lists_the_state_options() -> None:
    res = CliRunner().invoke(ff.main, ["--help"])
    assert res.exit_code == 0
    assert "--state-output [full|terse|mixed|changes]" in res.output
    assert "highstate" in res.output


@pytest.mark.parametrize("command", [ff.main, call.main])
def test_bad_state_output_is_a_usage_error(command: Any) -> None:
    args = ["*", "state.apply"] if command is ff.main else ["--local", "state.apply"]
    res = CliRunner().invoke(command, [*args, "--state-output", "short"])
    assert res.exit_code == 2
    assert "Invalid value for '--state-output'" in res.output


def test_ff_out_accepts_highstate_then_needs_a_master(tmp_path: Any) -> None:
    conf = tmp_path / "ff.conf"
    conf.write_text(f"master:\n  root_dir: {tmp_path}\n")
    res = CliRunner().invoke(
        ff.main,
        ["-c", str(conf), "*", "test.ping", "--out", "highstate", "--state-output", "terse"],
    )
    assert res.exit_code != 0
    assert "no master is running here" in res.output


def test_ff_call_highstate_on_a_plain_function(tmp_path: Any) -> None:
    conf = tmp_path / "ff.conf"
    conf.write_text(f"minion:\n  root_dir: {tmp_path}\n  id: solo\n")
    res = CliRunner().invoke(
        call.main, ["-c", str(conf), "--local", "test.echo", "hi", "--out", "highstate"]
    )
    assert res.exit_code == 0, res.output
    assert res.output == "local:\n    hi\n"
