"""The state module over real trees: top files, rendering, compiling, errors, retcodes, show_*.

Trees live in tests/states/: ``basic`` (a top file with grain and compound
matches, includes, map.jinja) and ``req`` (one SLS per feature, with the
recording ``rec`` state module in its ``_states/``).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fluxforge.errors import ExecutionError
from fluxforge.files.client import local_client
from fluxforge.plugins.context import JobContext
from fluxforge.plugins.loader import BUILTIN_STATES, Functions, execution_functions
from fluxforge.plugins.results import Result
from fluxforge.testing import job_context, wait_until

STATES = Path(__file__).resolve().parent.parent / "states"


def make_ctx(
    tmp_path: Path,
    tree: str,
    minion_id: str = "m1",
    grains: dict[str, Any] | None = None,
    pillar: dict[str, Any] | None = None,
    jid: str = "20240101000000000001",
) -> JobContext:
    cache = str(tmp_path / "cache")
    base = {"log": str(tmp_path / "log"), "dir": str(tmp_path)}
    return job_context(
        tmp_path,
        {"id": minion_id},
        grains=grains if grains is not None else {"os": "Debian"},
        pillar={**base, **(pillar or {})},
        funcs=execution_functions(cache),
        states=Functions([BUILTIN_STATES, str(STATES / "req" / "_states")], kind="states"),
        files=local_client(cache, {"base": [str(STATES / tree)]}),
        jid=jid,
        fun="state.apply",
    )


@pytest.fixture
def jobs(tmp_path: Path) -> Iterator[Any]:
    """Make a job over a tree of tests/states and make it current (undone after the test)."""
    with contextlib.ExitStack() as entered:

        def make(tree: str = "req", **kwargs: Any) -> JobContext:
            return entered.enter_context(make_ctx(tmp_path, tree, **kwargs))

        yield make


@pytest.fixture
def job(jobs: Any) -> JobContext:
    """A job over the ``req`` tree."""
    ctx: JobContext = jobs()
    return ctx


def call(ctx: JobContext, fun: str, *args: Any, **kwargs: Any) -> Result:
    """Call as a job does: text arguments converted for the function's signature."""
    out = ctx.funcs.call(fun, list(args), kwargs)
    assert isinstance(out, Result)
    return out


def ids(out: Result) -> list[str]:
    return [ret["__id__"] for ret in out.value.values()]


# --- the highstate: top.sls -------------------------------------------------------------------


def test_highstate_applies_what_the_top_assigns_by_grain_and_compound(jobs: Any) -> None:
    job = jobs("basic", minion_id="db1", grains={"os": "Debian", "role": "db"})
    assert call(job, "state.show_top").value == {"base": ["common", "debian", "db"]}
    out = call(job, "state.apply")
    assert out.retcode == 0
    assert ids(out) == ["common", "debian_pkg", "db_server"]
    note = next(r for r in out.value.values() if r["__id__"] == "debian_pkg")
    # map.jinja came through the file client; sls, saltenv and slspath are in the context.
    assert note["comment"] == "Debian-pkg on port 80 (debian in base, slspath '')"


def test_highstate_of_another_minion(jobs: Any) -> None:
    job = jobs("basic", minion_id="web1", grains={"os": "RedHat", "role": "db"})
    assert call(job, "state.show_top").value == {"base": ["common", "web"]}
    out = call(job, "state.highstate", test="True")
    assert ids(out) == ["common", "web_conf", "web_service"]
    service = list(out.value.values())[-1]
    assert service["comment"] == "serving web from web"
    assert list(out.value.values())[1]["result"] is None  # test mode
    assert out.retcode == 0


def test_pillar_override_reaches_templates(jobs: Any) -> None:
    job = jobs("basic", minion_id="web1", grains={"os": "Debian"})
    out = call(job, "state.apply", pillar='{"port": 8080}')
    note = next(r for r in out.value.values() if r["__id__"] == "debian_pkg")
    assert "on port 8080" in note["comment"]
    assert "port" not in job.pillar  # only for that run


def test_highstate_without_top_file_is_an_error(job: JobContext) -> None:
    out = call(job, "state.apply")
    assert out.retcode == 1
    assert out.value == [
        f"No top file: there is no top.sls in file_roots of saltenv 'base': {STATES / 'req'}"
    ]


