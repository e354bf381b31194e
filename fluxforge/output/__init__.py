"""Outputters: how job returns are shown to a person or a script.

The names and looks follow Salt's outputters, so that people and tools used
to ``salt`` read ``ff`` output unchanged:

``nested``
    The default: ``minion_id:`` then the value indented four spaces, dicts
    as sorted keys under a ``----------`` line, list items as ``- item``
    (:mod:`fluxforge.output.nested`).
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
    state in the order it ran, then a summary; see
    :func:`fluxforge.output.highstate.format_highstate`. It is the default
    for the functions in :data:`STATE_RUN_FUNCTIONS`. Any other value is
    shown as ``nested`` would show it.

Only ``nested`` and ``highstate`` are coloured, and only when asked (see
:func:`use_color`).
Bytes in a return are decoded as UTF-8 with replacement characters wherever
they are shown, JSON included. No outputter passes a character that a
terminal acts on (ESC, CR, BEL, C1 controls, bidi overrides: see
:func:`fluxforge.output.values.neutralise`) to the terminal as it is:
``nested``, ``txt``, ``highstate`` and the progress line show it escaped
(``\\x1b``, ``\\u202e``), keeping newlines and tabs; ``yaml`` writes such a
string double-quoted with YAML escapes; ``json`` and ``raw`` escape it by
their own rules, so their data stays exact.

This module is what every command imports: the names, the dispatcher and
the progress line. Each outputter lives in a module of its own, imported by
:func:`format_return` the first time it is chosen, so that ``ff --version``
or a ``nested`` return never loads PyYAML or the highstate painter.
"""

from __future__ import annotations

import os
from typing import Any

from fluxforge.config import STATE_OUTPUTS
from fluxforge.errors import UsageError
from fluxforge.output.progress import format_progress, state_status
from fluxforge.output.values import decode_bytes, neutralise, neutralise_text

__all__ = [
    "OUTPUTTERS",
    "STATE_OUTPUTS",
    "STATE_RUN_FUNCTIONS",
    "default_outputter",
    "format_all",
    "format_progress",
    "format_return",
    "neutralise_text",
    "state_status",
    "use_color",
]

OUTPUTTERS = ("nested", "json", "yaml", "raw", "txt", "highstate")

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


def default_outputter(function: str) -> str:
    """The outputter for ``function`` when ``--out`` is not given: ``highstate`` for a state run."""
    return "highstate" if function in STATE_RUN_FUNCTIONS else "nested"


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
    # Each outputter's module is imported here, when it is chosen.
    value = decode_bytes(value)
    if out in ("nested", "highstate"):
        value, minion_id = neutralise(value), neutralise(minion_id)
    if out == "nested":
        from fluxforge.output.nested import format_nested

        return format_nested(minion_id, value, color, failed)
    if out == "highstate":
        from fluxforge.output.highstate import format_highstate

        return format_highstate(minion_id, value, color, failed, state_output)
    if out == "json":
        from fluxforge.output.documents import format_json

        return format_json(minion_id, value)
    if out == "yaml":
        from fluxforge.output.documents import format_yaml

        return format_yaml(minion_id, value)
    if out == "raw":
        from fluxforge.output.plain import format_raw

        return format_raw(minion_id, value)
    if out == "txt":
        from fluxforge.output.plain import format_txt

        return format_txt(minion_id, value)
    raise UsageError(f"unknown outputter {out!r}; choose one of {', '.join(OUTPUTTERS)}")


def format_all(returns: dict[str, Any], out: str, state_output: str = "full") -> str:
    """Render the returns of every minion at once, without colour.

    ``json`` gives exactly ``json.dumps(returns, indent=4, sort_keys=True,
    default=str)`` (bytes decoded first), one parseable document with no
    trailing newline. Every other outputter gives :func:`format_return` of
    each minion in sorted id order, concatenated; each part ends in a newline.
    """
    if out == "json":
        from fluxforge.output.documents import to_json

        return to_json(decode_bytes(returns))
    return "".join(
        format_return(minion_id, returns[minion_id], out, color=False, state_output=state_output)
        for minion_id in sorted(returns)
    )
