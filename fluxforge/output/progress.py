"""How one state ended, and the line ``ff -v`` and ``ff-call`` print as each state finishes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fluxforge.output.values import neutralise_text

__all__ = ["format_progress", "state_status"]


def state_status(result: Any, changes: Any) -> str:
    """How one state ended: ``unchanged``, ``changed``, ``would change`` or ``failed``.

    ``result`` None is test mode's "would change"; a false ``result`` is a
    failure whatever the changes; otherwise any change makes it ``changed``.
    """
    if result is None:
        return "would change"
    if not result:
        return "failed"
    return "changed" if changes else "unchanged"


def format_progress(data: Any) -> str | None:
    """``[3/20] file.managed /etc/motd: changed``: one state of a state run, as it finishes.

    ``data`` is what the state engine reports through ``JobContext.progress``,
    ``{n, total, id, state, name, result, changed}``. Anything else, such as
    the empty data of a heartbeat, gives None.
    """
    if not isinstance(data, Mapping) or "n" not in data:
        return None
    name = data.get("name", data.get("id", ""))
    status = state_status(data.get("result"), data.get("changed"))
    line = f"[{data['n']}/{data.get('total', '?')}] {data.get('state', '?')} {name}: {status}"
    return neutralise_text(line)
