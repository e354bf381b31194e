"""ffutil.* through a real loader and job context, syncing from a real FileServer."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fluxforge.config import MinionConfig, build
from fluxforge.errors import ExecutionError, FileServerError
from fluxforge.files.server import FileServer
from fluxforge.plugins.context import JobContext, activate, deactivate
from fluxforge.plugins.loader import BUILTIN_MODULES, Functions, extmods_dir

MY_JID = "20260101120000000001"
OTHER_JID = "20260101115959000002"


class Daemon:
    """Stands in for the minion daemon (it implements the MinionHooks protocol).

    Requests go to a real FileServer in-process; refreshes and kills are
    recorded; ``jobs`` is what the daemon would report as running.
    """

    def __init__(self, server: FileServer) -> None:
        self.server = server
        self.refreshed: list[str] = []
        self.killed: list[str] = []
        self.jobs: list[dict[str, Any]] = [
            {"jid": MY_JID, "fun": "ffutil.running", "arg": [], "started": 1.0},
            {"jid": OTHER_JID, "fun": "test.sleep", "arg": [60], "started": 0.5},
        ]

    def request(self, kind: str, body: dict[str, Any], timeout: float = 30.0) -> Any:
        if kind == "file_list":
            return self.server.list_files(body["env"], body["prefix"])
        if kind == "file_hash":
            return self.server.file_hash(body["env"], body["path"])
        if kind == "file_fetch":
            return self.server.fetch(body["env"], body["path"], body["offset"])
        raise AssertionError(f"unexpected request {kind}")

    def refresh(self, what: str) -> None:
        self.refreshed.append(what)

    def running(self) -> list[dict[str, Any]]:
        return [dict(job) for job in self.jobs]

    def kill(self, jid: str) -> bool:
        self.killed.append(jid)
        return any(job["jid"] == jid for job in self.jobs)


@pytest.fixture
def roots(tmp_path: Path) -> dict[str, Path]:
    base, dev = tmp_path / "srv" / "base", tmp_path / "srv" / "dev"
    (base / "_modules" / "nested").mkdir(parents=True)
    (base / "_modules" / "hello.py").write_text(
        'def world() -> str:\n    """Say hello."""\n    return "hello world"\n'
    )
    (base / "_modules" / "other.py").write_text('def x() -> int:\n    """X."""\n    return 1\n')
    (base / "_modules" / "README.md").write_text("not a module\n")
    (base / "_modules" / "nested" / "deep.py").write_text("X = 1\n")
    (base / "_grains" / "").mkdir(parents=True)
    (base / "_grains" / "rack.py").write_text('def rack() -> dict:\n    return {"rack": "r1"}\n')
    (base / "_states").mkdir()
    (base / "_states" / "site.py").write_text(
        'def configured(name: str) -> dict:\n    """Nothing."""\n'
        '    return {"name": name, "result": True, "changes": {}, "comment": ""}\n'
    )
    (dev / "_modules").mkdir(parents=True)
    (dev / "_modules" / "hello.py").write_text(
        'def world() -> str:\n    """Dev."""\n    return "dev"\n'
    )
    (dev / "_modules" / "devonly.py").write_text('def y() -> int:\n    """Y."""\n    return 2\n')
    return {"base": base, "dev": dev}


@pytest.fixture
def daemon(roots: dict[str, Path]) -> Daemon:
    return Daemon(FileServer({env: [str(path)] for env, path in roots.items()}, chunk_size=64))


@pytest.fixture
def ctx(tmp_path: Path, daemon: Daemon) -> Iterator[JobContext]:
    opts = build(MinionConfig, {"id": "t1", "root_dir": str(tmp_path)})
    job = JobContext(
        opts=opts, grains={}, pillar={}, funcs=Functions(), jid=MY_JID, fun="t", minion=daemon
    )
    token = activate(job)
    yield job
    deactivate(token)


def call(job: JobContext, fun: str, /, *args: object, **kwargs: object) -> Any:
    return job.funcs.call(fun, list(args), kwargs)


def extmods(job: JobContext, kind: str = "modules") -> Path:
    return Path(extmods_dir(job.opts.cachedir, kind))


def test_sync_modules_copies_the_top_level_python_files_and_refreshes(
    ctx: JobContext, daemon: Daemon
) -> None:
    assert call(ctx, "ffutil.sync_modules") == ["modules.hello", "modules.other"]
    assert sorted(os.listdir(extmods(ctx))) == ["hello.py", "other.py"]
    assert daemon.refreshed == ["modules"]
    # The synced module loads beside the built-in ones.
    funcs = Functions([BUILTIN_MODULES, str(extmods(ctx))])
    assert funcs.call("hello.world") == "hello world"


def test_sync_modules_again_reports_only_changes_and_removes_stale_files(
    ctx: JobContext, daemon: Daemon, roots: dict[str, Path]
) -> None:
    call(ctx, "ffutil.sync_modules")
    assert call(ctx, "ffutil.sync_modules") == []  # nothing changed...
    assert daemon.refreshed == ["modules", "modules"]  # ...but refreshed anyway, as Salt does
    (roots["base"] / "_modules" / "other.py").unlink()
    (roots["base"] / "_modules" / "hello.py").write_text("def world() -> str:\n    return 'v2'\n")
    (extmods(ctx) / "local-leftover.py").write_text("X = 1\n")
    assert call(ctx, "ffutil.sync_modules", refresh="false") == ["modules.hello"]
    assert sorted(os.listdir(extmods(ctx))) == ["hello.py"]
    assert "v2" in (extmods(ctx) / "hello.py").read_text()
    assert daemon.refreshed == ["modules", "modules"]  # refresh=false


def test_sync_modules_from_several_environments_first_wins(ctx: JobContext) -> None:
    assert call(ctx, "ffutil.sync_modules", saltenv="dev,base") == [
        "modules.devonly",
        "modules.hello",
        "modules.other",
    ]
    assert '"dev"' in (extmods(ctx) / "hello.py").read_text()
    assert call(ctx, "ffutil.sync_modules", "base") == ["modules.hello"]
    assert sorted(os.listdir(extmods(ctx))) == ["hello.py", "other.py"]


def test_sync_modules_with_no_folder_on_the_master_empties_the_extensions(
    ctx: JobContext, roots: dict[str, Path]
) -> None:
    call(ctx, "ffutil.sync_modules")
    for name in os.listdir(roots["base"] / "_modules" / "nested"):
        os.unlink(roots["base"] / "_modules" / "nested" / name)
    os.rmdir(roots["base"] / "_modules" / "nested")
    for name in os.listdir(roots["base"] / "_modules"):
        os.unlink(roots["base"] / "_modules" / name)
    os.rmdir(roots["base"] / "_modules")
    assert call(ctx, "ffutil.sync_modules") == []
    assert os.listdir(extmods(ctx)) == []


def test_sync_grains_and_sync_all(ctx: JobContext, daemon: Daemon) -> None:
    assert call(ctx, "ffutil.sync_grains") == ["grains.rack"]
    assert os.listdir(extmods(ctx, "grains")) == ["rack.py"]
    assert daemon.refreshed == ["grains", "pillar"]
    daemon.refreshed.clear()
    assert call(ctx, "ffutil.sync_all") == {
        "grains": [],
        "modules": ["modules.hello", "modules.other"],
        "states": ["states.site"],
    }
    assert daemon.refreshed == ["grains", "pillar", "modules"]
    assert os.listdir(extmods(ctx, "states")) == ["site.py"]


def test_sync_states(ctx: JobContext, daemon: Daemon) -> None:
    assert call(ctx, "ffutil.sync_states") == ["states.site"]
    assert daemon.refreshed == ["modules"]
    assert call(ctx, "ffutil.sync_states") == []


def test_sync_from_an_unknown_environment_fails_clearly(ctx: JobContext) -> None:
    with pytest.raises(FileServerError, match="unknown file server environment 'prod'"):
        call(ctx, "ffutil.sync_modules", saltenv="prod")


def test_refresh_functions(ctx: JobContext, daemon: Daemon) -> None:
    assert call(ctx, "ffutil.refresh_modules") is True
    assert call(ctx, "ffutil.refresh_pillar") is True
    assert call(ctx, "ffutil.refresh_grains") is True
    assert call(ctx, "ffutil.refresh_grains", refresh_pillar="false") is True
    assert daemon.refreshed == ["modules", "pillar", "grains", "pillar", "grains"]


def test_running_leaves_out_the_calling_job(ctx: JobContext) -> None:
    assert call(ctx, "ffutil.running") == [
        {"jid": OTHER_JID, "fun": "test.sleep", "arg": [60], "started": 0.5}
    ]


def test_find_job_takes_the_jid_as_text(ctx: JobContext) -> None:
    # Typed on a command line the jid is text; a str parameter keeps it so.
    assert call(ctx, "ffutil.find_job", OTHER_JID)["fun"] == "test.sleep"
    assert call(ctx, "ffutil.find_job", "20990101000000000000") == {}
    assert call(ctx, "ffutil.find_job", MY_JID) == {}


def test_kill_job(ctx: JobContext, daemon: Daemon) -> None:
    assert call(ctx, "ffutil.kill_job", OTHER_JID) == f"Job {OTHER_JID} was asked to stop"
    assert call(ctx, "ffutil.kill_job", "20990101000000000000") == (
        "No job 20990101000000000000 is running on this minion"
    )
    assert "does not stop itself" in call(ctx, "ffutil.kill_job", MY_JID)
    assert daemon.killed == [OTHER_JID, "20990101000000000000"]


@pytest.mark.parametrize(
    "fun",
    [
        "sync_modules",
        "sync_grains",
        "sync_all",
        "refresh_grains",
        "refresh_pillar",
        "refresh_modules",
        "running",
    ],
)
def test_without_a_minion_every_function_says_so(ctx: JobContext, fun: str) -> None:
    ctx.minion = None  # as under ff-call --local
    with pytest.raises(
        ExecutionError,
        match=rf"^ffutil\.{fun} needs a running minion; it is not available with ff-call --local$",
    ):
        call(ctx, f"ffutil.{fun}")


@pytest.mark.parametrize("fun", ["find_job", "kill_job"])
def test_without_a_minion_job_functions_say_so(ctx: JobContext, fun: str) -> None:
    ctx.minion = None
    with pytest.raises(ExecutionError, match=rf"^ffutil\.{fun} needs a running minion"):
        call(ctx, f"ffutil.{fun}", OTHER_JID)
    assert not os.path.exists(os.path.join(ctx.opts.cachedir, "extmods"))
