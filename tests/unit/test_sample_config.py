"""The sample fluxforge.conf at the repository root stays in step with the options."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from fluxforge.config import SECTIONS, describe, from_mapping, load, render_sample

SAMPLE = Path(__file__).resolve().parents[2] / "fluxforge.conf"


def test_sample_file_is_rendered_sample() -> None:
    assert SAMPLE.is_file(), "run `python -m fluxforge.config > fluxforge.conf`"
    assert SAMPLE.read_text(encoding="utf-8") == render_sample(), (
        "fluxforge.conf is stale; regenerate it with `python -m fluxforge.config > fluxforge.conf`"
    )


def test_sample_lists_every_option_with_its_default() -> None:
    parsed = yaml.safe_load(render_sample())
    assert set(parsed) == set(SECTIONS)
    for section, cls in SECTIONS.items():
        values = parsed[section]
        assert list(values) == [f.name for f in dataclasses.fields(cls)]
        for name, default, _help in describe(cls):
            assert values[name] == default, f"{section}.{name}"
            assert type(values[name]) is type(default), f"{section}.{name}"


def test_sample_shows_help_lines() -> None:
    text = render_sample()
    for cls in SECTIONS.values():
        for _name, _default, help_text in describe(cls):
            assert f"  # {help_text}\n" in text


def test_loading_sample_gives_defaults() -> None:
    loaded = load(str(SAMPLE))
    defaults = from_mapping({})
    assert loaded.master == defaults.master
    assert loaded.minion == defaults.minion


def test_loading_rendered_sample_gives_defaults(tmp_path: Path) -> None:
    path = tmp_path / "fluxforge.conf"
    path.write_text(render_sample(), encoding="utf-8")
    loaded = load(str(path))
    defaults = from_mapping({})
    assert loaded.master == defaults.master
    assert loaded.minion == defaults.minion