def test_no_top_file_from_a_master_names_its_file_roots(job: JobContext) -> None:
    assert job.files is not None
    job.files.roots = None  # as for a minion, whose files come from its master
    out = call(job, "state.apply")
    assert out.value == [
        "No top file: there is no top.sls in the master's file_roots of saltenv 'base'"
    ]


def test_top_that_matches_nothing_shows_empty_and_apply_fails(jobs: Any) -> None:
    job = jobs("basic", minion_id="other", grains={"os": "Arch"})
    # common matches '*': only that.
    assert call(job, "state.show_top").value == {"base": ["common"]}


# --- SLS runs, include, extend, multiple functions --------------------------------------------


def test_apply_several_sls_as_text(job: JobContext) -> None:
    out = call(job, "state.apply", "order, sibling")
    assert ids(out) == ["last_defined", "first_defined", "middle", "sibling"]


def test_include_relative_and_nested_includes_come_first(job: JobContext) -> None:
    out = call(job, "state.sls", "inc")
    assert ids(out) == ["sibling", "inc_child", "inc_init"]
    sls_of = {r["__id__"]: r["__sls__"] for r in out.value.values()}
    assert sls_of == {"sibling": "sibling", "inc_child": "inc.child", "inc_init": "inc"}


def test_exclude_and_sls_globs(job: JobContext) -> None:
    assert ids(call(job, "state.sls", "exclude")) == ["last_defined", "first_defined", "kept"]
    # inc.* is inc.child; it includes inc, which includes it back: each renders once.
    assert ids(call(job, "state.sls", "inc.*")) == ["sibling", "inc_init", "inc_child"]
    assert call(job, "state.sls", "nope.*").value == ["No SLS in saltenv 'base' matches 'nope.*'"]


def test_extend_replaces_arguments_and_appends_requisites(job: JobContext) -> None:
    out = call(job, "state.sls", "extend")
    assert ids(out) == ["extra", "target"]  # extra is order: last, but target requires it
    assert list(out.value.values())[1]["comment"] == '{"mode": "0600", "user": "root"}'


def test_several_modules_per_id_and_short_forms(job: JobContext) -> None:
    out = call(job, "state.sls", "multi")
    assert list(out.value) == [
        "rec_|-web_|-web_|-same",
        "test_|-web_|-web_|-succeed_with_changes",
        "test_|-plain_|-plain_|-nop",
        "test_|-long_form_|-long_form_|-show_notification",
    ]
    assert list(out.value.values())[-1]["comment"] == "hello"


def test_missing_sls_and_missing_include(job: JobContext) -> None:
    out = call(job, "state.sls", "nothere")
    assert out.retcode == 1
    assert out.value == [
        "Specified SLS 'nothere' in saltenv 'base' is not available on the file server"
    ]


# --- compile errors ---------------------------------------------------------------------------


def test_render_error_names_file_and_line(job: JobContext) -> None:
    out = call(job, "state.sls", "render_error")
    assert out.retcode == 1
    assert out.value == [
        "Rendering SLS 'base:render_error' failed: ff://render_error.sls, line 3: "
        "'undefined_thing' is undefined: {{ undefined_thing.attr }}:"
    ]
    yaml = call(job, "state.sls", "yaml_error").value
    assert yaml[0].startswith("Rendering SLS 'base:yaml_error' failed: ff://yaml_error.sls, line 3")


def test_requisite_cycle_names_states_and_files(job: JobContext) -> None:
    out = call(job, "state.sls", "cycle")
    assert out.retcode == 1
    (message,) = out.value
    assert message.startswith("Recursive requisite found: ")
    for part in (
        "'alpha' (rec.same, SLS cycle in ff://cycle.sls)",
        "'beta' (rec.same, SLS cycle in ff://cycle.sls)",
        "'gamma' (rec.same, SLS cycle_other in ff://cycle_other.sls)",
        "--require-->",
        "--watch-->",
    ):
        assert part in message


def test_missing_requisite_targets_are_errors(job: JobContext) -> None:
    out = call(job, "state.sls", "missing")
    assert out.retcode == 1
    assert out.value == [
        "Referenced state does not exist for requisite [require: (pkg: nowhere)] "
        "in state 'lonely' (rec.same, SLS missing in ff://missing.sls)",
        "Referenced state does not exist for requisite [watch_in: (nobody)] "
        "in state 'also_lonely' (rec.same, SLS missing in ff://missing.sls)",
    ]


