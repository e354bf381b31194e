"""The match execution module, called through a real loader and job context."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fluxforge.config import MinionConfig, build
from fluxforge.errors import TargetError
from fluxforge.plugins.context import JobContext, activate, deactivate
from fluxforge.plugins.loader import Functions

GRAINS = {
    "id": "web1",
    "os": "Debian",
    "roles": ["web", "db"],
    "num_cpus": 2,
    "ipv4": ["10.0.0.5", "127.0.0.1"],
    "ipv6": ["::1"],
    "deep": {"a": {"b": "c"}},
    "url": "https://x:8080/p",
}
PILLAR = {"env": "prod", "app": {"port": 8080, "tags": ["blue", "green"]}}
NODEGROUPS = {
    "webs": "web*",
    "debian": "G@os:Debian",
    "both": "N@webs and N@debian",
    "others": ["db1", "db2"],
    "loop": "N@loop",
}


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[JobContext]:
    opts = build(MinionConfig, {"id": "web1", "root_dir": str(tmp_path), "nodegroups": NODEGROUPS})
    job = JobContext(opts=opts, grains=GRAINS, pillar=PILLAR, funcs=Functions(), jid="1", fun="t")
    token = activate(job)
    yield job
    deactivate(token)


def call(job: JobContext, fun: str, /, *args: object, **kwargs: object) -> object:
    return job.funcs.call(fun, list(args), kwargs)


def test_functions_are_listed_and_inline(ctx: JobContext) -> None:
    names = ctx.funcs.names("match")
    assert names == [
        "match.compound",
        "match.glob",
        "match.grain",
        "match.grain_pcre",
        "match.ipcidr",
        "match.list",
        "match.nodegroup",
        "match.pcre",
        "match.pillar",
        "match.pillar_pcre",
    ]
    assert all(ctx.funcs.is_inline(n) for n in names)


def test_id_matchers(ctx: JobContext) -> None:
    assert call(ctx, "match.glob", "web*") is True
    assert call(ctx, "match.glob", "db*") is False
    assert call(ctx, "match.pcre", r"web\d$") is True
    assert call(ctx, "match.pcre", "eb1") is False
    assert call(ctx, "match.list", "db1,web1") is True
    assert call(ctx, "match.list", "db1,web10") is False


def test_grain(ctx: JobContext) -> None:
    assert call(ctx, "match.grain", "os:debian") is True
    assert call(ctx, "match.grain", "roles:db") is True
    assert call(ctx, "match.grain", "num_cpus:2") is True  # str parameter: "2" kept as text
    assert call(ctx, "match.grain", "deep:a:b:c") is True
    assert call(ctx, "match.grain", "url:https://x:8080/*") is True
    assert call(ctx, "match.grain", "os:RedHat") is False
    assert call(ctx, "match.grain", "os") is False
    assert call(ctx, "match.grain", "deep|a|b|c", delimiter="|") is True
    assert call(ctx, "match.grain", "deep:a:b:c", delimiter="|") is False


def test_grain_pcre(ctx: JobContext) -> None:
    assert call(ctx, "match.grain_pcre", "os:deb") is True
    assert call(ctx, "match.grain_pcre", "roles:(web|mail)$") is True
    assert call(ctx, "match.grain_pcre", "os:^red") is False
    assert call(ctx, "match.grain_pcre", "deep;a;b;C$", ";") is True


def test_pillar(ctx: JobContext) -> None:
    assert call(ctx, "match.pillar", "env:prod") is True
    assert call(ctx, "match.pillar", "app:port:8080") is True
    assert call(ctx, "match.pillar", "app:tags:gr*") is True
    assert call(ctx, "match.pillar", "os:Debian") is False  # grains are not pillar
    assert call(ctx, "match.pillar_pcre", "app:tags:^(red|blue)$") is True
    assert call(ctx, "match.pillar_pcre", "env:^dev") is False


def test_ipcidr(ctx: JobContext) -> None:
    assert call(ctx, "match.ipcidr", "10.0.0.0/8") is True
    assert call(ctx, "match.ipcidr", "10.0.0.5") is True
    assert call(ctx, "match.ipcidr", "::1") is True
    assert call(ctx, "match.ipcidr", "192.168.0.0/16") is False


def test_compound(ctx: JobContext) -> None:
    assert call(ctx, "match.compound", "G@os:Debian and web*") is True
    assert call(ctx, "match.compound", "(G@os:RedHat or I@env:prod) and not db*") is True
    assert call(ctx, "match.compound", "G@os:Debian and not web1") is False
    assert call(ctx, "match.compound", "S@10.0.0.0/24 and E@^(web|db)1$") is True
    assert call(ctx, "match.compound", "N@both and not N@others") is True


def test_nodegroup(ctx: JobContext) -> None:
    assert call(ctx, "match.nodegroup", "webs") is True
    assert call(ctx, "match.nodegroup", "both") is True
    assert call(ctx, "match.nodegroup", "others") is False


@pytest.mark.parametrize(
    ("fun", "arg", "needle"),
    [
        ("match.compound", "web* and", "nothing after 'and' at position 6"),
        ("match.compound", "X@foo", "unknown matcher 'X@'"),
        ("match.compound", "N@nope", "unknown nodegroup 'nope'"),
        ("match.pcre", "web(", "invalid regular expression"),
        ("match.grain_pcre", "os:(x", "invalid regular expression"),
        ("match.ipcidr", "10.0.0.0/33", "invalid IP address or network"),
        ("match.nodegroup", "nope", "known nodegroups: both, debian, loop, others, webs"),
        ("match.nodegroup", "loop", "nodegroup cycle: loop -> loop"),
    ],
)
def test_bad_expression_raises_target_error(
    ctx: JobContext, fun: str, arg: str, needle: str
) -> None:
    with pytest.raises(TargetError) as info:
        call(ctx, fun, arg)
    assert needle in str(info.value)


def test_without_nodegroups_configured(tmp_path: Path) -> None:
    opts = build(MinionConfig, {"id": "web1", "root_dir": str(tmp_path)})
    job = JobContext(opts=opts, grains={}, pillar={}, funcs=Functions())
    token = activate(job)
    try:
        with pytest.raises(TargetError, match="unknown nodegroup 'webs'"):
            call(job, "match.nodegroup", "webs")
        assert call(job, "match.grain", "os:*") is False
        assert call(job, "match.compound", "not G@os:*") is True
    finally:
        deactivate(token)
