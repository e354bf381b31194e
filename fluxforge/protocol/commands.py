"""The local commands the master serves, declared as data.

``ff``, ``ff-key`` and scripts send the master's IPC request socket one
mapping ``{"cmd": <name>, **fields}``; the master serves only the commands
of :data:`COMMANDS` and checks every request with :func:`validate` before
dispatch, so a handler gets exactly the declared fields, optional ones
filled with their defaults. An unknown command, a missing or unexpected
field, or a field of the wrong type or form is refused with a
:class:`~fluxforge.errors.UsageError` of one line naming the command and
the field.

The table is plain data, importable without the master: the REST API maps
its routes onto it. A reply is ``{"ok": true, "result": ...}`` or
``{"ok": false, "error": {type, message}}``
(:func:`fluxforge.errors.describe`). Adding or changing a command is a
protocol change: update docs/protocol.md.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fluxforge.errors import UsageError
from fluxforge.protocol import wire


class _Required:
    """The default of a field that has none: the request must give it."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()

# The states of minion keys (fluxforge.master.keys.STATES; the protocol
# cannot import the master, a test keeps the two equal).
KEY_STATES = ("accepted", "pending", "rejected", "denied")
KEY_OPS = ("list", "finger", "print", "accept", "reject", "delete")

JID_PATTERN = r"[0-9]{20}"


@dataclass(frozen=True)
class Field:
    """One field of a command.

    ``kind`` is a type or tuple of types as in the wire shapes
    (:data:`fluxforge.protocol.wire.Number` for int or float, never bool), or
    a mapping of name to :class:`Field` for a nested mapping. ``items`` is
    the type of each element when the value is a list; ``choices`` the
    allowed values (of each element, for a list); ``pattern`` a regular
    expression a text value must match whole, described to people as
    ``form``.
    """

    kind: Any
    default: Any = REQUIRED
    about: str = ""
    items: Any = None
    choices: tuple[Any, ...] = ()
    pattern: str = ""
    form: str = ""

    @property
    def required(self) -> bool:
        """Whether a request must give this field."""
        return self.default is REQUIRED


@dataclass(frozen=True)
class Command:
    """A local command: its name, its fields and what it does, in one line."""

    name: str
    about: str
    fields: Mapping[str, Field] = field(default_factory=dict)


_TARGET = Field((str, list), about="the target: text, or a list of ids", items=str)

# The load of a publication, as wire.PUBLICATION_SHAPE declares it, except
# that an empty or absent jid asks the master for a new one.
PUBLISH_LOAD: dict[str, Field] = {
    name: Field(kind) for name, kind in wire.PUBLICATION_SHAPE.items() if name != "jid"
}
PUBLISH_LOAD["jid"] = Field(
    str,
    "",
    "the job's id; empty for a new one",
    pattern=f"(?:{JID_PATTERN})?",
    form="a 20-digit jid or empty",
)
PUBLISH_LOAD["tgt"] = _TARGET

COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command("ping", "answer that the master is up: its version and number of accepted keys"),
        Command("prep_jid", "a new jid for a job the client is about to publish"),
        Command(
            "sync",
            "fire the tag on the event bus, so the client knows its subscription is live",
            {
                "tag": Field(
                    str,
                    about="the tag to fire",
                    pattern=f"ff/job/{JID_PATTERN}/sync",
                    form="ff/job/<jid>/sync",
                )
            },
        ),
        Command(
            "publish",
            "resolve the target, record the job and publish it to the minions",
            {"load": Field(PUBLISH_LOAD, about="the job to publish")},
        ),
        Command(
            "resolve",
            "whom a target selects, without running anything",
            {
                "tgt": _TARGET,
                "tgt_type": Field(str, "glob", "the target type"),
            },
        ),
        Command(
            "minion_data",
            "cached grains (and pillar) of minions whose id matches a glob",
            {
                "pattern": Field(str, "*", "a glob of minion ids"),
                "pillar": Field(bool, False, "include the cached pillar"),
            },
        ),
        Command(
            "job",
            "a recorded job with its returns, or nil",
            {"jid": Field(str, about="the job's id", pattern=JID_PATTERN, form="a 20-digit jid")},
        ),
        Command(
            "jobs",
            "the most recent recorded jobs, newest first",
            {"limit": Field(int, 50, "how many jobs at most")},
        ),
        Command(
            "keys",
            "list, fingerprint, print, accept, reject or delete minion keys",
            {
                "op": Field(str, about="what to do", choices=KEY_OPS),
                "pattern": Field(str, "*", "a glob of minion ids"),
                "include": Field(
                    list,
                    [],
                    "key states accept or reject also take keys from",
                    items=str,
                    choices=KEY_STATES,
                ),
                "expect": Field(
                    dict,
                    {},
                    "accept only: id -> fingerprint the operator saw; the keys matched must "
                    "be exactly these, or nothing is accepted",
                ),
            },
        ),
    )
}


