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
``highstate``
    The result of a state run (``state.apply``, ``state.sls`` ...): each
    state in the order it ran, then a summary; see :func:`format_highstate`.
    It is the default for the functions in :data:`STATE_RUN_FUNCTIONS`.
    Any other value is shown as ``nested`` would show it.

Only ``nested`` and ``highstate`` are coloured, and only when asked (see
:func:`use_color`).
Bytes in a return are decoded as UTF-8 with replacement characters wherever
they are shown, JSON included.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Set
from dataclasses import dataclass
from typing import Any

import yaml

from fluxforge import config
from fluxforge.errors import UsageError

__all__ = [
    "OUTPUTTERS",
    "STATE_OUTPUTS",
    "STATE_RUN_FUNCTIONS",
    "default_outputter",
    "format_all",
    "format_highstate",
    "format_progress",
    "format_return",
    "state_status",
    "use_color",
]

OUTPUTTERS = ("nested", "json", "yaml", "raw", "txt", "highstate")

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


def format_return(
    minion_id: str,
    value: Any,
    out: str,
    color: bool,
    failed: bool = False,
    state_output: str = "full",
) -> str:
    """Render one minion's return with outputter ``out``, ending in a newline.

    ``color`` adds ANSI colours to ``nested`` and ``highstate`` output (the
    other outputters are for scripts and never coloured); with ``failed`` a
    value that is not a state run's result is shown in red, for a return that
    is an error from the minion. ``state_output`` is the ``highstate``
    layout (:data:`STATE_OUTPUTS`). Raises
    :class:`~fluxforge.errors.UsageError` for an unknown outputter or layout.
    """
    value = _decode_bytes(value)
    if out == "nested":
        return _NestedPainter(color, failed).render(minion_id, value)
    if out == "highstate":
        return format_highstate(minion_id, value, color, failed, state_output)
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


def format_all(returns: dict[str, Any], out: str, state_output: str = "full") -> str:
    """Render the returns of every minion at once, without colour.

    ``json`` gives exactly ``json.dumps(returns, indent=4, sort_keys=True,
    default=str)`` (bytes decoded first), one parseable document with no
    trailing newline. Every other outputter gives :func:`format_return` of
    each minion in sorted id order, concatenated; each part ends in a newline.
    """
    if out == "json":
        return _to_json(_decode_bytes(returns))
    return "".join(
        format_return(minion_id, returns[minion_id], out, color=False, state_output=state_output)
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


# -- highstate --------------------------------------------------------------------

# The layouts of ``--state-output``.
STATE_OUTPUTS = config.STATE_OUTPUTS

# The functions whose return is a state run's result; ``ff`` and ``ff-call``
# show them with the highstate outputter unless ``--out`` says otherwise.
STATE_RUN_FUNCTIONS = frozenset(
    {
        "state.apply",
        "state.highstate",
        "state.sls",
        "state.single",
    }
)

_KEY_SEP = "_|-"
_LABEL_WIDTH = len("Function")
_VALUE_COLUMN = _INDENT + _LABEL_WIDTH + 2
_SUMMARY_WIDTH = len("Total states run:")
_STATUS_COLORS = {
    "unchanged": _GREEN,
    "changed": _CYAN,
    "would change": _LIGHT_YELLOW,
    "failed": _RED,
}


def default_outputter(function: str) -> str:
    """The outputter for ``function`` when ``--out`` is not given: ``highstate`` for a state run."""
    return "highstate" if function in STATE_RUN_FUNCTIONS else "nested"


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
    return f"[{data['n']}/{data.get('total', '?')}] {data.get('state', '?')} {name}: {status}"


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
    return _NestedPainter(color, failed).render(minion_id, value)


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
        return f"{code}{text}{_ENDC}" if self.color and code else text

    def line(self, indent: int, code: str, text: str) -> str:
        return " " * indent + self.paint(code, text)

    def render(self, minion_id: str, states: Mapping[str, Mapping[str, Any]]) -> str:
        lines = [f"{self.paint(_GREEN, minion_id)}:"]
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
            lines.append(self.line(_INDENT, "", "No states were run."))
        if hidden:
            what = "state" if hidden == 1 else "states"
            lines.append(
                self.line(_INDENT, _GREEN, f"{hidden} {what} succeeded without changes (not shown)")
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
            lines.append(self.line(_INDENT, field_code, f"{label:>{_LABEL_WIDTH}}: {first}"))
            lines.extend(self.line(_VALUE_COLUMN, field_code, more) for more in rest)

        lines.append(self.line(_INDENT, code, _SEPARATOR))
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
            field("Warnings", "\n".join(view.warnings), _LIGHT_YELLOW)
        if view.changes:
            lines.append(self.line(_INDENT, code, f"{'Changes':>{_LABEL_WIDTH}}:"))
            for indent, text, line_code in _change_lines(view.changes, _VALUE_COLUMN):
                lines.append(self.line(indent, code if line_code is None else line_code, text))

    def _terse(self, view: _StateView) -> str:
        ident = f" (id {view.id})" if view.id != view.name else ""
        took = f" in {view.duration:.3f} ms" if view.duration is not None else ""
        text = f"{view.function} {view.name}{ident}: {view.status}{took}"
        if view.status == "failed" and view.comment.strip():
            text += f" - {view.comment.strip().splitlines()[0]}"
        return self.line(_INDENT, _STATUS_COLORS[view.status], text)

    def _summary(self, minion_id: str, tally: _Tally) -> list[str]:
        counts = f"changed={tally.changed}"
        if tally.would_change:
            counts += f", would change={tally.would_change}"
        rows = [
            (_GREEN, "Succeeded:", f"{tally.succeeded} ({counts})"),
            (_RED if tally.failed else _GREEN, "Failed:", str(tally.failed)),
            ("", "Total states run:", str(tally.total)),
            ("", "Total run time:", _run_time(tally.run_time)),
        ]
        return [f"Summary for {minion_id}"] + [
            self.line(_INDENT, code, f"{label:<{_SUMMARY_WIDTH}} {value}")
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
                out.extend(
                    (indent + _INDENT, line, _diff_color(line)) for line in item.splitlines()
                )
            elif _inline(item):
                out.append((indent, f"{key}: {_inline_text(item)}", None))
            else:
                out.append((indent, f"{key}:", None))
                out.extend(_change_lines(item, indent + _INDENT))
    elif isinstance(value, list | tuple | Set):
        for item in _as_list(value):
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
    return first + [key for key in _sorted_keys(value) if key not in ("old", "new")]


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
        return _GREEN
    if line.startswith("-"):
        return _RED
    if line.startswith("@@"):
        return _CYAN
    return ""


def _format_state_errors(minion_id: str, errors: list[str], color: bool) -> str:
    """A state run that stopped before applying anything: its errors, one ``- error`` each."""
    painter = _HighstatePainter(color, "full")
    lines = [
        f"{painter.paint(_GREEN, minion_id)}:",
        painter.line(_INDENT, _RED, "The state run stopped before applying anything:"),
    ]
    for error in errors:
        first, *rest = error.splitlines() or [""]
        lines.append(painter.line(_INDENT, _RED, f"- {first}"))
        lines.extend(painter.line(_INDENT + 2, _RED, more) for more in rest)
    return "\n".join(lines) + "\n"


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
