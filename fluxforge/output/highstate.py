"""The ``highstate`` outputter: a state run's result, one state at a time, then a summary.

It is the default for the functions in
:data:`fluxforge.output.STATE_RUN_FUNCTIONS`; any other value is shown as
``nested`` would show it. Loaded only when chosen; see :func:`format_highstate`.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass
from typing import Any

from fluxforge.config import STATE_OUTPUTS
from fluxforge.errors import UsageError
from fluxforge.output.nested import (
    CYAN,
    ENDC,
    GREEN,
    INDENT,
    LIGHT_YELLOW,
    RED,
    SEPARATOR,
    NestedPainter,
)
from fluxforge.output.progress import state_status
from fluxforge.output.values import as_list, sorted_keys

__all__ = ["format_highstate"]

_KEY_SEP = "_|-"
_LABEL_WIDTH = len("Function")
_VALUE_COLUMN = INDENT + _LABEL_WIDTH + 2
_SUMMARY_WIDTH = len("Total states run:")
_STATUS_COLORS = {
    "unchanged": GREEN,
    "changed": CYAN,
    "would change": LIGHT_YELLOW,
    "failed": RED,
}


def format_highstate(
    minion_id: str, value: Any, color: bool, failed: bool = False, state_output: str = "full"
) -> str:
    """Show one minion's state run, ending in a newline.

    A state run's result (a mapping of ``<mod>_|-<id>_|-<name>_|-<fun>`` to
    ``{name, result, changes, comment, duration, start_time, __run_num__,
    __id__, __sls__}``) is shown under ``minion_id:`` one state at a time in
    ``__run_num__`` order, then ``Summary for <minion_id>``. A state in full::

        ----------
              ID: motd
        Function: file.managed
            Name: /etc/motd
             SLS: common
          Result: True
         Comment: File /etc/motd updated
         Started: 12:00:01.123456
        Duration: 12.345 ms
         Changes:
                  diff:
                      --- /etc/motd
                      +++ /etc/motd
                      @@ -1 +1 @@
                      -old
                      +new

    and on one line (``terse``)::

        file.managed /etc/motd (id motd): changed in 12.345 ms

    (the id only when it differs from the name; a failed state adds `` -
    <first line of its comment>``). ``changes`` other than a ``diff`` text
    are shown as ``key: value`` lines, ``old`` before ``new``. The summary::

        Summary for web1
            Succeeded:        2 (changed=1)
            Failed:           1
            Total states run: 3
            Total run time:   15.235 ms

    Test mode adds ``, would change=N`` inside the brackets; the run time is
    the sum of the states' durations, in ``s`` from one second up.

    ``state_output`` picks the layout of each state: ``full``; ``terse``
    (one line each); ``mixed`` (full for failures, terse otherwise);
    ``changes`` (full for states that failed, changed or would change; those
    that succeeded without changes are left out, and one line counts them).

    Colours, with ``color``: a state is green when it succeeded without
    changes, cyan when it changed something, yellow when it would change
    something (test mode), red when it failed; in a diff, added lines are
    green, removed lines red and ``@@`` lines cyan. In the summary the
    ``Succeeded`` line is green, the ``Failed`` line red when any failed.

    Any other return: a list of texts is the run's errors (the state tree
    did not render or compile, so nothing was applied), shown in red one
    ``- error`` each; anything else (an ``ERROR: ...`` text, a value of a
    function that is not a state run) is shown as ``nested`` shows it, red
    with ``failed``.
    """
    if state_output not in STATE_OUTPUTS:
        raise UsageError(
            f"unknown state output {state_output!r}; choose one of {', '.join(STATE_OUTPUTS)}"
        )
    if isinstance(value, Mapping) and _is_state_run(value):
        return _HighstatePainter(color, state_output).render(minion_id, value)
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return _format_state_errors(minion_id, value, color)
    return NestedPainter(color, failed).render(minion_id, value)


def _is_state_run(value: Mapping[Any, Any]) -> bool:
    return all(
        isinstance(key, str) and key.count(_KEY_SEP) >= 3 and isinstance(state, Mapping)
        for key, state in value.items()
    )


@dataclass(frozen=True)
class _StateView:
    """One state's result, as the outputter shows it."""

    id: str
    function: str
    name: str
    sls: str
    result: Any
    status: str
    comment: str
    changes: Any
    started: str
    duration: float | None
    warnings: list[str]

    @classmethod
    def of(cls, key: str, state: Mapping[str, Any]) -> _StateView:
        parts = key.split(_KEY_SEP)
        module, state_id, function = parts[0], parts[1], parts[-1]
        key_name = _KEY_SEP.join(parts[2:-1])
        duration = state.get("duration")
        comment = state.get("comment", "")
        if isinstance(comment, list | tuple):
            comment = "\n".join(str(line) for line in comment)
        warnings = state.get("warnings") or []
        if not isinstance(warnings, list | tuple):
            warnings = [warnings]
        changes = state.get("changes") or {}
        return cls(
            id=str(state.get("__id__", state_id)),
            function=f"{module}.{function}",
            name=str(state.get("name", key_name)),
            sls=str(state.get("__sls__") or ""),
            result=state.get("result"),
            status=state_status(state.get("result"), changes),
            comment=str(comment),
            changes=changes,
            started=str(state.get("start_time") or ""),
            duration=float(duration)
            if isinstance(duration, int | float) and not isinstance(duration, bool)
            else None,
            warnings=[str(warning) for warning in warnings],
        )


