"""Existing trees render exactly as they did before grains and pillar became untrusted context.

Every SLS file of tests/states and of the public Salt formulas in
``/work/shared/salt-formulas`` (skipped where that folder is absent) is
rendered twice: with grains, pillar and ``salt`` as untrusted context, as
the state tree renders them, and with everything trusted, as before
(``highstate.template.UNTRUSTED`` emptied). The data, with its types, or
the error must be the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from fluxforge.files.client import local_client
from fluxforge.highstate import sls as sls_files
from fluxforge.highstate import template
from fluxforge.plugins.loader import execution_functions, extmods_dir
from fluxforge.testing import job_context

STATES = Path(__file__).resolve().parent.parent / "states"
FORMULAS = Path("/work/shared/salt-formulas")

GRAINS = {
    "id": "web1",
    "os": "Debian",
    "os_family": "Debian",
    "osfinger": "Debian-12",
    "osarch": "amd64",
    "oscodename": "bookworm",
    "osmajorrelease": 12,
    "kernel": "Linux",
    "roles": ["web"],
    "fqdn": "web1.example.com",
    "fqdn_ip4": ["10.0.0.1"],
    "fqdn_ip6": [],
    "nodename": "web1",
    "init": "systemd",
}

# Stand-ins for the Salt functions the formulas call that FluxForge does not have yet.
STAND_INS = {
    "mine.py": '''
def get(*args, **kwargs):
    """Stand-in of Salt's mine.get: nothing mined."""
    return {}
''',
}


def trees() -> list[tuple[str, Path, dict[str, Any]]]:
    found: list[tuple[str, Path, dict[str, Any]]] = [
        (f"states/{p.name}", p, {}) for p in sorted(STATES.iterdir()) if p.is_dir()
    ]
    if FORMULAS.is_dir():
        for formula in sorted(FORMULAS.iterdir()):
            example = formula / "pillar.example"
            if formula.is_dir():
                pillar = yaml.safe_load(example.read_text()) if example.is_file() else {}
                found.append((formula.name, formula, pillar or {}))
    return found


def shape(value: Any) -> Any:
    """``value`` with each leaf's type beside it (a tainted string counts as a string)."""
    if isinstance(value, dict):
        return {shape(k): shape(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [shape(v) for v in value]
    if isinstance(value, str):
        return ("str", str.__str__(value))
    return (type(value).__name__, value)


def render_all(tmp_path: Path, root: Path, pillar: dict[str, Any]) -> dict[str, Any]:
    cache = str(tmp_path / "cache")
    modules = Path(extmods_dir(cache, "modules"))
    modules.mkdir(parents=True)
    for name, text in STAND_INS.items():
        (modules / name).write_text(text.lstrip())
    out: dict[str, Any] = {}
    with job_context(
        tmp_path,
        {"id": "web1"},
        grains=dict(GRAINS),
        pillar=pillar,
        funcs=execution_functions(cache),
        files=local_client(cache, {"base": [str(root)]}),
        fun="state.apply",
    ) as ctx:
        tree = sls_files.Tree(ctx)
        for path in sorted(root.rglob("*.sls")):
            rel = path.relative_to(root).with_suffix("")
            if rel.name == "top" and len(rel.parts) == 1:
                continue
            parts = rel.parts[:-1] if rel.name == "init" else rel.parts
            name = ".".join(parts)
            found = tree.locate(name, "base")
            assert found is not None, name
            try:
                out[name] = shape(tree.render_sls(found))
            except sls_files.StateTreeError as exc:
                out[name] = f"error: {exc}"
    return out


@pytest.mark.parametrize(("label", "root", "pillar"), trees(), ids=[t[0] for t in trees()])
def test_a_tree_renders_as_before(
    label: str, root: Path, pillar: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = render_all(tmp_path / "now", root, pillar)
    monkeypatch.setattr(template, "UNTRUSTED", ())
    before = render_all(tmp_path / "before", root, pillar)
    assert now == before
    rendered = [name for name, data in now.items() if not isinstance(data, str)]
    assert rendered, f"{label}: no SLS file rendered"
