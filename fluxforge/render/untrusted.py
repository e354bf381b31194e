"""Untrusted values in templates: they land in a YAML document as data, never as its structure.

A Jinja template that renders to YAML is text built from two sources: the
author's file, which is meant to shape the document, and values from
grains, pillar, event data or job arguments, which are not. A grain
holding a newline and ``include:`` lines, printed by an ordinary line
``location: {{ grains.location }}``, would otherwise add keys to the
document. The renderer keeps the two apart in three steps:

1. :func:`taint` copies an untrusted value with every string in it (keys
   too) made a :class:`Tainted` string. Tainted strings stay tainted through
   the common ``str`` methods, Jinja's ``~`` and filters, and the results of
   untrusted functions (``salt['pillar.get']``) are tainted too.
2. When a tainted value is printed (``{{ ... }}``), :class:`Placeholders`
   prints a token instead: letters and digits only, random per render,
   so it means the same in any YAML position (key, value, inside quotes or
   a block scalar) and a value cannot forge one.
3. The YAML step puts the values back while it builds nodes, after the
   document's structure is fixed. A plain scalar that is one token whose
   value is a list or mapping becomes that value. Otherwise the tokens are
   replaced by their values' text; a plain scalar without an explicit tag
   then gets the type YAML resolves that text to when it is one line
   (``80`` an int, ``true`` a bool, as before), and stays a string when
   it holds a line break; a quoted or block scalar stays a string.

Renders that end in text (``jinja`` alone, for file templates) get the
tokens replaced by the values' text: their output is what it was.
Text that is itself tainted is never rendered as a template
(:func:`refuse_template`): a value passed by a user is data.
"""

from __future__ import annotations

import contextvars
import copy
import re
import secrets
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import yaml

# --- tainted strings -----------------------------------------------------------------


class Tainted(str):
    """A string that came from an untrusted context (grains, pillar, event data, job args)."""

    __slots__ = ()

    def __str__(self) -> str:
        return self

    def __add__(self, other: str) -> Tainted:
        return Tainted(str.__add__(self, other))

    def __radd__(self, other: str) -> Tainted:
        return Tainted(str.__add__(other, self))

    def __mod__(self, args: Any) -> Tainted:
        return Tainted(str.__mod__(self, args))

    def __rmod__(self, template: str) -> Tainted:
        return Tainted(str.__mod__(template, self))

    def __mul__(self, n: Any) -> Tainted:
        return Tainted(str.__mul__(self, n))

    __rmul__ = __mul__

    def __getitem__(self, key: Any) -> Tainted:
        return Tainted(str.__getitem__(self, key))

    def __iter__(self) -> Iterator[str]:
        return (Tainted(c) for c in str.__iter__(self))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Tainted, (str(str.__str__(self)),))


def _keep_taint(name: str) -> Callable[..., Any]:
    method = getattr(str, name)

    def kept(self: Tainted, *args: Any, **kwargs: Any) -> Any:
        return _retaint(method(self, *args, **kwargs))

    kept.__name__ = name
    kept.__doc__ = method.__doc__
    return kept


def _retaint(result: Any) -> Any:
    if isinstance(result, str):
        return Tainted(result)
    if isinstance(result, list):
        return [Tainted(item) for item in result]
    if isinstance(result, tuple):
        return tuple(Tainted(item) for item in result)
    return result


_KEPT = [
    "capitalize", "casefold", "center", "expandtabs", "format", "format_map", "join",
    "ljust", "lower", "lstrip", "partition", "removeprefix", "removesuffix", "replace",
    "rjust", "rpartition", "rsplit", "rstrip", "split", "splitlines", "strip", "swapcase",
    "title", "translate", "upper", "zfill",
]  # fmt: skip
for _name in _KEPT:
    setattr(Tainted, _name, _keep_taint(_name))


def _represent(dumper: yaml.representer.SafeRepresenter, data: Tainted) -> yaml.ScalarNode:
    return dumper.represent_str(str.__str__(data))  # the C emitter takes plain strings only


# Dumped as the string it is by every YAML dumper (the ``yaml`` filters, outputters, stores).
for _dumper in (
    yaml.representer.SafeRepresenter,
    yaml.representer.Representer,
    yaml.SafeDumper,
    yaml.Dumper,
    getattr(yaml, "CSafeDumper", yaml.SafeDumper),
    getattr(yaml, "CDumper", yaml.Dumper),
):
    _dumper.add_representer(Tainted, _represent)