@dataclass
class _Tally:
    total: int = 0
    succeeded: int = 0
    changed: int = 0
    would_change: int = 0
    failed: int = 0
    run_time: float = 0.0

    def add(self, view: _StateView) -> None:
        self.total += 1
        if view.status == "failed":
            self.failed += 1
        else:
            self.succeeded += 1
        self.changed += view.status == "changed"
        self.would_change += view.status == "would change"
        self.run_time += view.duration or 0.0


class _HighstatePainter:
    """The highstate layout; see :func:`format_highstate`."""

    def __init__(self, color: bool, state_output: str) -> None:
        self.color = color
        self.state_output = state_output

    def paint(self, code: str, text: str) -> str:
        return f"{code}{text}{ENDC}" if self.color and code else text

    def line(self, indent: int, code: str, text: str) -> str:
        return " " * indent + self.paint(code, text)

    def render(self, minion_id: str, states: Mapping[str, Mapping[str, Any]]) -> str:
        lines = [f"{self.paint(GREEN, minion_id)}:"]
        tally = _Tally()
        hidden = 0
        for key, state in _in_run_order(states):
            view = _StateView.of(key, state)
            tally.add(view)
            layout = self._layout(view.status)
            if layout == "full":
                self._full(view, lines)
            elif layout == "terse":
                lines.append(self._terse(view))
            else:
                hidden += 1
        if not states:
            lines.append(self.line(INDENT, "", "No states were run."))
        if hidden:
            what = "state" if hidden == 1 else "states"
            lines.append(
                self.line(INDENT, GREEN, f"{hidden} {what} succeeded without changes (not shown)")
            )
        lines.append("")
        lines.extend(self._summary(minion_id, tally))
        return "\n".join(lines) + "\n"

    def _layout(self, status: str) -> str:
        if self.state_output == "full":
            return "full"
        if self.state_output == "mixed":
            return "full" if status == "failed" else "terse"
        if self.state_output == "changes":
            return "hidden" if status == "unchanged" else "full"
        return "terse"

    def _full(self, view: _StateView, lines: list[str]) -> None:
        code = _STATUS_COLORS[view.status]

        def field(label: str, text: str, field_code: str = code) -> None:
            first, *rest = text.splitlines() or [""]
            lines.append(self.line(INDENT, field_code, f"{label:>{_LABEL_WIDTH}}: {first}"))
            lines.extend(self.line(_VALUE_COLUMN, field_code, more) for more in rest)

        lines.append(self.line(INDENT, code, SEPARATOR))
        field("ID", view.id)
        field("Function", view.function)
        field("Name", view.name)
        if view.sls:
            field("SLS", view.sls)
        field("Result", str(view.result))
        field("Comment", view.comment)
        if view.started:
            field("Started", view.started)
        if view.duration is not None:
            field("Duration", f"{view.duration:.3f} ms")
        if view.warnings:
            field("Warnings", "\n".join(view.warnings), LIGHT_YELLOW)
        if view.changes:
            lines.append(self.line(INDENT, code, f"{'Changes':>{_LABEL_WIDTH}}:"))
            for indent, text, line_code in _change_lines(view.changes, _VALUE_COLUMN):
                lines.append(self.line(indent, code if line_code is None else line_code, text))

    def _terse(self, view: _StateView) -> str:
        ident = f" (id {view.id})" if view.id != view.name else ""
        took = f" in {view.duration:.3f} ms" if view.duration is not None else ""
        text = f"{view.function} {view.name}{ident}: {view.status}{took}"
        if view.status == "failed" and view.comment.strip():
            text += f" - {view.comment.strip().splitlines()[0]}"
        return self.line(INDENT, _STATUS_COLORS[view.status], text)

    def _summary(self, minion_id: str, tally: _Tally) -> list[str]:
        counts = f"changed={tally.changed}"
        if tally.would_change:
            counts += f", would change={tally.would_change}"
        rows = [
            (GREEN, "Succeeded:", f"{tally.succeeded} ({counts})"),
            (RED if tally.failed else GREEN, "Failed:", str(tally.failed)),
            ("", "Total states run:", str(tally.total)),
            ("", "Total run time:", _run_time(tally.run_time)),
        ]
        return [f"Summary for {minion_id}"] + [
            self.line(INDENT, code, f"{label:<{_SUMMARY_WIDTH}} {value}")
            for code, label, value in rows
        ]


