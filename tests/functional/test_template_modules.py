"""slsutil, defaults, log, config and the merge options of pillar.get/grains.get, in a job.

Expected values are what Salt 3008.5 gives for the same calls (``salt-call
--local`` with the same options, grains and pillar), unless a test says
otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fluxforge.errors import ExecutionError, RenderError
from fluxforge.files.client import local_client
from fluxforge.highstate import template
from fluxforge.plugins.context import JobContext
from fluxforge.render.renderers import render
from fluxforge.testing import job_context

GRAINS = {"id": "grain-id", "nodename": "web1", "roles": ["web"], "site": {"dc": "east", "rack": 4}}
PILLAR = {
    "app": {"port": 8080, "users": ["bob"], "tls": {"on": True}},
    "roles": ["pillar-role"],
    "site": {"rack": 9, "row": "b"},
    "master": {"file_roots": {"base": ["/srv/salt"]}, "only_master": 1},
    "nodename": "from-pillar",
}


@pytest.fixture
def job(tmp_path: Path) -> Iterator[JobContext]:
    with job_context(tmp_path, {"id": "m1"}, grains=GRAINS, pillar=PILLAR, fun="t") as ctx:
        yield ctx


def call(job: JobContext, fun: str, /, *args: Any, **kwargs: Any) -> Any:
    """As a template calls it: Python values, no text conversion."""
    return job.funcs.get(fun)(*args, **kwargs)


def jinja(job: JobContext, text: str) -> str:
    """``text`` rendered with the SLS context of ``job`` (salt untrusted, as in a state tree)."""
    context = template.context(job)
    trusted = {k: v for k, v in context.items() if k not in template.UNTRUSTED}
    untrusted = {k: v for k, v in context.items() if k in template.UNTRUSTED}
    out: str = render(
        text, name="t.sls", context=trusted, untrusted_context=untrusted, default="jinja"
    )
    return out


def test_slsutil_merges_as_salt(job: JobContext) -> None:
    a = {"a": {"b": 1}, "l": [1]}
    assert call(job, "slsutil.merge", a, {"a": {"c": 2}, "l": [2]}) == {
        "a": {"b": 1, "c": 2},
        "l": [2],
    }
    assert a == {"a": {"b": 1}, "l": [1]}  # the arguments are left alone
    assert call(job, "slsutil.merge", {"l": [1]}, {"l": [2, 1]}, merge_lists=True) == {"l": [1, 2]}
    assert call(job, "slsutil.merge", {"a": {"x": 1}}, {"a": {"y": 2}}, strategy="overwrite") == {
        "a": {"y": 2}
    }
    assert call(job, "slsutil.merge_all", [{"a": 1}, {"b": 2}, {"a": 3}]) == {"a": 3, "b": 2}
    assert call(
        job, "slsutil.update", {"a": {"b": 1}}, {"a": {"c": 2}}, recursive_update=False
    ) == {"a": {"c": 2}}
    with pytest.raises(ExecutionError, match="strategy 'aggregate' is not supported"):
        call(job, "slsutil.merge", {}, {}, strategy="aggregate")


def test_slsutil_serializes_as_salt(job: JobContext) -> None:
    data = {"b": [1, 2], "a": "x"}
    assert call(job, "slsutil.serialize", "yaml", data) == "a: x\nb: [1, 2]"
    assert call(job, "slsutil.serialize", "yaml", "plain") == "plain"
    assert call(job, "slsutil.serialize", "json", data) == '{"b": [1, 2], "a": "x"}'
    assert call(job, "slsutil.serialize", "json", {"b": 1}, indent=2) == '{\n  "b": 1\n}'
    assert call(job, "slsutil.deserialize", "yaml", "a: [1]") == {"a": [1]}
    assert call(job, "slsutil.deserialize", "json", '{"a": 1}') == {"a": 1}
    with pytest.raises(ExecutionError, match="unknown serializer 'toml'; known: yaml, json"):
        call(job, "slsutil.serialize", "toml", data)
    with pytest.raises(ExecutionError, match=r"slsutil\.deserialize: not valid json"):
        call(job, "slsutil.deserialize", "json", "{")


def test_defaults_merge_in_place_as_formulas_use_it(job: JobContext) -> None:
    defaults = {"pkg": "nginx", "conf": {"port": 80, "opts": [1]}}
    out = call(job, "defaults.merge", defaults, {"conf": {"port": 8080, "opts": [2]}})
    assert out is defaults and defaults == {"pkg": "nginx", "conf": {"port": 8080, "opts": [2]}}
    kept = {"a": [1]}
    copied = call(job, "defaults.merge", kept, {"a": [2]}, merge_lists=True, in_place=False)
    assert copied == {"a": [1, 2]} and kept == {"a": [1]}
    assert call(job, "defaults.merge", {"a": 1}, None) == {"a": 1}
    original = {"a": [1]}
    deep = call(job, "defaults.deepcopy", original)
    assert deep == original and deep["a"] is not original["a"]
    # In a template: {% do %} merges into the template's own mapping.
    text = (
        "{% set d = {'port': 80, 'tls': {'on': False}} %}"
        "{% do salt['defaults.merge'](d, salt['pillar.get']('app')) %}"
        "{{ d.port }} {{ d.tls.on }} {{ d.users }}"
    )
    assert jinja(job, text) == "8080 True ['bob']"


def test_log_functions_write_one_line_to_the_minion_log(
    job: JobContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="fluxforge.minion.template")
    assert (
        jinja(job, "{{ salt.log.info('picked\\nnginx') }}{% do salt['log.error']('bad') %}")
        == "True"
    )
    lines = [
        (r.levelname, r.getMessage())
        for r in caplog.records
        if r.name == "fluxforge.minion.template"
    ]
    assert lines == [("INFO", "picked nginx"), ("ERROR", "bad")]


def test_config_get_looks_in_opts_grains_pillar_then_master(job: JobContext) -> None:
    assert call(job, "config.get", "id") == "m1"  # the option, before the grain and pillar
    assert call(job, "config.get", "nodename") == "web1"  # the grain, before the pillar
    assert call(job, "config.get", "app:port") == 8080  # pillar
    assert call(job, "config.get", "only_master") == 1  # master options in the pillar
    assert call(job, "config.get", "nope", "dflt") == "dflt"
    assert call(job, "config.get", "nodename", omit_grains=True) == "from-pillar"
    assert call(job, "config.get", "site") == {"dc": "east", "rack": 4}
    merged = call(job, "config.get", "site", merge="recurse")
    assert merged == {"dc": "east", "rack": 4, "row": "b"}  # grains win over pillar
    assert call(job, "config.get", "site/dc", delimiter="/") == "east"


def test_pillar_and_grains_get_merge_over_a_default(
    job: JobContext, caplog: pytest.LogCaptureFixture
) -> None:
    default = {"port": 80, "users": ["alice"], "tls": {"on": False, "cert": "x"}}
    assert call(job, "pillar.get", "app", default, merge=True) == {
        "port": 8080,
        "users": ["bob"],
        "tls": {"on": True, "cert": "x"},
    }
    assert default["port"] == 80  # the default is copied, not changed
    assert call(job, "pillar.get", "app", default, merge=True, merge_nested_lists=True)[
        "users"
    ] == ["alice", "bob"]
    assert call(job, "pillar.get", "roles", ["base"], merge=True) == ["base", "pillar-role"]
    assert call(job, "pillar.get", "missing", {"a": 1}, merge=True) == {"a": 1}
    assert call(job, "grains.get", "site", {"dc": "west", "zone": 1}, merge=True) == {
        "dc": "east",
        "rack": 4,
        "zone": 1,
    }
    assert call(job, "pillar.get", "app/port", delimiter="/") == 8080
    with caplog.at_level(logging.WARNING, logger="fluxforge.minion"):
        assert call(job, "pillar.get", "roles", {"a": 1}, merge=True) == ["pillar-role"]
    assert "pillar.get roles: merge skipped: the default is a mapping but the value" in caplog.text


def test_the_new_functions_take_text_arguments_from_the_command_line(job: JobContext) -> None:
    assert job.funcs.call("config.get", ["app:port"]) == 8080
    assert job.funcs.call("pillar.get", ["app", "{port: 1, extra: 2}"], {"merge": "True"}) == {
        "port": 8080,
        "users": ["bob"],
        "tls": {"on": True},
        "extra": 2,
    }
    assert job.funcs.call("slsutil.merge", ["{a: 1}", "{b: 2}"]) == {"a": 1, "b": 2}


def test_slsutil_renderer_renders_a_string_or_a_file_as_an_sls(
    job: JobContext, tmp_path: Path
) -> None:
    assert call(
        job, "slsutil.renderer", string="{{ grains.nodename }}", default_renderer="jinja"
    ) == ("web1")
    assert call(job, "slsutil.renderer", string="k: {{ pillar.app.port }}") == {"k": 8080}
    assert call(job, "slsutil.renderer", string='#!jinja|json\n{"a": {{ n }}}', n=3) == {"a": 3}
    roots = tmp_path / "roots"
    roots.mkdir()
    (roots / "part.sls").write_text("who: {{ grains.nodename }}\nextra: {{ extra }}\n")
    job.files = local_client(str(tmp_path / "cache"), {"base": [str(roots)]})
    assert call(job, "slsutil.renderer", path="salt://part.sls", extra=1) == {
        "who": "web1",
        "extra": 1,
    }
    with pytest.raises(ExecutionError, match="not found in saltenv base"):
        call(job, "slsutil.renderer", path="salt://nope.sls")
    with pytest.raises(ExecutionError, match="give path or string"):
        call(job, "slsutil.renderer")
    # A grain is data: the text it holds is never rendered as a template.
    job.grains = {"nodename": "{{ 7 * 7 }}"}
    with pytest.raises(RenderError) as info:
        jinja(job, "{{ salt['slsutil.renderer'](string=grains.nodename) }}")
    assert "slsutil.renderer: <string>: " in str(info.value)
