"""Inputs the fuzzers found that escaped as undocumented errors, each now a documented one."""

from __future__ import annotations

from pathlib import Path

import pytest

from fluxforge.config import loading
from fluxforge.errors import ConfigError, MalformedFrame, RenderError, TargetError
from fluxforge.protocol import wire
from fluxforge.render.renderers import render
from fluxforge.targeting import check, matches


def test_a_config_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "fluxforge.conf"
    path.write_bytes(b"master:\n  timeout: 3\n  \xe9x: 1\n")
    with pytest.raises(ConfigError, match=r"fluxforge.conf: not UTF-8 text \(byte 23"):
        loading.load_master(str(path))


@pytest.mark.parametrize(
    ("text", "pipeline"),
    [
        ("a: {{ " + "{" * 2000, "jinja|yaml"),
        ("a: " + "[" * 5000, "yaml"),
        ("[" * 5000, "json"),
    ],
)
def test_input_nested_past_the_recursion_limit_is_a_render_error(text: str, pipeline: str) -> None:
    with pytest.raises(RenderError, match=r"x\.sls: the (template|data) nests too deeply"):
        render(text, name="x.sls", context={}, default=pipeline)


def test_grains_nested_past_the_recursion_limit_are_a_malformed_frame() -> None:
    # 600 levels decode (msgpack allows 1024) but overflow the recursion of wire.plain.
    body = wire.unpack(b"\x81\xa6grains" + b"\x81\xa1a" * 600 + b"\xc0")
    with pytest.raises(MalformedFrame, match="value nests too deeply"):
        wire.plain(body)


def test_an_expression_jinja_compiles_into_invalid_python_is_a_render_error() -> None:
    with pytest.raises(RenderError, match=r"x\.sls: the template does not compile: Jinja made"):
        render("a: {{ x['a', :] }}", name="x.sls", context={"x": {}})


@pytest.mark.parametrize("text", ["(" * 300 + "web1" + ")" * 300, "not " * 2000 + "web1"])
def test_a_compound_target_nested_too_deep_is_a_target_error(text: str) -> None:
    with pytest.raises(TargetError, match=r"'\(' and 'not' nested more than 64 deep at position"):
        check(text, "compound")


def test_a_compound_target_nested_63_deep_still_parses() -> None:
    # 32 parentheses and 31 (an odd number of) nots: 63 levels, and web1 is not db1.
    assert matches("(" * 32 + "not " * 31 + "db1" + ")" * 32, "compound", "web1")