def _in_run_order(
    states: Mapping[str, Mapping[str, Any]],
) -> list[tuple[str, Mapping[str, Any]]]:
    """The states by ``__run_num__``; any without one last, by key."""

    def order(item: tuple[str, Mapping[str, Any]]) -> tuple[int, int, str]:
        number = item[1].get("__run_num__")
        if isinstance(number, int) and not isinstance(number, bool):
            return (0, number, item[0])
        return (1, 0, item[0])

    return sorted(states.items(), key=order)


def _run_time(ms: float) -> str:
    return f"{ms:.3f} ms" if ms < 1000 else f"{ms / 1000:.3f} s"


# One line of a state's changes: (indent, text, colour). The colour is None
# for "the state's colour", "" for none.
_ChangeLine = tuple[int, str, str | None]


def _change_lines(value: Any, indent: int) -> list[_ChangeLine]:
    """``key: value`` lines of a state's changes; a ``diff`` text line by line."""
    out: list[_ChangeLine] = []
    if isinstance(value, Mapping):
        for key in _change_keys(value):
            item = value[key]
            if key == "diff" and isinstance(item, str):
                out.append((indent, "diff:", None))
                out.extend((indent + INDENT, line, _diff_color(line)) for line in item.splitlines())
            elif _inline(item):
                out.append((indent, f"{key}: {_inline_text(item)}", None))
            else:
                out.append((indent, f"{key}:", None))
                out.extend(_change_lines(item, indent + INDENT))
    elif isinstance(value, list | tuple | Set):
        for item in as_list(value):
            if _inline(item):
                out.append((indent, f"- {_inline_text(item)}", None))
                continue
            below = _change_lines(item, indent + 2)
            first_indent, first_text, first_code = below[0]
            marker = "- " + " " * (first_indent - indent - 2)
            out.append((indent, marker + first_text, first_code))
            out.extend(below[1:])
    else:
        out.extend((indent, line, None) for line in str(value).splitlines())
    return out


def _change_keys(value: Mapping[Any, Any]) -> list[Any]:
    """The keys sorted, but ``old`` then ``new`` first: before and after read in that order."""
    first = [key for key in ("old", "new") if key in value]
    return first + [key for key in sorted_keys(value) if key not in ("old", "new")]


def _inline(value: Any) -> bool:
    """Whether a change value fits after its key on one line."""
    if isinstance(value, str):
        return "\n" not in value.strip("\n")
    if isinstance(value, Mapping | list | tuple | Set):
        return not value
    return True


def _inline_text(value: Any) -> str:
    if isinstance(value, str):
        text = value.strip("\n")
        return text if text else "''"
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, list | tuple | Set):
        return "[]"
    return str(value)


def _diff_color(line: str) -> str | None:
    if line.startswith(("+++", "---")):
        return None
    if line.startswith("+"):
        return GREEN
    if line.startswith("-"):
        return RED
    if line.startswith("@@"):
        return CYAN
    return ""


def _format_state_errors(minion_id: str, errors: list[str], color: bool) -> str:
    """A state run that stopped before applying anything: its errors, one ``- error`` each."""
    painter = _HighstatePainter(color, "full")
    lines = [
        f"{painter.paint(GREEN, minion_id)}:",
        painter.line(INDENT, RED, "The state run stopped before applying anything:"),
    ]
    for error in errors:
        first, *rest = error.splitlines() or [""]
        lines.append(painter.line(INDENT, RED, f"- {first}"))
        lines.extend(painter.line(INDENT + 2, RED, more) for more in rest)
    return "\n".join(lines) + "\n"
