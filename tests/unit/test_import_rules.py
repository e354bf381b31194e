"""The package's import rules hold, and the checker catches each kind of break."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import fluxforge
from fluxforge.testing import imports

PACKAGE = Path(fluxforge.__file__).resolve().parent
REPO = PACKAGE.parent
# Custom plugins that this repository ships or writes for its tests and demo.
CUSTOM_PLUGINS = sorted(
    p
    for folder in ("_modules", "_states", "_grains")
    for p in (REPO / "tests").rglob(f"{folder}/*.py")
)


def test_the_package_keeps_its_import_rules() -> None:
    graph = imports.scan(PACKAGE)
    assert len(graph.imports) > 200  # the scan really read the package
    assert imports.check(graph) == []


def test_custom_plugins_import_only_the_stable_surface() -> None:
    assert CUSTOM_PLUGINS, "the tests ship custom plugins; the glob found none"
    assert imports.check_custom("fluxforge", CUSTOM_PLUGINS) == []


def test_the_demo_module_imports_only_the_stable_surface(tmp_path: Path) -> None:
    demo = (REPO / "scripts" / "demo").read_text()
    start = demo.index("cat >\"$files/_modules/demo.py\" <<'EOF'\n")
    body = demo[demo.index("\n", start) + 1 : demo.index("\nEOF\n", start)]
    module = tmp_path / "demo.py"
    module.write_text(body + "\n")
    assert "fluxforge.plugin" in body
    assert imports.check_custom("fluxforge", [module]) == []


# --- the checker on a deliberately broken package ------------------------------------


def _package(root: Path, files: dict[str, str]) -> Path:
    pkg = root / "pkg"
    for name, text in {"__init__.py": "", **files}.items():
        path = pkg / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    for folder in {p.parent for p in pkg.rglob("*.py")}:
        (folder / "__init__.py").touch()
    return pkg


def _problems(tmp_path: Path, files: dict[str, str]) -> list[str]:
    return imports.check(imports.scan(_package(tmp_path, files)))


def test_a_clean_tree_has_no_problems(tmp_path: Path) -> None:
    assert (
        _problems(
            tmp_path,
            {
                "errors.py": "",
                "master/daemon.py": "from pkg import errors\nfrom pkg.protocol import wire\n",
                "minion/daemon.py": "from pkg.protocol.wire import pack\n",
                "protocol/wire.py": "def pack(): ...\n",
                "modules/cmd.py": "from pkg.plugins.context import current\n",
                "plugins/context.py": "def current(): ...\n",
            },
        )
        == []
    )


def test_master_importing_minion_is_caught(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        {
            "master/daemon.py": "def f():\n    from pkg.minion import channel\n",
            "minion/channel.py": "",
        },
    )
    assert len(problems) == 1
    assert "pkg.master.daemon (line 2) imports pkg.minion.channel" in problems[0]
    assert "never import each other" in problems[0]


def test_minion_importing_master_is_caught_even_for_type_checking(tmp_path: Path) -> None:
    text = (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.master.keys import K\n"
    )
    problems = _problems(tmp_path, {"minion/daemon.py": text, "master/keys.py": "K = 1\n"})
    assert [p for p in problems if "never import each other" in p]


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("modules/cmd.py", "pkg.master.keys"),
        ("modules/cmd.py", "pkg.minion.daemon"),
        ("states/file.py", "pkg.cli.ff"),
        ("states/file.py", "pkg.client.local"),
    ],
)
def test_a_plugin_importing_daemon_internals_is_caught(
    tmp_path: Path, source: str, target: str
) -> None:
    target_file = target.removeprefix("pkg.").replace(".", "/") + ".py"
    problems = _problems(tmp_path, {source: f"import {target}\n", target_file: ""})
    assert len(problems) == 1 and "a plugin imports no daemon" in problems[0]


def test_a_state_module_importing_an_execution_module_is_caught(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path, {"states/pkg.py": "from pkg.modules import apt\n", "modules/apt.py": ""}
    )
    assert len(problems) == 1 and "through the job context" in problems[0]


def test_the_core_importing_a_daemon_is_caught(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path, {"targeting/core.py": "from pkg.master import keys\n", "master/keys.py": ""}
    )
    assert len(problems) == 1 and "the shared core imports no daemon" in problems[0]


def test_an_import_cycle_is_caught_but_a_lazy_import_may_close_a_loop(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        {
            "a.py": "from pkg import b\n",
            "b.py": "from pkg import c\n",
            "c.py": "import pkg.a\n",
            "d.py": "from pkg import e\n",
            "e.py": "def f():\n    from pkg import d\n",
        },
    )
    assert problems == ["import cycle: pkg.a -> pkg.b -> pkg.c -> pkg.a"]


def test_a_private_name_reached_across_modules_is_caught(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        {
            "host/procs.py": "def _spawn(): ...\n",
            "modules/pkg.py": "from pkg.host.procs import _spawn\n",
            "modules/svc.py": "from pkg.host import procs\n\nprocs._spawn()\n",
            "modules/ok.py": "from pkg import __init__\nx = 1\n_y = x\n",
        },
    )
    assert len(problems) == 2
    assert (
        "pkg.modules.pkg (line 1) imports pkg.host.procs: takes the private name _spawn" in problems
    )
    assert "pkg.modules.svc (line 3) reaches the private procs._spawn of pkg.host.procs" in problems


def test_a_custom_plugin_importing_internals_is_caught(tmp_path: Path) -> None:
    good = tmp_path / "good.py"
    good.write_text("from fluxforge.plugin import current\nimport os\n")
    bad = tmp_path / "bad.py"
    bad.write_text("import json\nfrom fluxforge.plugins.context import current\n")
    worse = tmp_path / "worse.py"
    worse.write_text("from fluxforge import minion\n")
    problems = imports.check_custom("fluxforge", [good, bad, worse])
    assert problems == [
        f"{bad} (line 2) imports fluxforge.plugins.context: custom plugins import only "
        "fluxforge.plugin",
        f"{worse} (line 1) imports fluxforge.minion: custom plugins import only fluxforge.plugin",
    ]