def test_malformed_declarations_and_conflicting_ids(job: JobContext) -> None:
    out = call(job, "state.sls", "malformed")
    assert out.retcode == 1
    assert out.value == [
        "ff://malformed.sls: ID 'two_funs': rec: more than one function (same, changed)",
        "ff://malformed.sls: ID 'no_fun': rec: no function given (write rec.<function>)",
        "ff://malformed.sls: ID 'twice': module 'rec' is declared twice; "
        "give each function of a module its own ID",
    ]
    conflict = call(job, "state.sls", "conflict_a").value
    assert conflict == [
        "Detected conflicting IDs, SLS IDs need to be globally unique. The conflicting ID "
        "is 'shared_id' and is found in SLS 'base:conflict_b' and SLS 'base:conflict_a'"
    ]


# --- retcodes, pillar errors, no file client --------------------------------------------------


def test_retcodes(job: JobContext) -> None:
    assert call(job, "state.sls", "order").retcode == 0
    assert call(job, "state.sls", "plain_fail").retcode == 2
    assert call(job, "state.sls", "render_error").retcode == 1
    assert call(job, "state.sls", "testmode", test="true").retcode == 0


def test_pillar_error_fails_the_run(job: JobContext) -> None:
    job.pillar_error = "pillar/base/a.sls, line 2: oops"
    out = call(job, "state.apply", "order")
    assert out == Result(["Pillar failed to compile: pillar/base/a.sls, line 2: oops"], 1)


def test_no_file_client_is_a_clear_error(job: JobContext) -> None:
    job.files = None
    with pytest.raises(ExecutionError, match="no file client in this job"):
        call(job, "state.apply", "order")


def test_pillar_override_must_be_a_mapping(job: JobContext) -> None:
    with pytest.raises(ExecutionError, match="pillar must be a mapping"):
        call(job, "state.sls", "pillared", pillar="colour=red")
    out = call(job, "state.sls", "pillared", pillar="{colour: red}")
    assert next(iter(out.value.values()))["comment"] == "colour red"


# --- state.single and the test states ---------------------------------------------------------


def test_single(job: JobContext) -> None:
    out = call(job, "state.single", "test.succeed_with_changes", "/tmp/x")
    assert list(out.value) == ["test_|-/tmp/x_|-/tmp/x_|-succeed_with_changes"]
    assert out.retcode == 0
    out = call(job, "state.single", "test.configurable_test_state", "x", result="false")
    assert out.retcode == 2
    out = call(job, "state.single", "test.fail_with_changes", "x", test="true")
    assert next(iter(out.value.values()))["result"] is None and out.retcode == 0
    refused = call(job, "state.single", "test.nop", "x", require="[a]")
    assert refused == Result(["state.single takes no require: it runs one state"], 1)


def test_test_states(job: JobContext) -> None:
    def one(fun: str, **kwargs: Any) -> dict[str, Any]:
        value = call(job, "state.single", fun, "n", **kwargs).value
        ret: dict[str, Any] = next(iter(value.values()))
        return ret

    changes = {"testing": {"old": "Unchanged", "new": "Something pretended to change"}}
    assert one("test.nop")["result"] is True
    assert one("test.succeed_without_changes")["changes"] == {}
    assert one("test.succeed_with_changes")["changes"] == changes
    assert one("test.fail_without_changes")["result"] is False
    failed = one("test.fail_with_changes")
    assert failed["result"] is False and failed["changes"] == changes
    assert one("test.show_notification", text="hi")["comment"] == "hi"
    conf = one("test.configurable_test_state", changes="false", comment="c")
    assert (conf["result"], conf["changes"], conf["comment"]) == (True, {}, "c")
    assert one("test.configurable_test_state", test="true")["result"] is None
    assert one("test.mod_watch", sfun="nop")["comment"] == "Watch statement fired (test.nop)"


# --- one state run at a time ------------------------------------------------------------------


def _start_blocking_run(tmp_path: Path, ctx: JobContext) -> tuple[threading.Thread, list[Any]]:
    done: list[Any] = []

    def target() -> None:
        with ctx:
            done.append(call(ctx, "state.sls", "block"))

    thread = threading.Thread(target=target)
    thread.start()
    wait_until((tmp_path / "started").exists, 10, interval=0.01, what="the blocking run to start")
    return thread, done


