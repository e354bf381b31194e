"""Masterless runs: ``ff-call --local`` with a state tree and pillar in the minion's own roots.

No master runs here; each test writes a minion config, a state tree under
its ``file_roots`` and a pillar under its ``pillar_roots``, and runs the real
``ff-call``.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from fluxforge.testing import Result, command

TREE = {
    "top.sls": """
        base:
          '*':
            - good
        """,
    "good.sls": """
        ready:
          test.succeed_without_changes: []
        greet:
          test.succeed_with_changes:
            - name: {{ pillar['greeting'] }}
        """,
    "bad.sls": """
        include:
          - good
        broken:
          test.fail_without_changes: []
        """,
    "typo.sls": """
        oops:
          test.succeed_without_changes:
            - name: {{ pillar['no_such_key']['deeper'] }}
        """,
}

PILLAR = {
    "top.sls": """
        base:
          '*':
            - data
        """,
    "data.sls": """
        greeting: hello-from-{{ grains['id'] }}
        """,
}

GREET_KEY = "test_|-greet_|-hello-from-solo_|-succeed_with_changes"


def write_tree(base: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    """A minion config whose roots hold TREE and PILLAR (default file_roots/pillar_roots)."""
    root = tmp_path / "solo"
    write_tree(root / "srv/fluxforge", TREE)
    write_tree(root / "srv/pillar", PILLAR)
    path = tmp_path / "solo.conf"
    path.write_text(yaml.safe_dump({"minion": {"id": "solo", "root_dir": str(root)}}))
    return path


def ff_call(conf: Path, *args: str) -> Result:
    argv = [*command("ff-call"), "-c", str(conf), "--local", *args]
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("FLUXFORGE_CONFIG", None)
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    return Result(argv, proc.returncode, proc.stdout, proc.stderr)


def summary(text: str) -> str:
    return text[text.index("Summary for local") :]


# -- pillar, no state engine needed ---------------------------------------------------


def test_pillar_compiled_from_the_minions_pillar_roots(conf: Path) -> None:
    res = ff_call(conf, "pillar.items", "--out", "json")
    assert res.returncode == 0, res
    assert res.json() == {"local": {"greeting": "hello-from-solo"}}
    res = ff_call(conf, "pillar.get", "greeting")
    assert res.stdout == "local:\n    hello-from-solo\n", res


def test_no_pillar_top_file_is_an_empty_pillar(conf: Path) -> None:
    (conf.parent / "solo/srv/pillar/top.sls").unlink()
    res = ff_call(conf, "pillar.items", "--out", "json")
    assert res.returncode == 0, res
    assert res.json() == {"local": {}}
    assert res.stderr == "", res


def test_pillar_error_is_reported_not_a_crash(conf: Path) -> None:
    (conf.parent / "solo/srv/pillar/data.sls").write_text("greeting: {{ nope(\n")
    res = ff_call(conf, "pillar.items")
    assert res.returncode == 1, res
    assert "data.sls" in res.stdout and "Traceback" not in res.stdout + res.stderr, res
    assert "the pillar did not compile" in res.stderr, res
    # Functions that do not read the pillar still work.
    res = ff_call(conf, "test.echo", "hi")
    assert res.returncode == 0 and res.stdout == "local:\n    hi\n", res


# -- state runs ---------------------------------------------------------------


def test_highstate_output_progress_and_pillar_in_templates(conf: Path) -> None:
    res = ff_call(conf, "state.apply")
    assert res.returncode == 0, res
    out = res.stdout
    assert out.startswith("local:\n    ----------\n          ID: ready\n"), res
    assert "          ID: greet\n    Function: test.succeed_with_changes\n" in out
    assert "        Name: hello-from-solo\n" in out  # the masterless pillar, in the SLS
    assert "     Changes:\n" in out
    assert out.index("ID: ready") < out.index("ID: greet")
    assert summary(out).splitlines()[:4] == [
        "Summary for local",
        "    Succeeded:        2 (changed=1)",
        "    Failed:           0",
        "    Total states run: 2",
    ]
    assert "    Total run time:   " in out
    progress = res.stderr.splitlines()
    assert progress == [
        "[1/2] test.succeed_without_changes ready: unchanged",
        "[2/2] test.succeed_with_changes hello-from-solo: changed",
    ], res


def test_test_mode_predicts(conf: Path) -> None:
    res = ff_call(conf, "state.apply", "test=True")
    assert res.returncode == 0, res
    assert "      Result: None\n" in res.stdout, res
    assert "    Succeeded:        2 (changed=0, would change=1)\n" in summary(res.stdout), res
    assert "[2/2] test.succeed_with_changes hello-from-solo: would change" in res.stderr


def test_a_failed_state_exits_1(conf: Path) -> None:
    res = ff_call(conf, "state.sls", "bad")
    assert res.returncode == 1, res
    assert "    Failed:           1\n" in summary(res.stdout), res
    assert "    Total states run: 3\n" in summary(res.stdout), res
    assert "          ID: broken\n" in res.stdout and "      Result: False\n" in res.stdout

    res = ff_call(conf, "state.sls", "bad", "--state-output", "terse")
    assert res.returncode == 1, res
    assert "    test.fail_without_changes broken: failed" in res.stdout, res
    assert "----------" not in res.stdout

    res = ff_call(conf, "state.sls", "bad", "--state-output", "changes")
    assert "1 state succeeded without changes (not shown)" in res.stdout, res
    assert "ID: ready" not in res.stdout and "ID: broken" in res.stdout


def test_json_is_the_raw_return(conf: Path) -> None:
    res = ff_call(conf, "state.apply", "--out", "json")
    assert res.returncode == 0, res
    states_run: dict[str, Any] = json.loads(res.stdout)["local"]
    greet = states_run[GREET_KEY]
    assert greet["result"] is True and greet["changes"] and greet["__id__"] == "greet"
    assert greet["__sls__"] == "good" and isinstance(greet["duration"], float)
    assert sorted(s["__run_num__"] for s in states_run.values()) == [0, 1]


def test_render_errors_and_unknown_sls_exit_1(conf: Path) -> None:
    res = ff_call(conf, "state.sls", "typo")
    assert res.returncode == 1, res
    assert "typo.sls" in res.stdout, res
    assert "Summary" not in res.stdout

    res = ff_call(conf, "state.sls", "nosuch")
    assert res.returncode == 1, res
    assert "nosuch" in res.stdout, res


def test_the_configs_state_output_is_the_default_layout(conf: Path) -> None:
    data = yaml.safe_load(conf.read_text())
    data["minion"]["state_output"] = "terse"
    conf.write_text(yaml.safe_dump(data))
    res = ff_call(conf, "state.sls", "bad")
    assert "    test.fail_without_changes broken: failed" in res.stdout, res
    assert "----------" not in res.stdout
    res = ff_call(conf, "state.sls", "bad", "--state-output", "full")  # the option wins
    assert "          ID: broken\n" in res.stdout, res
