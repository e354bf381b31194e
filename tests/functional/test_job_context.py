"""``fluxforge.testing.job_context``, the command-runner seam, and state results in the engine.

The context is the one a test builds for in-process calls: real loaders, a
real configuration in a folder, and ``with`` to make it current. Commands
reach ``JobContext.command_runner``: a fake one sees the checked command,
the default one runs it. A custom state module may return a
:class:`StateResult` or a plain dict, and a state run records both alike.
"""

from __future__ import annotations

import gc
import os
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest

from fluxforge.errors import ExecutionError
from fluxforge.host.procs import Command, Outcome
from fluxforge.plugins.context import current
from fluxforge.plugins.loader import BUILTIN_STATES, Functions
from fluxforge.plugins.results import Result
from fluxforge.testing import job_context

# --- job_context --------------------------------------------------------------------------


def test_defaults_are_a_ready_minion_job(tmp_path: Path) -> None:
    ctx = job_context(tmp_path)
    assert ctx.opts.id == "t1" and ctx.opts.root_dir == str(tmp_path)
    assert ctx.opts.cachedir.startswith(str(tmp_path))
    assert ctx.grains["id"] == "t1" and {"host", "kernel", "os", "os_family"} <= set(ctx.grains)
    assert ctx.pillar == {} and ctx.test is False and ctx.files is None
    assert ctx.funcs["test.ping"]() is True
    assert ctx.states is not None and ctx.states["test.nop"](name="x")["result"] is True


def test_with_activates_and_deactivates(tmp_path: Path) -> None:
    outer = job_context(tmp_path / "a")
    inner = job_context(tmp_path / "b")
    with pytest.raises(RuntimeError, match="no FluxForge job"):
        current()
    with outer as entered:
        assert entered is outer and current() is outer
        with inner:
            assert current() is inner
        assert current() is outer
    with pytest.raises(RuntimeError, match="no FluxForge job"):
        current()


def test_overrides_and_config(tmp_path: Path) -> None:
    ctx = job_context(
        tmp_path, {"id": "web1", "failhard": True}, grains={"os": "Debian"}, test=True, jid="1"
    )
    assert (ctx.opts.id, ctx.opts.failhard) == ("web1", True)
    assert ctx.grains == {"os": "Debian"} and ctx.test is True and ctx.jid == "1"
    again = job_context(opts=ctx.opts, pillar={"a": 1})
    assert again.opts is ctx.opts and again.pillar == {"a": 1}
    with pytest.raises(TypeError, match="no_such_field"):
        job_context(tmp_path, no_such_field=1)


def test_a_temporary_root_goes_with_its_context() -> None:
    ctx = job_context()
    root = ctx.opts.root_dir
    assert os.path.isdir(root)
    del ctx
    gc.collect()
    assert not os.path.exists(root)


# --- the command runner seam ---------------------------------------------------------------


class Recorder:
    """A command runner that runs nothing: it records each command and prints ``reply``."""

    def __init__(self, reply: str = "", retcode: int = 0) -> None:
        self.commands: list[Command] = []
        self.reply, self.retcode = reply, retcode

    def __call__(self, command: Command) -> Outcome:
        self.commands.append(command)
        return Outcome(self.reply, "", self.retcode, 4242)


def test_a_fake_runner_gets_the_checked_command(tmp_path: Path) -> None:
    fake = Recorder("faked", 3)
    with job_context(tmp_path, command_runner=fake) as ctx:
        out = ctx.funcs.call("cmd.run_all", ["echo $X"], {"env": {"X": 1}, "cwd": str(tmp_path)})
        assert out == Result({"stdout": "faked", "stderr": "", "retcode": 3, "pid": 4242}, 3)
        ctx.funcs.call("cmd.run", ["ls -l /etc"], {"python_shell": "false", "timeout": "5"})
        # Arguments are checked before the runner, whatever the runner.
        with pytest.raises(ExecutionError, match="cwd '/nope' does not exist"):
            ctx.funcs.call("cmd.run", ["true"], {"cwd": "/nope"})
    first, second = fake.commands
    assert first.argv == ["/bin/sh", "-c", "echo $X"] and first.fname == "cmd.run_all"
    assert (first.env, first.cwd, first.merge_stderr) == ({"X": "1"}, str(tmp_path), False)
    assert second.argv == ["ls", "-l", "/etc"] and second.timeout == 5
    assert second.merge_stderr is True and second.runas is None
    assert len(fake.commands) == 2


def test_the_default_runner_runs_the_command(tmp_path: Path) -> None:
    with job_context(tmp_path) as ctx:
        out = ctx.funcs.call("cmd.run_all", ["echo $X; echo err >&2"], {"env": {"X": "hi"}})
    assert isinstance(out, Result) and out.retcode == 0
    assert (out.value["stdout"], out.value["stderr"]) == ("hi", "err")


@pytest.mark.skipif(shutil.which("groupadd") is None, reason="the group module needs groupadd")
def test_system_tool_modules_go_through_the_seam(tmp_path: Path) -> None:
    fake = Recorder(retcode=1)
    refused = pytest.raises(ExecutionError, match=r"^group.add: groupadd exited 1: no output$")
    with job_context(tmp_path, command_runner=fake) as ctx, refused:
        ctx.funcs["group.add"]("fftest_never_made")
    assert [c.argv[0] for c in fake.commands] == ["groupadd"]
    assert fake.commands[0].env["LC_ALL"] == "C" and fake.commands[0].cwd == "/"


# --- state results through the engine --------------------------------------------------------

TYPED = """
from fluxforge.plugin import StateResult, apply_changes


def made(name: str) -> StateResult:
    return apply_changes(name, {name: "made"}, lambda: None, ok="", done=f"made {name}")
"""

PLAIN = """
from fluxforge.plugin import current


def made(name: str) -> dict:
    if current().test:
        return {"name": name, "result": None, "changes": {name: "made"},
                "comment": f"{name} is set to be changed"}
    return {"name": name, "result": True, "changes": {name: "made"}, "comment": f"made {name}"}
"""


@pytest.mark.parametrize("test", [False, True])
def test_a_state_run_records_state_results_and_plain_dicts_alike(
    tmp_path: Path, test: bool
) -> None:
    folder = tmp_path / "_states"
    folder.mkdir()
    (folder / "typed.py").write_text(textwrap.dedent(TYPED))
    (folder / "plain.py").write_text(textwrap.dedent(PLAIN))
    states = Functions([BUILTIN_STATES, str(folder)], kind="states")
    runs: dict[str, Any] = {}
    with job_context(tmp_path, states=states) as ctx:
        for module in ("typed", "plain"):
            out = ctx.funcs.call("state.single", [f"{module}.made", "thing"], {"test": test})
            assert isinstance(out, Result) and out.retcode == 0
            ((tag, ret),) = out.value.items()
            assert tag == f"{module}_|-thing_|-thing_|-made" and type(ret) is dict
            runs[module] = {k: ret[k] for k in ("name", "result", "changes", "comment")}
    assert runs["typed"] == runs["plain"]
    assert runs["typed"]["result"] is (None if test else True)