def test_a_second_run_conflicts_unless_queued(job: JobContext, tmp_path: Path) -> None:
    first = make_ctx(tmp_path, "req", jid="20240101000000000099")
    thread, done = _start_blocking_run(tmp_path, first)
    try:
        with pytest.raises(
            ExecutionError, match=r"already running on 'm1' \(jid 2024010100000000009"
        ):
            call(job, "state.sls", "order")
        # Another minion id in the same process is not blocked.
        other = make_ctx(tmp_path / "o", "req", minion_id="m2")
        (tmp_path / "o").mkdir(exist_ok=True)
        other.pillar = {**other.pillar, "log": str(tmp_path / "o" / "log")}
        with other:
            assert call(other, "state.sls", "order").retcode == 0
        queued: list[Any] = []

        def queue() -> None:
            with job:
                queued.append(call(job, "state.sls", "order", queue="True"))

        waiter = threading.Thread(target=queue)
        waiter.start()
        # Nothing signals that the waiter reached the queue: that it has not
        # finished within this time, while the first run holds the lock, is
        # the behaviour under test (it ends early if the waiter does not wait).
        waiter.join(0.3)
        assert waiter.is_alive() and not queued  # still waiting for the first run
    finally:
        (tmp_path / "release").write_text("")
        thread.join(10)
    waiter.join(10)
    assert done[0].retcode == 0 and queued[0].retcode == 0
    log = (tmp_path / "log").read_text().splitlines()
    assert log == ["block:waits", "same:last_defined", "same:first_defined", "same:middle"]


def test_a_run_in_another_process_blocks_this_one(job: JobContext, tmp_path: Path) -> None:
    # Another process (ff-call --local beside the daemon) holds this minion's lock file.
    lock = Path(job.opts.cachedir) / f"state-run-{job.opts.id}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time; fh = open(sys.argv[1], 'a+'); "
            "fcntl.flock(fh, fcntl.LOCK_EX); fh.seek(0); fh.truncate(); fh.write('4242\\n'); "
            # It holds the lock until killed; "held" on stdout says it has it.
            "fh.flush(); print('held', flush=True); time.sleep(30)",
            str(lock),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(ExecutionError, match=r"in another process \(pid 4242\)"):
            call(job, "state.sls", "order")
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    assert call(job, "state.sls", "order").retcode == 0  # released with the process


# --- show_* -----------------------------------------------------------------------------------


def test_show_sls_gives_high_data(job: JobContext) -> None:
    out = call(job, "state.show_sls", "names")
    assert out.value == {
        "pkgs": {
            "__sls__": "names",
            "__env__": "base",
            "rec": [
                "args",
                {"mode": "0644"},
                {"names": ["alpha", {"beta": [{"mode": "0700"}]}, {"gamma": {"mode": "0750"}}]},
            ],
        }
    }
    assert call(job, "state.show_sls", "cycle").retcode == 0  # cycles are found when ordering


def test_show_low_sls_in_run_order(job: JobContext) -> None:
    out = call(job, "state.show_low_sls", "order")
    assert [(c["__id__"], c["order"]) for c in out.value] == [
        ("last_defined", 1),
        ("first_defined", 2),
        ("middle", 3),
    ]
    assert out.value[1] == {
        "state": "rec",
        "__id__": "first_defined",
        "name": "first_defined",
        "fun": "same",
        "__sls__": "order",
        "__env__": "base",
        "require": [{"rec": "last_defined"}],
        "order": 2,
    }
    assert call(job, "state.show_low_sls", "cycle").retcode == 1


def test_show_highstate_and_lowstate(jobs: Any) -> None:
    job = jobs("basic", minion_id="web1", grains={"os": "RedHat"})
    high = call(job, "state.show_highstate").value
    assert list(high) == ["common", "web_conf", "web_service"]
    assert high["common"] == {
        "__sls__": "common",
        "__env__": "base",
        "test": ["succeed_without_changes"],
    }
    low = call(job, "state.show_lowstate").value
    assert [(c["state"], c["fun"], c["name"]) for c in low] == [
        ("test", "succeed_without_changes", "common"),
        ("test", "succeed_with_changes", "/etc/web.conf"),
        ("test", "configurable_test_state", "web_service"),
    ]
