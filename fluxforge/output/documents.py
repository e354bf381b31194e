"""The ``json`` and ``yaml`` outputters: documents a script parses.

Loaded only when one of them is chosen, so that other commands do not pay
for PyYAML's import.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Set
from typing import Any

import yaml

from fluxforge.output.values import as_list, neutralise_text

__all__ = ["format_json", "format_yaml", "to_json"]


def format_json(minion_id: str, value: Any) -> str:
    """``{minion_id: value}`` as JSON (see :func:`to_json`) and a newline."""
    return to_json({minion_id: value}) + "\n"


def format_yaml(minion_id: str, value: Any) -> str:
    """``{minion_id: value}`` as block YAML, non-ASCII text shown as itself."""
    return yaml.dump(
        {minion_id: _yaml_safe(value)},
        Dumper=_Dumper,
        default_flow_style=False,
        allow_unicode=True,
    )


class _Dumper(yaml.SafeDumper):
    """``safe_dump`` that writes a string holding a terminal control double-quoted and escaped.

    With ``allow_unicode`` PyYAML writes format characters such as bidi
    overrides as they are; such a string is written as ``"\\u202e..."``
    instead (its other non-ASCII too), so the document holds the same data.
    """

    def analyze_scalar(self, scalar: str) -> Any:
        analysis = super().analyze_scalar(scalar)
        if neutralise_text(scalar) != scalar:
            analysis.allow_flow_plain = analysis.allow_block_plain = False
            analysis.allow_single_quoted = analysis.allow_block = False
        return analysis

    def write_double_quoted(self, text: str, split: bool = True) -> None:
        if neutralise_text(text) == text:
            super().write_double_quoted(text, split)
            return
        self.allow_unicode = False
        try:
            super().write_double_quoted(text, split)
        finally:
            self.allow_unicode = True


def to_json(value: Any) -> str:
    """``json.dumps(value, indent=4, sort_keys=True, default=str)``, keys of any type allowed."""
    return json.dumps(_json_keys(value), indent=4, sort_keys=True, default=str)


def _json_keys(value: Any) -> Any:
    """Turn every dict key into the string JSON would make of it.

    ``json.dumps`` does this itself, but sorts before converting, so a dict
    with both ``1`` and ``"a"`` as keys would fail to sort; converting first
    sorts them as the strings they become.
    """
    if isinstance(value, Mapping):
        return {_json_key(key): _json_keys(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_keys(item) for item in value]
    return value


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)
    return str(key)


def _yaml_safe(value: Any) -> Any:
    """Reduce a value to types ``yaml.safe_dump`` represents; others become str."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {_yaml_key(key): _yaml_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | Set):
        return [_yaml_safe(item) for item in as_list(value)]
    return str(value)


def _yaml_key(key: Any) -> Any:
    if key is None or isinstance(key, str | bool | int | float):
        return key
    return str(key)
