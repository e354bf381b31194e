"""Execution modules test, cmd, grains and sys, called through a real loader and context."""

from __future__ import annotations

import os
import pwd
import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from fluxforge.errors import ExecutionError, UnknownFunction
from fluxforge.plugins.context import JobContext
from fluxforge.plugins.results import Result, unwrap
from fluxforge.testing import job_context, wait_until

GRAINS = {
    "id": "t1",
    "os": "Debian",
    "roles": ["web", "db"],
    "ip4_interfaces": {"eth0": ["10.0.0.5", "10.0.0.6"], "lo": ["127.0.0.1"]},
    "deep": {"a": {"b": "c"}},
    "odd:key": "literal",
}


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[JobContext]:
    with job_context(tmp_path, {"grains": {"x": 1}}, grains=GRAINS, jid="1", fun="t") as job:
        yield job


def call(job: JobContext, fun: str, /, *args: object, **kwargs: object) -> object:
    return job.funcs.call(fun, list(args), kwargs)


# --- results ---------------------------------------------------------------


def test_unwrap_splits_result_and_leaves_plain_values() -> None:
    assert unwrap(Result("out", 3)) == ("out", 3)
    assert unwrap({"a": 1}) == ({"a": 1}, 0)


# --- test.* ----------------------------------------------------------------


def test_ping_echo_version(ctx: JobContext) -> None:
    import fluxforge

    assert call(ctx, "test.ping") is True
    assert call(ctx, "test.echo", "3") == "3"  # str parameter: never converted
    assert call(ctx, "test.version") == fluxforge.__version__


def test_arg_converts_text_for_untyped_parameters(ctx: JobContext) -> None:
    got = call(ctx, "test.arg", "3", "[a, b]", "2024-01-01", "true", name="{k: v}", n="1.5")
    assert got == {
        "args": [3, ["a", "b"], "2024-01-01", True],
        "kwargs": {"name": {"k": "v"}, "n": 1.5},
    }


def test_retcode_returns_result_with_that_retcode(ctx: JobContext) -> None:
    assert call(ctx, "test.retcode", "4") == Result(4, 4)
    assert call(ctx, "test.retcode") == Result(0, 0)


def test_exception_raises_execution_error(ctx: JobContext) -> None:
    with pytest.raises(ExecutionError, match=r"^boom$"):
        call(ctx, "test.exception", "boom")


def test_sleep_sleeps_and_stops_when_cancelled(ctx: JobContext) -> None:
    start = time.monotonic()
    assert call(ctx, "test.sleep", "0.2") is True
    assert time.monotonic() - start >= 0.2
    timer = threading.Timer(0.2, ctx.cancelled.set)
    timer.start()
    start = time.monotonic()
    with pytest.raises(ExecutionError, match="cancelled"):
        call(ctx, "test.sleep", "30")
    timer.join()
    assert time.monotonic() - start < 5


# --- loader behaviour seen through modules ---------------------------------


def test_unknown_function_names_the_closest(ctx: JobContext) -> None:
    with pytest.raises(UnknownFunction, match=re.escape("did you mean 'cmd.run'")):
        call(ctx, "cmd.rnu", "true")


def test_unexpected_keyword_is_refused(ctx: JobContext) -> None:
    with pytest.raises(ExecutionError, match="has no parameter 'bogus'"):
        call(ctx, "test.echo", "hi", bogus="1")


def test_too_many_positional_arguments(ctx: JobContext) -> None:
    with pytest.raises(ExecutionError, match="at most 1 positional"):
        call(ctx, "test.echo", "a", "b")


# --- cmd.* -----------------------------------------------------------------


def test_run_returns_output_and_zero_retcode(ctx: JobContext) -> None:
    assert call(ctx, "cmd.run", "echo hi") == Result("hi", 0)


def test_run_true_is_run_as_text_not_a_boolean(ctx: JobContext) -> None:
    assert call(ctx, "cmd.run", "true") == Result("", 0)
    assert call(ctx, "cmd.retcode", "false") == Result(1, 1)


def test_run_nonzero_exit_sets_retcode(ctx: JobContext) -> None:
    assert call(ctx, "cmd.run", "echo out; echo err >&2; exit 3") == Result("out\nerr", 3)


