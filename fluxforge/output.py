"""Outputters: how job returns are shown to a person or a script.

The names and looks follow Salt's outputters, so that people and tools used
to ``salt`` read ``ff`` output unchanged:

``nested``
    The default: ``minion_id:`` then the value indented four spaces. A dict
    starts with a ``----------`` line and lists its keys sorted, each key
    followed by its value indented four more; list items are ``- item``, and
    a list item that is itself a list or dict sits under a ``|_`` line.
    Empty strings and empty lists print nothing under their key, as in Salt.
``json``
    Exact JSON (:func:`format_all` gives one document for all minions).
``yaml``
    ``{minion_id: value}`` as block YAML, non-ASCII text shown as itself.
``raw``
    ``str({minion_id: value})``, Python's own repr.
``txt``
    ``minion_id: line`` for each line of the value.

Only ``nested`` is coloured, and only when asked (see :func:`use_color`).
Bytes in a return are decoded as UTF-8 with replacement characters wherever
they are shown, JSON included.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Set
from typing import Any

import yaml

from fluxforge.errors import UsageError

__all__ = ["OUTPUTTERS", "format_all", "format_return", "use_color"]

OUTPUTTERS = ("nested", "json", "yaml", "raw", "txt")

# ANSI colours, the ones Salt's nested outputter uses.
_GREEN = "\033[0;32m"
_CYAN = "\033[0;36m"
_LIGHT_YELLOW = "\033[1;33m"
_RED = "\033[0;31m"
_ENDC = "\033[0m"

_INDENT = 4
_SEPARATOR = "----------"


def use_color(stream: Any) -> bool:
    """Tell whether output written to ``stream`` should be coloured.

    True when the stream is a terminal and the ``NO_COLOR`` environment
    variable is not set to a non-empty value (https://no-color.org: an empty
    ``NO_COLOR`` does not count as set).
    """
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    if not callable(isatty):
        return False
    try:
        return bool(isatty())
    except (ValueError, OSError):  # a closed or detached stream
        return False


def format_return(minion_id: str, value: Any, out: str, color: bool, failed: bool = False) -> str:
    """Render one minion's return with outputter ``out``, ending in a newline.

    ``color`` adds ANSI colours to ``nested`` output (the other outputters
    are for scripts and never coloured); with ``failed`` the value is shown
    in red, for a return that is an error from the minion. Raises
    :class:`~fluxforge.errors.UsageError` for an unknown outputter name.
    """
    value = _decode_bytes(value)
    if out == "nested":
        return _NestedPainter(color, failed).render(minion_id, value)
    if out == "json":
        return _to_json({minion_id: value}) + "\n"
    if out == "yaml":
        return yaml.safe_dump(
            {minion_id: _yaml_safe(value)}, default_flow_style=False, allow_unicode=True
        )
    if out == "raw":
        return str({minion_id: value}) + "\n"
    if out == "txt":
        return _format_txt(minion_id, value)
    raise UsageError(f"unknown outputter {out!r}; choose one of {', '.join(OUTPUTTERS)}")


def format_all(returns: dict[str, Any], out: str) -> str:
    """Render the returns of every minion at once, without colour.

    ``json`` gives exactly ``json.dumps(returns, indent=4, sort_keys=True,
    default=str)`` (bytes decoded first), one parseable document with no
    trailing newline. Every other outputter gives :func:`format_return` of
    each minion in sorted id order, concatenated; each part ends in a newline.
    """
    if out == "json":
        return _to_json(_decode_bytes(returns))
    return "".join(
        format_return(minion_id, returns[minion_id], out, color=False)
        for minion_id in sorted(returns)
    )


# -- nested -------------------------------------------------------------------


class _NestedPainter:
    """Salt's nested layout; colours are empty strings when colour is off."""

    def __init__(self, color: bool, failed: bool) -> None:
        def pick(code: str) -> str:
            if not color:
                return ""
            return _RED if failed else code

        self.header = _GREEN if color else ""
        self.key = pick(_CYAN)
        self.string = pick(_GREEN)
        self.scalar = pick(_LIGHT_YELLOW)
        self.endc = _ENDC if color else ""

    def render(self, minion_id: str, value: Any) -> str:
        """Return the header line and the value below it, newline-terminated."""
        lines = [f"{self.header}{minion_id}{self.endc}:"]
        self._display(value, _INDENT, "", lines)
        return "\n".join(lines) + "\n"

    def _line(self, indent: int, color: str, text: str, prefix: str = "", suffix: str = "") -> str:
        endc = self.endc if color else ""
        return f"{' ' * indent}{color}{prefix}{text}{endc}{suffix}"

    def _display(self, value: Any, indent: int, prefix: str, lines: list[str]) -> None:
        if value is None or isinstance(value, bool | int | float):
            lines.append(self._line(indent, self.scalar, str(value), prefix))
        elif isinstance(value, Mapping):
            self._display_mapping(value, indent, prefix, lines)
        elif isinstance(value, list | tuple | Set):
            self._display_sequence(_as_list(value), indent, lines)
        else:
            text = value if isinstance(value, str) else str(value)
            for number, line in enumerate(text.splitlines()):
                line_prefix = prefix if number == 0 else " " * len(prefix)
                lines.append(self._line(indent, self.string, line, line_prefix))

    def _display_mapping(
        self, value: Mapping[Any, Any], indent: int, prefix: str, lines: list[str]
    ) -> None:
        lines.append(self._line(indent, self.key, _SEPARATOR))
        for key in _sorted_keys(value):
            lines.append(self._line(indent, self.key, str(key), prefix, suffix=":"))
            self._display(value[key], indent + _INDENT, "", lines)

    def _display_sequence(self, items: list[Any], indent: int, lines: list[str]) -> None:
        for item in items:
            if isinstance(item, Mapping | list | tuple | Set):
                lines.append(self._line(indent, self.string, "|_"))
                item_prefix = "" if isinstance(item, Mapping) else "- "
                self._display(item, indent + 2, item_prefix, lines)
            else:
                self._display(item, indent, "- ", lines)


