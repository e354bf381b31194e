"""The grains execution module, through a real loader, a job context and a real grains file."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fluxforge.config import MinionConfig, build
from fluxforge.errors import ExecutionError
from fluxforge.grains.core import all_grains
from fluxforge.plugins.context import JobContext, activate, current, deactivate
from fluxforge.plugins.loader import Functions
from fluxforge.plugins.results import Result


class RecordingMinion:
    """A stand-in for the minion daemon behind our own ``MinionHooks`` protocol.

    Not a mock of someone else's code: it implements the protocol the way the
    daemon does for ``refresh("grains")`` (recompute :func:`all_grains`) and
    records each call, so tests can see that the module asked for it.
    """

    def __init__(self, opts: MinionConfig) -> None:
        self.opts = opts
        self.refreshed: list[str] = []
        self.grains: dict[str, Any] = all_grains(opts)

    def request(self, kind: str, body: dict[str, Any], timeout: float = 30.0) -> Any:
        raise AssertionError("grains functions never ask the master")

    def refresh(self, what: str) -> None:
        self.refreshed.append(what)
        if what == "grains":
            self.grains = all_grains(self.opts)
            current().grains = self.grains  # as the daemon's Hooks.refresh does

    def running(self) -> list[dict[str, Any]]:
        return []

    def kill(self, jid: str) -> bool:
        return False


FUNCS = Functions()


def _opts(tmp_path: Path) -> MinionConfig:
    values = {"id": "t1", "root_dir": str(tmp_path), "grains": {"pinned": "config"}}
    opts: MinionConfig = build(MinionConfig, values)
    return opts


@pytest.fixture
def minion(tmp_path: Path) -> RecordingMinion:
    return RecordingMinion(_opts(tmp_path))


@pytest.fixture
def ctx(minion: RecordingMinion) -> Iterator[JobContext]:
    opts = minion.opts
    job = JobContext(
        opts=opts, grains=all_grains(opts), pillar={}, funcs=FUNCS, jid="1", fun="t", minion=minion
    )
    token = activate(job)
    yield job
    deactivate(token)


@pytest.fixture
def local_ctx(tmp_path: Path) -> Iterator[JobContext]:
    """A job under ``ff-call --local``: no daemon behind it."""
    opts = _opts(tmp_path)
    job = JobContext(opts=opts, grains=all_grains(opts), pillar={}, funcs=FUNCS, jid="1")
    token = activate(job)
    yield job
    deactivate(token)


def call(job: JobContext, fun: str, /, *args: object, **kwargs: object) -> Any:
    return job.funcs.call(fun, list(args), kwargs)


def stored(job: JobContext) -> Any:
    return yaml.safe_load(Path(job.opts.grains_file).read_text())


def restarted(job: JobContext) -> dict[str, Any]:
    """The grains a freshly started minion computes from the same configuration."""
    return all_grains(build(MinionConfig, {"id": "t1", "root_dir": job.opts.root_dir}))


# --- setval / setvals -----------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("[web, db]", ["web", "db"]),
        ("4", 4),
        ("{a: {b: 1}}", {"a": {"b": 1}}),
        ("true", True),
        ("010", "010"),
        ("hello world", "hello world"),
    ],
)
def test_setval_keeps_types_and_persists(ctx: JobContext, typed: str, value: object) -> None:
    assert call(ctx, "grains.setval", "g", typed) == {"g": value}
    assert ctx.grains["g"] == value  # the job sees it at once
    assert stored(ctx) == {"g": value}
    assert restarted(ctx)["g"] == value  # and it survives a restart
    assert type(restarted(ctx)["g"]) is type(value)


def test_setval_tells_the_daemon(ctx: JobContext, minion: RecordingMinion) -> None:
    call(ctx, "grains.setval", "role", "web")
    assert minion.refreshed == ["grains"]
    assert minion.grains["role"] == "web"  # the file was written before the refresh


def test_setval_under_local_call_only_writes_the_file(local_ctx: JobContext) -> None:
    assert local_ctx.minion is None
    assert call(local_ctx, "grains.setval", "role", "web") == {"role": "web"}
    assert stored(local_ctx) == {"role": "web"}
    assert local_ctx.grains["role"] == "web"


def test_setval_overrides_core_grains_but_not_the_config(
    ctx: JobContext, caplog: pytest.LogCaptureFixture
) -> None:
    call(ctx, "grains.setval", "os", "Pinned")
    assert ctx.grains["os"] == "Pinned"
    with caplog.at_level(logging.WARNING, logger="fluxforge.minion"):
        assert call(ctx, "grains.setval", "pinned", "file") == {"pinned": "file"}
    assert stored(ctx)["pinned"] == "file"
    assert ctx.grains["pinned"] == "config"  # the configuration wins, as in Salt
    assert any(
        "pinned" in r.getMessage() and "precedence" in r.getMessage() for r in caplog.records
    )


def test_setval_key_is_literal_and_destructive_none_removes(ctx: JobContext) -> None:
    call(ctx, "grains.setval", "a:b", "1")
    assert stored(ctx) == {"a:b": 1}
    call(ctx, "grains.setval", "a:b", "null")
    assert stored(ctx) == {"a:b": None}
    assert call(ctx, "grains.setval", "a:b", "null", destructive="True") == {"a:b": None}
    assert stored(ctx) == {}
    assert "a:b" not in ctx.grains


def test_setvals(ctx: JobContext, minion: RecordingMinion) -> None:
    got = call(ctx, "grains.setvals", "{role: web, rack: 4, tags: [a, b]}")
    assert got == {"role": "web", "rack": 4, "tags": ["a", "b"]}
    assert stored(ctx) == got
    assert minion.refreshed == ["grains"]  # one write, one refresh
    with pytest.raises(ExecutionError, match="must be a mapping"):
        call(ctx, "grains.setvals", "[not, a, mapping]")


def test_setval_refuses_to_overwrite_a_corrupt_file(ctx: JobContext) -> None:
    path = Path(ctx.opts.grains_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("role: [unclosed\n")
    with pytest.raises(ExecutionError, match=r"is not valid YAML.*fix or delete"):
        call(ctx, "grains.setval", "role", "web")
    assert path.read_text() == "role: [unclosed\n"


def test_concurrent_jobs_do_not_lose_each_others_writes(ctx: JobContext) -> None:
    errors: list[BaseException] = []

    def job(n: int) -> None:
        token = activate(
            JobContext(opts=ctx.opts, grains=ctx.grains, pillar={}, funcs=FUNCS, jid=str(n))
        )
        try:
            for i in range(5):
                call(current(), "grains.setval", f"k{n}_{i}", str(i))
        except BaseException as exc:
            errors.append(exc)
        finally:
            deactivate(token)

    threads = [threading.Thread(target=job, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert stored(ctx) == {f"k{n}_{i}": i for n in range(4) for i in range(5)}


# --- delval / delkey / set --------------------------------------------------------


def test_delval_sets_none_and_delkey_removes(ctx: JobContext, minion: RecordingMinion) -> None:
    call(ctx, "grains.setvals", "{role: web, rack: 4}")
    got = call(ctx, "grains.delval", "role")
    assert got == {"comment": "", "changes": {"role": None}, "result": True}
    assert stored(ctx) == {"role": None, "rack": 4}
    assert ctx.grains["role"] is None
    call(ctx, "grains.delval", "rack", destructive="True")
    assert stored(ctx) == {"role": None}
    got = call(ctx, "grains.delkey", "role")
    assert got["result"] is True
    assert stored(ctx) == {}
    assert "role" not in restarted(ctx)
    assert minion.refreshed == ["grains"] * 4


def test_delval_of_a_list_needs_force(ctx: JobContext) -> None:
    call(ctx, "grains.setval", "roles", "[web]")
    refused = call(ctx, "grains.delval", "roles")
    assert isinstance(refused, Result) and refused.retcode == 1
    assert refused.value["result"] is False and "force" in refused.value["comment"]
    assert stored(ctx) == {"roles": ["web"]}
    assert call(ctx, "grains.delkey", "roles", force="True")["result"] is True
    assert stored(ctx) == {}


def test_delkey_of_a_core_grain_comes_back(ctx: JobContext) -> None:
    call(ctx, "grains.setval", "os", "Pinned")
    call(ctx, "grains.delkey", "os")
    assert ctx.grains["os"] == restarted(ctx)["os"] != "Pinned"


def test_set_nested_keys(ctx: JobContext) -> None:
    got = call(ctx, "grains.set", "apps:web:port", "8080")
    assert got == {"comment": "", "changes": {"apps": {"web": {"port": 8080}}}, "result": True}
    call(ctx, "grains.set", "apps:web:host", "h1")
    assert stored(ctx) == {"apps": {"web": {"port": 8080, "host": "h1"}}}
    assert call(ctx, "grains.get", "apps:web:port") == 8080
    assert call(ctx, "grains.set", "apps:web:host", "h1")["comment"] == "Grain is already set"
    call(ctx, "grains.set", "apps:web:port", "null", destructive="True")
    assert stored(ctx) == {"apps": {"web": {"host": "h1"}}}
    assert restarted(ctx)["apps"] == {"web": {"host": "h1"}}


def test_set_into_a_core_mapping_stores_only_the_new_key(ctx: JobContext) -> None:
    core_interfaces = dict(ctx.grains["ip4_interfaces"])
    call(ctx, "grains.set", "ip4_interfaces:fake0", "[10.9.9.9]")
    assert stored(ctx) == {"ip4_interfaces": {"fake0": ["10.9.9.9"]}}  # core not frozen in
    assert ctx.grains["ip4_interfaces"] == {**core_interfaces, "fake0": ["10.9.9.9"]}


def test_set_is_conservative_without_force(ctx: JobContext) -> None:
    call(ctx, "grains.setvals", "{role: web, roles: [a]}")
    for args in (("role:sub", "x"), ("roles", "b"), ("role", "[x]")):
        refused = call(ctx, "grains.set", *args)
        assert isinstance(refused, Result) and refused.retcode == 1, args
        assert refused.value["result"] is False
    assert stored(ctx) == {"role": "web", "roles": ["a"]}
    assert call(ctx, "grains.set", "role", "db")["result"] is True
    assert call(ctx, "grains.set", "role:sub", "x", force="True")["result"] is True
    assert stored(ctx)["role"] == {"sub": "x"}


# --- append / remove ---------------------------------------------------------------


def test_append_creates_extends_and_refuses_non_lists(ctx: JobContext) -> None:
    assert call(ctx, "grains.append", "roles", "web") == {"roles": ["web"]}
    assert call(ctx, "grains.append", "roles", "[db, 4]") == {"roles": ["web", "db", 4]}
    assert call(ctx, "grains.append", "roles", "web") == "The val web was already in the list roles"
    assert stored(ctx) == {"roles": ["web", "db", 4]}
    call(ctx, "grains.setval", "single", "one")
    with pytest.raises(ExecutionError, match="not a list"):
        call(ctx, "grains.append", "single", "two")
    assert call(ctx, "grains.append", "single", "two", convert="True") == {"single": ["one", "two"]}
    assert restarted(ctx)["roles"] == ["web", "db", 4]


def test_append_to_a_nested_list(ctx: JobContext) -> None:
    call(ctx, "grains.set", "apps:web:port", "80")
    assert call(ctx, "grains.append", "apps:web:tags", "blue") == {
        "apps": {"web": {"port": 80, "tags": ["blue"]}}
    }
    assert ctx.grains["apps"]["web"]["tags"] == ["blue"]


def test_remove(ctx: JobContext, minion: RecordingMinion) -> None:
    call(ctx, "grains.setval", "roles", "[web, db, 4]")
    assert call(ctx, "grains.remove", "roles", "4") == {"roles": ["web", "db"]}
    assert call(ctx, "grains.remove", "roles", "cache") == "The val cache was not in the list roles"
    assert stored(ctx) == {"roles": ["web", "db"]}
    call(ctx, "grains.setval", "single", "one")
    with pytest.raises(ExecutionError, match="not a list"):
        call(ctx, "grains.remove", "single", "one")
    assert minion.refreshed == ["grains"] * 3


# --- has_value / filter_by / item ------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected"),
    [("flag", True), ("zero", True), ("nothing", True), ("pkg:apache", True), ("pkg:nginx", False)],
)
def test_has_value_is_existence(ctx: JobContext, key: str, expected: bool) -> None:
    call(ctx, "grains.setvals", "{flag: false, zero: 0, nothing: null, pkg: {apache: httpd}}")
    assert call(ctx, "grains.has_value", key) is expected
    assert call(ctx, "grains.has_value", "missing") is False


def test_filter_by(ctx: JobContext) -> None:
    ctx.grains = {**ctx.grains, "os_family": "Debian", "roles": ["db", "web"], "id": "salt-01"}
    lookup = {"Debian": {"pkg": "apache2"}, "RedHat": {"pkg": "httpd"}}
    assert call(ctx, "grains.filter_by", lookup) == {"pkg": "apache2"}
    assert call(ctx, "grains.filter_by", "{Debian: deb, RedHat: rpm}") == "deb"  # typed text
    assert call(ctx, "grains.filter_by", {"salt*": 1, "default": 2}, grain="id") == 1
    assert call(ctx, "grains.filter_by", {"web": "w", "x": "x"}, grain="roles") == "w"
    assert call(ctx, "grains.filter_by", {"Arch": 1, "default": 2}) == 2
    assert call(ctx, "grains.filter_by", {"Arch": 1}) is None
    assert call(ctx, "grains.filter_by", {"Arch": 1, "RH": 3}, default="RH") == 3
    # base, then the grain's entry, then merge, each deep-merged over the last
    table = {
        "common": {"svc": {"name": "x", "port": 80}, "user": "root"},
        "Debian": {"svc": {"name": "apache2"}},
    }
    got = call(ctx, "grains.filter_by", table, base="common", merge={"user": "www"})
    assert got == {"svc": {"name": "apache2", "port": 80}, "user": "www"}
    assert table["Debian"] == {"svc": {"name": "apache2"}}  # the table is not changed
    assert call(ctx, "grains.filter_by", {"A": {"B": "C"}}, grain="nope", base="A") == {"B": "C"}
    with pytest.raises(ExecutionError, match="merge must be a mapping"):
        call(ctx, "grains.filter_by", lookup, merge="[1]")


def test_item_sees_grains_set_in_the_same_job(ctx: JobContext) -> None:
    call(ctx, "grains.setval", "role", "web")
    assert call(ctx, "grains.item", "role", "pinned", "missing") == {
        "role": "web",
        "pinned": "config",
        "missing": "",
    }


def test_only_reading_functions_are_inline() -> None:
    for name in ("items", "get", "ls", "item", "has_value", "filter_by"):
        assert FUNCS.is_inline(f"grains.{name}"), name
    for name in ("setval", "setvals", "set", "delval", "delkey", "append", "remove"):
        assert f"grains.{name}" in FUNCS
        assert not FUNCS.is_inline(f"grains.{name}"), name