def test_run_stdout_leaves_out_stderr(ctx: JobContext) -> None:
    assert call(ctx, "cmd.run_stdout", "echo out; echo err >&2; exit 2") == Result("out", 2)


def test_run_all_reports_everything(ctx: JobContext) -> None:
    res = call(ctx, "cmd.run_all", "echo out; echo err >&2; exit 5")
    assert isinstance(res, Result)
    assert res.retcode == 5
    assert res.value["stdout"] == "out"
    assert res.value["stderr"] == "err"
    assert res.value["retcode"] == 5
    assert isinstance(res.value["pid"], int) and res.value["pid"] > 0


def test_run_cwd_env_stdin(ctx: JobContext, tmp_path: Path) -> None:
    assert call(ctx, "cmd.run", "pwd", cwd=str(tmp_path)).value == str(tmp_path)  # type: ignore[attr-defined]
    os.environ["FF_TEST_INHERITED"] = "kept"
    try:
        out = call(ctx, "cmd.run", "echo $FF_A-$FF_TEST_INHERITED", env="{FF_A: 7}")
    finally:
        del os.environ["FF_TEST_INHERITED"]
    assert out == Result("7-kept", 0)
    assert call(ctx, "cmd.run", "tr a-z A-Z", stdin="hello\n") == Result("HELLO", 0)


def test_run_large_stdin_and_output(ctx: JobContext) -> None:
    text = "x" * 300_000
    res = call(ctx, "cmd.run", "cat", stdin=text)
    assert res == Result(text, 0)


def test_run_missing_cwd_is_an_error(ctx: JobContext, tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ExecutionError, match=re.escape(f"cmd.run: cwd '{missing}' does not exist")):
        call(ctx, "cmd.run", "true", cwd=str(missing))


def test_run_without_shell(ctx: JobContext) -> None:
    assert call(ctx, "cmd.run", "echo '$HOME  x'", python_shell="false") == Result("$HOME  x", 0)
    with pytest.raises(ExecutionError, match="cannot start 'no-such-command-ff'"):
        call(ctx, "cmd.run", "no-such-command-ff", python_shell="false")


def _wait_gone(pid: int) -> bool:
    def gone() -> bool:
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    return wait_until(gone, 3, what=f"process {pid} to die")


