"""Salt's template surface in a real SLS: filters, load_* blocks, path variables, salt.mod.fun.

The tree is tests/states/saltjinja; ``formula/sub/config.sls`` uses each
piece the way formulas do. The expected texts are what Salt 3008.5's
``state.show_sls`` gives for the same file and grains (with
``tplroot`` set by the file, which Salt does not provide).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fluxforge.files.client import local_client
from fluxforge.plugins.context import JobContext
from fluxforge.plugins.loader import BUILTIN_STATES, Functions, execution_functions
from fluxforge.plugins.results import Result
from fluxforge.testing import job_context

TREE = Path(__file__).resolve().parent.parent / "states" / "saltjinja"
GRAINS = {"nodename": "web1"}


@pytest.fixture
def job(tmp_path: Path) -> Iterator[JobContext]:
    cache = str(tmp_path / "cache")
    with job_context(
        tmp_path,
        {"id": "m1"},
        grains=GRAINS,
        pillar={},
        funcs=execution_functions(cache),
        states=Functions([BUILTIN_STATES], kind="states"),
        files=local_client(cache, {"base": [str(TREE)]}),
        fun="state.show_sls",
    ) as ctx:
        yield ctx


def args(out: Result, state_id: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for item in out.value[state_id]["test"][1:]:
        merged.update(item)
    return merged


def test_formula_style_sls_renders_as_salt_renders_it(job: JobContext) -> None:
    out = job.funcs.call("state.show_sls", ["formula.sub.config"])
    assert isinstance(out, Result)
    assert list(out.value) == ["paths", "data", "quoted", "formula_params"]
    assert args(out, "paths")["comment"] == (
        "formula.sub.config formula/sub formula_sub formula.sub formula:sub "
        "formula/sub formula/sub/config.sls formula.sub formula"
    )
    assert args(out, "data") == {
        "changes": False,
        "comment": (
            "192.168.10.0/30 192.168.10.1,192.168.10.2 alice,bob,carol 6 True "
            "900150983cd24fb0d6963f7d28e17f72 YWJj b6297be9-6db2-59b4-a3aa-ce7c5351fe65 "
            "127.0.0.1,10.1.2.3 hello from web1 attr item"
        ),
        "name": "127.0.0.1",
    }
    assert args(out, "quoted")["comment"] == "web1"
    # dict_to_sls_yaml_params printed the arguments as YAML, and tplroot named the id.
    assert args(out, "formula_params") == {"changes": False, "comment": "x: y"}


def test_attribute_form_names_an_unknown_function(job: JobContext, tmp_path: Path) -> None:
    sls = TREE / "formula" / "sub" / "config.sls"
    text = sls.read_text().replace("salt.test.echo('attr')", "salt.test.ecko('attr')")
    (tmp_path / "tree" / "formula" / "sub").mkdir(parents=True)
    (tmp_path / "tree" / "formula" / "sub" / "config.sls").write_text(text)
    job.files = local_client(str(tmp_path / "cache2"), {"base": [str(tmp_path / "tree")]})
    out = job.funcs.call("state.show_sls", ["formula.sub.config"])
    assert isinstance(out, Result)
    assert out.retcode == 1
    [message] = out.value
    line = next(n for n, text in enumerate(text.splitlines(), 1) if "ecko" in text)
    assert f"ff://formula/sub/config.sls, line {line}:" in message
    assert "'test.ecko' is not a known function; did you mean 'test.echo'?" in message


def test_a_hostile_grain_through_the_filters_and_blocks_stays_data(
    tmp_path: Path, job: JobContext
) -> None:
    hostile = "web1\ninjected: {test.fail_without_changes: []}"
    job.grains = {"nodename": hostile}
    out = job.funcs.call("state.show_sls", ["formula.sub.config"])
    assert isinstance(out, Result)
    assert list(out.value) == ["paths", "data", "quoted", "formula_params"]
    comment = args(out, "data")["comment"]
    # load_text kept the value untrusted: it came back as text inside the folded scalar.
    assert comment.endswith(f"hello from {hostile} attr item")
    # yaml_squote is an encoder: printed as its quoted text, which YAML reads back as the value.
    assert args(out, "quoted")["comment"] == hostile