_TYPE_NAMES = {
    str: "text",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "a list",
    dict: "a mapping",
    bytes: "bytes",
    type(None): "nil",
}


def _kinds(kind: Any) -> tuple[Any, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def describe_kind(kind: Any) -> str:
    """``kind`` for people: ``text``, ``text or a list``, ``a number``..."""
    if isinstance(kind, Mapping):
        return "a mapping"
    kinds = _kinds(kind)
    if int in kinds and float in kinds:  # wire.Number
        kinds = (float, *(k for k in kinds if k not in (int, float)))
    return " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)


def _is(value: Any, kind: Any) -> bool:
    """Whether ``value`` has ``kind``; a bool is never an int or a number."""
    if isinstance(kind, Mapping):
        return isinstance(value, dict)
    kinds = _kinds(kind)
    if object in kinds:
        return True
    if value.__class__ is bool:
        return bool in kinds
    return isinstance(value, kinds)


def _check_value(cmd: str, name: str, spec: Field, value: Any) -> Any:
    if not _is(value, spec.kind):
        raise UsageError(
            f"{cmd}: field {name!r} must be {describe_kind(spec.kind)}, "
            f"got {_TYPE_NAMES.get(type(value), type(value).__name__)}"
        )
    if isinstance(spec.kind, Mapping):
        return _check_fields(cmd, value, spec.kind, f"{name}.")
    if isinstance(value, list):
        for i, item in enumerate(value):
            if spec.items is not None and not _is(item, spec.items):
                raise UsageError(
                    f"{cmd}: field {name!r} must hold {describe_kind(spec.items)} only "
                    f"(item {i} is not)"
                )
            if spec.choices and item not in spec.choices:
                raise UsageError(
                    f"{cmd}: field {name!r} may hold only {', '.join(map(str, spec.choices))}, "
                    f"not {str(item)[:40]!r}"
                )
        return value
    if spec.choices and value not in spec.choices:
        raise UsageError(
            f"{cmd}: field {name!r} must be one of {', '.join(map(str, spec.choices))}, "
            f"not {str(value)[:40]!r}"
        )
    if spec.pattern and isinstance(value, str) and re.fullmatch(spec.pattern, value) is None:
        raise UsageError(
            f"{cmd}: field {name!r} must be {spec.form or spec.pattern}, not {value[:60]!r}"
        )
    return value


def _check_fields(
    cmd: str, given: Mapping[str, Any], fields: Mapping[str, Field], prefix: str = ""
) -> dict[str, Any]:
    extra = [k for k in given if k not in fields]
    if extra:
        raise UsageError(f"{cmd}: unexpected field {prefix + str(extra[0])[:40]!r}")
    out: dict[str, Any] = {}
    for name, spec in fields.items():
        if name in given:
            out[name] = _check_value(cmd, prefix + name, spec, given[name])
        elif spec.required:
            raise UsageError(f"{cmd}: missing field {prefix + name!r}")
        else:
            out[name] = copy.deepcopy(spec.default)
    return out


def validate(request: Any) -> tuple[str, dict[str, Any]]:
    """Check a local request against :data:`COMMANDS`; returns ``(command, fields)``.

    ``fields`` holds every declared field (defaults filled in) and nothing
    else. Raises :class:`~fluxforge.errors.UsageError` naming the command
    and the field otherwise.
    """
    if not isinstance(request, dict) or not isinstance(request.get("cmd"), str):
        raise UsageError("a local request must be a mapping with a text 'cmd'")
    name = request["cmd"]
    command = COMMANDS.get(name)
    if command is None:
        raise UsageError(f"unknown command {name[:40]!r}; known: {', '.join(sorted(COMMANDS))}")
    given = {k: v for k, v in request.items() if k != "cmd"}
    return name, _check_fields(name, given, command.fields)
