"""The ``raw`` and ``txt`` outputters: Python's repr, and one ``id: line`` per line."""

from __future__ import annotations

from typing import Any

from fluxforge.output.values import neutralise_text

__all__ = ["format_raw", "format_txt"]


def format_raw(minion_id: str, value: Any) -> str:
    """``str({minion_id: value})`` and a newline."""
    return str({minion_id: value}) + "\n"


def format_txt(minion_id: str, value: Any) -> str:
    """Salt's txt outputter: ``id: line`` for each line, ``id:`` for empty text.

    Terminal controls in the text are shown escaped (a container's repr
    escapes them already).
    """
    minion_id = neutralise_text(minion_id)
    lines = neutralise_text(str(value)).splitlines()
    if not lines:
        return f"{minion_id}:\n"
    return "".join(f"{minion_id}: {line}\n" for line in lines)
