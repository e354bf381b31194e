"""The ``nested`` outputter, and the colours and indent the ``highstate`` one shares with it.

``minion_id:`` then the value indented four spaces. A dict starts with a
``----------`` line and lists its keys sorted, each key followed by its
value indented four more; list items are ``- item``, and a list item that is
itself a list or dict sits under a ``|_`` line. Empty strings and empty
lists print nothing under their key, as in Salt.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from typing import Any

from fluxforge.output.values import as_list, sorted_keys

__all__ = [
    "CYAN",
    "ENDC",
    "GREEN",
    "INDENT",
    "LIGHT_YELLOW",
    "RED",
    "SEPARATOR",
    "NestedPainter",
    "format_nested",
]

# ANSI colours, the ones Salt's nested outputter uses.
GREEN = "\033[0;32m"
CYAN = "\033[0;36m"
LIGHT_YELLOW = "\033[1;33m"
RED = "\033[0;31m"
ENDC = "\033[0m"

INDENT = 4
SEPARATOR = "----------"


def format_nested(minion_id: str, value: Any, color: bool, failed: bool = False) -> str:
    """One minion's value in Salt's nested layout, ending in a newline; red with ``failed``."""
    return NestedPainter(color, failed).render(minion_id, value)


class NestedPainter:
    """Salt's nested layout; colours are empty strings when colour is off."""

    def __init__(self, color: bool, failed: bool) -> None:
        def pick(code: str) -> str:
            if not color:
                return ""
            return RED if failed else code

        self.header = GREEN if color else ""
        self.key = pick(CYAN)
        self.string = pick(GREEN)
        self.scalar = pick(LIGHT_YELLOW)
        self.endc = ENDC if color else ""

    def render(self, minion_id: str, value: Any) -> str:
        """Return the header line and the value below it, newline-terminated."""
        lines = [f"{self.header}{minion_id}{self.endc}:"]
        self._display(value, INDENT, "", lines)
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
            self._display_sequence(as_list(value), indent, lines)
        else:
            text = value if isinstance(value, str) else str(value)
            for number, line in enumerate(text.splitlines()):
                line_prefix = prefix if number == 0 else " " * len(prefix)
                lines.append(self._line(indent, self.string, line, line_prefix))

    def _display_mapping(
        self, value: Mapping[Any, Any], indent: int, prefix: str, lines: list[str]
    ) -> None:
        lines.append(self._line(indent, self.key, SEPARATOR))
        for key in sorted_keys(value):
            lines.append(self._line(indent, self.key, str(key), prefix, suffix=":"))
            self._display(value[key], indent + INDENT, "", lines)

    def _display_sequence(self, items: list[Any], indent: int, lines: list[str]) -> None:
        for item in items:
            if isinstance(item, Mapping | list | tuple | Set):
                lines.append(self._line(indent, self.string, "|_"))
                item_prefix = "" if isinstance(item, Mapping) else "- "
                self._display(item, indent + 2, item_prefix, lines)
            else:
                self._display(item, indent, "- ", lines)