def test_timeout_kills_the_process_group(ctx: JobContext, tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    start = time.monotonic()
    res = call(ctx, "cmd.run_all", f"sleep 30 & echo $! > {pidfile}; sleep 30", timeout="0.5")
    assert time.monotonic() - start < 5
    assert isinstance(res, Result)
    assert res.retcode == 124
    assert "timed out after 0.5 s" in res.value["stderr"]
    assert _wait_gone(int(pidfile.read_text()))  # the background child died too
    assert call(ctx, "cmd.run", "echo before; sleep 30", timeout="0.2") == Result(
        "before\ncmd.run: timed out after 0.2 s", 124
    )


def test_cancel_kills_the_command(ctx: JobContext, tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    timer = threading.Timer(0.3, ctx.cancelled.set)
    timer.start()
    start = time.monotonic()
    with pytest.raises(ExecutionError, match="cancelled"):
        call(ctx, "cmd.run", f"sleep 30 & echo $! > {pidfile}; wait")
    timer.join()
    assert time.monotonic() - start < 5
    assert _wait_gone(int(pidfile.read_text()))


def test_background_process_holding_output_does_not_hang(ctx: JobContext, tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    start = time.monotonic()
    try:
        res = call(ctx, "cmd.run", f"echo started; sleep 30 & echo $! > {pidfile}")
        assert res == Result("started", 0)
        assert time.monotonic() - start < 10
    finally:
        os.kill(int(pidfile.read_text()), signal.SIGKILL)


@pytest.mark.skipif(os.geteuid() != 0, reason="switching user needs root")
def test_runas_switches_user_when_root(ctx: JobContext) -> None:
    nobody = pwd.getpwnam("nobody")
    res = call(ctx, "cmd.run", "id -u; echo $USER $HOME", runas="nobody", cwd="/")
    assert res == Result(f"{nobody.pw_uid}\nnobody {nobody.pw_dir}", 0)


def test_runas_unknown_user(ctx: JobContext) -> None:
    with pytest.raises(ExecutionError, match="runas user 'no-such-user-ff' does not exist"):
        call(ctx, "cmd.run", "true", runas="no-such-user-ff")


def test_runas_refused_when_not_root(ctx: JobContext, monkeypatch: pytest.MonkeyPatch) -> None:
    if os.geteuid() == 0:
        monkeypatch.setattr(os, "geteuid", lambda: pwd.getpwnam("nobody").pw_uid)
    with pytest.raises(ExecutionError, match=r"cannot run as 'root'.*not root"):
        call(ctx, "cmd.run", "true", runas="root")


# --- grains.* --------------------------------------------------------------


def test_grains_items_ls_item(ctx: JobContext) -> None:
    items = call(ctx, "grains.items")
    assert items == GRAINS and items is not GRAINS
    assert call(ctx, "grains.ls") == sorted(GRAINS)
    assert call(ctx, "grains.item", "os", "deep:a:b", "missing") == {
        "os": "Debian",
        "deep:a:b": "c",
        "missing": "",
    }


@pytest.mark.parametrize(
    ("key", "kwargs", "expected"),
    [
        ("os", {}, "Debian"),
        ("deep:a:b", {}, "c"),
        ("deep:a", {}, {"b": "c"}),
        ("ip4_interfaces:eth0:1", {}, "10.0.0.6"),
        ("roles:0", {}, "web"),
        ("roles:7", {}, ""),
        ("roles:x", {"default": "d"}, "d"),
        ("nope", {}, ""),
        ("nope", {"default": "[1, 2]"}, [1, 2]),
        ("deep/a/b", {"delimiter": "/"}, "c"),
        ("odd:key", {}, "literal"),
    ],
)
def test_grains_get_paths(
    ctx: JobContext, key: str, kwargs: dict[str, str], expected: object
) -> None:
    assert call(ctx, "grains.get", key, **kwargs) == expected


def test_grains_get_returns_a_copy(ctx: JobContext) -> None:
    got = call(ctx, "grains.get", "roles")
    assert isinstance(got, list)
    got.append("evil")
    assert GRAINS["roles"] == ["web", "db"]


# --- sys.* -----------------------------------------------------------------


def test_sys_lists_modules_and_functions(ctx: JobContext) -> None:
    modules = call(ctx, "sys.list_modules")
    assert isinstance(modules, list)
    assert {"cmd", "grains", "sys", "test"} <= set(modules)
    assert modules == sorted(modules)
    assert call(ctx, "sys.list_functions", "cmd") == [
        "cmd.exec_code",
        "cmd.exec_code_all",
        "cmd.retcode",
        "cmd.run",
        "cmd.run_all",
        "cmd.run_stdout",
        "cmd.script",
        "cmd.shell",
    ]
    assert call(ctx, "sys.list_functions", "cmd.run*") == [
        "cmd.run",
        "cmd.run_all",
        "cmd.run_stdout",
    ]
    everything = call(ctx, "sys.list_functions")
    assert isinstance(everything, list)
    assert "test.ping" in everything and "sys.doc" in everything
    assert not any(name.split(".")[1].startswith("_") for name in everything)


def test_sys_doc(ctx: JobContext) -> None:
    one = call(ctx, "sys.doc", "test.ping")
    assert isinstance(one, dict) and list(one) == ["test.ping"]
    assert one["test.ping"].startswith("Return True")
    module = call(ctx, "sys.doc", "test")
    assert isinstance(module, dict)
    assert "test.sleep" in module and all(module.values())
    every = call(ctx, "sys.doc")
    assert isinstance(every, dict)
    assert all(every.values()), [k for k, v in every.items() if not v]  # all documented
    with pytest.raises(UnknownFunction, match=re.escape("did you mean 'test.ping'")):
        call(ctx, "sys.doc", "test.pign")


def test_sys_argspec(ctx: JobContext) -> None:
    spec = call(ctx, "sys.argspec", "cmd.run")
    assert spec == {
        "cmd.run": {
            "args": [
                "cmd",
                "cwd",
                "env",
                "stdin",
                "timeout",
                "runas",
                "shell",
                "python_shell",
            ],
            "defaults": [None, None, None, None, None, "/bin/sh", True],
            "varargs": None,
            "kwargs": None,
        }
    }
    arg = call(ctx, "sys.argspec", "test.arg")
    assert arg == {"test.arg": {"args": [], "defaults": [], "varargs": "args", "kwargs": "kwargs"}}
