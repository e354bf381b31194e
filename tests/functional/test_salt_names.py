"""Salt's names for what FluxForge has: saltutil.*, cmd.shell/script/exec_code, sys.state_*."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from fluxforge.errors import ExecutionError, UnknownFunction
from fluxforge.modules import ffutil
from fluxforge.plugins.context import JobContext
from fluxforge.plugins.loader import BUILTIN_MODULES, Functions
from fluxforge.plugins.results import Result
from fluxforge.testing import job_context


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[JobContext]:
    with job_context(tmp_path, {}, grains={"id": "t1"}, jid="1", fun="t") as job:
        yield job


def call(job: JobContext, fun: str, /, *args: object, **kwargs: object) -> object:
    return job.funcs.call(fun, list(args), kwargs)


# --- saltutil.* is ffutil.* ---------------------------------------------------


def test_saltutil_names_are_the_ffutil_functions() -> None:
    funcs = Functions()
    for name in ("sync_all", "sync_modules", "refresh_pillar", "running", "kill_job"):
        assert funcs.get(f"saltutil.{name}") is getattr(ffutil, name)
    assert [n.split(".")[1] for n in funcs.names("saltutil")] == [
        n.split(".")[1] for n in funcs.names("ffutil")
    ]
    assert "saltutil" in funcs.modules() and "ffutil" in funcs.modules()
    with pytest.raises(UnknownFunction, match=r"did you mean 'saltutil\.sync_all'"):
        funcs.get("saltutil.sync_alll")


def test_saltutil_needs_the_minion_as_ffutil_does(ctx: JobContext) -> None:
    with pytest.raises(ExecutionError, match=r"ffutil.refresh_pillar needs a running minion"):
        call(ctx, "saltutil.refresh_pillar")


def test_a_saltutil_plugin_file_wins_over_the_alias(tmp_path: Path) -> None:
    (tmp_path / "saltutil.py").write_text('def mine() -> str:\n    """Mine."""\n    return "x"\n')
    funcs = Functions([BUILTIN_MODULES, str(tmp_path)])
    funcs.get("ffutil.sync_all")  # loads ffutil, with its alias
    assert funcs.names("saltutil") == ["saltutil.mine"]


# --- cmd.shell ----------------------------------------------------------------------


def test_shell_always_uses_the_shell(ctx: JobContext) -> None:
    assert call(ctx, "cmd.shell", "echo a b | tr ' ' - ; echo err >&2") == Result("a-b\nerr", 0)
    assert call(ctx, "cmd.shell", "exit 3") == Result("", 3)
    with pytest.raises(UnknownFunction):
        call(ctx, "cmd.shel", "true")
    with pytest.raises(ExecutionError, match="has no parameter 'python_shell'"):
        call(ctx, "cmd.shell", "true", python_shell=False)


# --- cmd.script ---------------------------------------------------------------------


def _script(folder: Path, text: str) -> Path:
    path = folder / "report.sh"
    path.write_text(text)
    return path


def test_script_runs_a_local_file_with_args(ctx: JobContext, tmp_path: Path) -> None:
    path = _script(
        tmp_path,
        '#!/bin/sh\necho "$# [$1] [$2]"\nls -ld "$0" | cut -c1-10\necho "$0" >&2\nexit 4\n',
    )
    result = call(ctx, "cmd.script", str(path), "one 'two words'")
    assert isinstance(result, Result) and result.retcode == 4
    value = result.value
    assert set(value) == {"pid", "retcode", "stdout", "stderr"}
    assert value["stdout"] == "2 [one] [two words]\n-r-x------"
    assert value["retcode"] == 4 and value["pid"] > 0
    # It ran a private copy, gone now; the source is untouched.
    ran = Path(value["stderr"])
    assert ran.name == "report.sh" and ran != path and not ran.parent.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_script_args_as_a_list_and_cwd(ctx: JobContext, tmp_path: Path) -> None:
    path = _script(tmp_path, '#!/bin/sh\npwd\nprintf "%s\\n" "$@"\n')
    result = call(ctx, "cmd.script", str(path), args=["-x", "a b"], cwd=str(tmp_path))
    assert isinstance(result, Result)
    assert result.value["stdout"] == f"{tmp_path}\n-x\na b" and result.retcode == 0


def test_script_missing_source_has_salts_shape(ctx: JobContext, tmp_path: Path) -> None:
    result = call(ctx, "cmd.script", str(tmp_path / "nope.sh"))
    assert result == Result(
        {
            "pid": 0,
            "retcode": 1,
            "stdout": "",
            "stderr": f"cmd.script: {tmp_path / 'nope.sh'} does not exist",
            "cache_error": True,
        },
        1,
    )


def test_script_from_the_file_server_needs_a_file_client(ctx: JobContext) -> None:
    with pytest.raises(ExecutionError, match=r"cmd\.script needs a file client"):
        call(ctx, "cmd.script", "salt://scripts/x.sh")


# --- cmd.exec_code ------------------------------------------------------------------


def test_exec_code_runs_code_with_the_interpreter(ctx: JobContext) -> None:
    code = "import sys\nprint(6 * 7, sys.argv[1:])\nsys.stderr.write('e')\nsys.exit(2)"
    assert call(ctx, "cmd.exec_code", "python3", code) == Result("42 []", 2)
    assert call(ctx, "cmd.exec_code", "python3", code, args="a b") == Result("42 ['a b']", 2)
    everything = call(ctx, "cmd.exec_code_all", "python3", code, args=["a", "b"])
    assert isinstance(everything, Result) and everything.retcode == 2
    assert everything.value["stdout"] == "42 ['a', 'b']" and everything.value["stderr"] == "e"
    assert call(ctx, "cmd.exec_code", "sh", "read x; echo got $x", stdin="it") == Result(
        "got it", 0
    )


def test_exec_code_unknown_interpreter_is_one_clear_error(ctx: JobContext) -> None:
    with pytest.raises(ExecutionError, match=r"cmd\.exec_code: cannot start 'no-such-lang-xyz'"):
        call(ctx, "cmd.exec_code", "no-such-lang-xyz", "print(1)")


# --- sys.state_* --------------------------------------------------------------------


def test_list_state_modules_and_functions(ctx: JobContext) -> None:
    modules = call(ctx, "sys.list_state_modules")
    assert isinstance(modules, list) and modules == sorted(modules)
    assert {"file", "pkg", "service", "cmd"} <= set(modules)
    assert "sys" not in modules  # execution modules are not state modules
    assert call(ctx, "sys.list_state_modules", "fil*") == ["file"]
    functions = call(ctx, "sys.list_state_functions", "file")
    assert isinstance(functions, list) and "file.managed" in functions
    assert all(name.startswith("file.") for name in functions)
    assert call(ctx, "sys.list_state_functions", "file.manage*", "pkg.installed") == [
        "file.managed",
        "pkg.installed",
    ]
    with pytest.raises(UnknownFunction, match=r"did you mean 'file\.managed'"):
        call(ctx, "sys.list_state_functions", "file.manged")


def test_state_doc_has_module_and_function_docs(ctx: JobContext) -> None:
    docs = call(ctx, "sys.state_doc", "file.managed")
    assert isinstance(docs, dict) and list(docs) == ["file", "file.managed"]
    assert docs["file"] and docs["file.managed"]
    every = call(ctx, "sys.state_doc")
    assert isinstance(every, dict) and "pkg.installed" in every and "pkg" in every