# -- txt, json, yaml ------------------------------------------------------------


def _format_txt(minion_id: str, value: Any) -> str:
    """Salt's txt outputter: ``id: line`` for each line, ``id:`` for empty text."""
    lines = str(value).splitlines()
    if not lines:
        return f"{minion_id}:\n"
    return "".join(f"{minion_id}: {line}\n" for line in lines)


def _to_json(value: Any) -> str:
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
        return [_yaml_safe(item) for item in _as_list(value)]
    return str(value)


def _yaml_key(key: Any) -> Any:
    if key is None or isinstance(key, str | bool | int | float):
        return key
    return str(key)


# -- shared helpers -------------------------------------------------------------


def _decode_bytes(value: Any) -> Any:
    """Replace bytes anywhere in a return (keys too) by their UTF-8 text."""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, Mapping):
        return {_decode_key(key): _decode_bytes(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode_bytes(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_decode_bytes(item) for item in value)
    if isinstance(value, Set):
        return {_decode_bytes(item) for item in value}
    return value


def _decode_key(key: Any) -> Any:
    if isinstance(key, bytes):
        return key.decode("utf-8", errors="replace")
    return key


def _as_list(value: list[Any] | tuple[Any, ...] | Set[Any]) -> list[Any]:
    """A list of the items; a set's items sorted so that output is stable."""
    if isinstance(value, Set):
        return _sorted_any(value)
    return list(value)


def _sorted_keys(value: Mapping[Any, Any]) -> list[Any]:
    return _sorted_any(value.keys())


def _sorted_any(items: Any) -> list[Any]:
    """Sort naturally when the items compare, else by their text."""
    try:
        return sorted(items)
    except TypeError:
        return sorted(items, key=str)