class _TaintedMapping(Mapping[str, Any]):
    """A read-only view of a mapping that is not a dict (``ff``/``salt``), tainting its values."""

    def __init__(self, inner: Mapping[Any, Any]) -> None:
        self._inner = inner

    def __getitem__(self, key: Any) -> Any:
        return taint(self._inner[key])

    def __contains__(self, key: object) -> bool:
        return key in self._inner

    def __iter__(self) -> Iterator[Any]:
        return (taint(key) for key in self._inner)

    def __len__(self) -> int:
        return len(self._inner)

    def __getattr__(self, name: str) -> Any:
        # ``salt.cmd.run``: the attribute form of a mapping that offers one, tainted too.
        if name.startswith("_") or not hasattr(type(self._inner), "__getattr__"):
            raise AttributeError(name)
        return taint(getattr(self._inner, name))


def _tainting(fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        return taint(fn(*args, **kwargs))

    call.__name__ = getattr(fn, "__name__", "function")
    call.__doc__ = getattr(fn, "__doc__", None)
    return call


def taint(value: Any) -> Any:
    """A copy of ``value`` with every string in it tainted; functions give tainted results.

    Dicts, lists, tuples and sets are copied (as their plain types); other
    mappings are wrapped read-only; numbers, booleans and None are kept.
    """
    if isinstance(value, str):
        return value if isinstance(value, Tainted) else Tainted(value)
    if isinstance(value, dict):
        return {taint(key): taint(item) for key, item in value.items()}
    if isinstance(value, list):
        return [taint(item) for item in value]
    if isinstance(value, tuple):
        return tuple(taint(item) for item in value)
    if isinstance(value, set | frozenset):
        return type(value)(taint(item) for item in value)
    if isinstance(value, Mapping):
        return _TaintedMapping(value)
    if callable(value) and not isinstance(value, type):
        return _tainting(value)
    return value


class Prepared:
    """An untrusted value tainted once (:func:`prepare`), to pass to many renders as it is.

    Renders given the same prepared value share it, as they would share the
    original: what one template changes in it, the next one sees.
    """

    __slots__ = ("source", "value")

    def __init__(self, source: Any) -> None:
        self.source = source
        self.value = taint(source)


def prepare(value: Any) -> Prepared:
    """``value`` tainted once, for renders that would each taint it again."""
    return value if isinstance(value, Prepared) else Prepared(value)


def tainted(value: Any) -> Any:
    """What a template sees of an untrusted context value (prepared or not)."""
    return value.value if isinstance(value, Prepared) else taint(value)


def holds_taint(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` is, or holds (in a dict, list, tuple or set), a tainted string."""
    if isinstance(value, Tainted):
        return True
    if depth > 64:
        return True  # too deep to look through: assume the worst
    if isinstance(value, dict):
        return any(holds_taint(k, depth + 1) or holds_taint(v, depth + 1) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return any(holds_taint(item, depth + 1) for item in value)
    return False


def propagate(result: Any, *inputs: Any) -> Any:
    """``result`` tainted if it is a plain string (or bytes) made from any tainted input.

    Bytes (``|base64_decode`` of what is not UTF-8) become their tainted
    text, ``b'...'``, which is what printing them would give.
    """
    tainted = isinstance(result, str | bytes) and not isinstance(result, Tainted)
    if tainted and any(holds_taint(item) for item in inputs):
        return Tainted(result if isinstance(result, str) else repr(result))
    return result


def concat(parts: tuple[Any, ...]) -> str:
    """Jinja's ``~``: the parts' text joined, tainted if any part is."""
    text = "".join([str(part) for part in parts])
    return Tainted(text) if any(isinstance(part, Tainted) for part in parts) else text


# --- placeholders ----------------------------------------------------------------------


_active: contextvars.ContextVar[Placeholders | None] = contextvars.ContextVar(
    "fluxforge_placeholders", default=None
)

LINE_BREAKS = ("\n", "\r", "\x85", "\u2028", "\u2029")

_STR_TAG = "tag:yaml.org,2002:str"
_VALUE_TAG = "tag:fluxforge.invalid,2026:placeholder"
# Types a single-line value printed plain may resolve to, as it did before
# placeholders; a merge key (``<<``) or ``=`` stays a string.
_PLAIN_TAGS = frozenset(
    "tag:yaml.org,2002:" + kind for kind in ("null", "bool", "int", "float", "timestamp")
)


class Placeholders:
    """The tokens printed for untrusted values in one render, and the values they stand for."""

    def __init__(self) -> None:
        self.prefix = "ffv" + secrets.token_hex(8)
        self.values: list[Any] = []
        self.pattern = re.compile(re.escape(self.prefix) + r"([0-9]+)x")

    def token(self, value: Any) -> str:
        self.values.append(value)
        return f"{self.prefix}{len(self.values) - 1}x"

    def value(self, match: re.Match[str]) -> Any:
        index = int(match[1])
        return self.values[index] if index < len(self.values) else match[0]

    def in_text(self, text: str) -> bool:
        return bool(self.values) and self.prefix in text

    def text(self, text: str) -> str:
        """``text`` with every token replaced by its value's text (tainted if there was one)."""
        if not self.in_text(text):
            return text
        return Tainted(self.pattern.sub(lambda m: str(self.value(m)), text))

    def finalize(self, value: Any) -> Any:
        """What Jinja prints for ``value``: a token if it is or holds an untrusted string."""
        if isinstance(value, Tainted):
            return self.token(value)
        if isinstance(value, dict | list | tuple | set | frozenset) and holds_taint(value):
            return self.token(value)
        return value


def active() -> Placeholders | None:
    """The placeholders of the render in progress in this thread, if any."""
    return _active.get()


def activate(table: Placeholders) -> contextvars.Token[Placeholders | None]:
    return _active.set(table)


def deactivate(token: contextvars.Token[Placeholders | None]) -> None:
    _active.reset(token)


def finalize(value: Any) -> Any:
    """Jinja's ``finalize``: tokens for untrusted values while a render is active."""
    table = _active.get()
    return value if table is None else table.finalize(value)


def refuse_template(text: str) -> str | None:
    """Why ``text`` may not be rendered as a template (it is untrusted data), or None."""
    if isinstance(text, Tainted):
        return (
            "the template text came from grains, pillar, event data or job arguments; "
            "such values are data and are never rendered as templates"
        )
    return None


# --- the YAML side -----------------------------------------------------------------------


def _multi_line(text: str) -> bool:
    return any(brk in text for brk in LINE_BREAKS)


class PlaceholderComposer:
    """Mixed into a YAML loader: scalars get the values of the render's tokens back."""

    placeholders: Placeholders | None = None

    def compose_scalar_node(self, anchor: Any) -> yaml.ScalarNode:
        event = self.peek_event()  # type: ignore[attr-defined]
        node: yaml.ScalarNode = super().compose_scalar_node(anchor)  # type: ignore[misc]
        table = self.placeholders
        if table is not None and table.in_text(node.value):
            self._substitute(table, node, plain=not event.style, implicit=event.tag is None)
        return node

    def _substitute(
        self, table: Placeholders, node: yaml.ScalarNode, plain: bool, implicit: bool
    ) -> None:
        found = table.pattern.fullmatch(node.value)
        if found is not None and plain and implicit:
            value = table.value(found)
            if not isinstance(value, str):  # a list or mapping holding untrusted strings
                node.tag = _VALUE_TAG
                return
        node.value = table.pattern.sub(lambda m: str(table.value(m)), node.value)
        node.ff_tainted = True  # type: ignore[attr-defined]
        if plain and implicit:
            tag = _STR_TAG
            if not _multi_line(node.value):
                tag = self.resolve(yaml.ScalarNode, node.value, (True, False))  # type: ignore[attr-defined]
            node.tag = tag if tag in _PLAIN_TAGS else _STR_TAG

    def construct_placeholder(self, node: yaml.ScalarNode) -> Any:
        table = self.placeholders
        found = table.pattern.fullmatch(node.value) if table is not None else None
        if table is None or found is None:
            return node.value
        return copy.deepcopy(table.value(found))

    def construct_tainted_str(self, node: yaml.ScalarNode) -> str:
        value: str = self.construct_scalar(node)  # type: ignore[attr-defined]
        return Tainted(value) if getattr(node, "ff_tainted", False) else value


def install(loader: type[yaml.SafeLoader]) -> None:
    """Register the constructors of :class:`PlaceholderComposer` on ``loader``."""
    loader.add_constructor(_VALUE_TAG, PlaceholderComposer.construct_placeholder)  # type: ignore[type-var]
    loader.add_constructor(_STR_TAG, PlaceholderComposer.construct_tainted_str)  # type: ignore[type-var]
