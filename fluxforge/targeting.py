"""Targeting: which minions a job is for.

One module serves the master (whom to expect), the minion (is this job for
me) and the ``match`` execution module, so that they always agree. The
target types, as ``tgt_type`` strings on the wire:

=============  ======  ================================================
type           flag    matches
=============  ======  ================================================
glob           (none)  the minion id, shell-style (``web*``)
pcre           ``-E``  the minion id, ``re.match`` (anchored at the start)
list           ``-L``  the minion id is one of ``a,b,c`` (or a list)
grain          ``-G``  ``key:sub:glob`` on the grains, case-insensitive
grain_pcre     ``-P``  ``key:sub:regex`` on the grains, case-insensitive
pillar         ``-I``  ``key:sub:glob`` on the pillar
pillar_pcre    ``-J``  ``key:sub:regex`` on the pillar
ipcidr         ``-S``  an address of grains ``ipv4``/``ipv6`` is in a network
nodegroup      ``-N``  a named target from the master's ``nodegroups``
compound       ``-C``  the above joined with ``and``, ``or``, ``not``, ``( )``
=============  ======  ================================================

The compound grammar (``not`` binds tighter than ``and``, ``and`` than ``or``)::

    expr     := and_expr ("or" and_expr)*
    and_expr := not_expr (["and"] not_expr)*    # "a not b" means "a and not b", as in Salt
    not_expr := "not" not_expr | "(" expr ")" | word
    word     := G@key:glob | P@key:regex | I@key:glob | J@key:regex
              | E@regex | L@a,b | S@cidr | N@nodegroup | glob

``G``, ``P``, ``I`` and ``J`` take another delimiter before the ``@``:
``G|@url|https://x:8080/*``. Words are separated by whitespace; parentheses
may touch the words they group, and an operator may touch a ``(`` after it
(``not(web*)``). Parentheses inside a word (``E@^(a|b)$``)
belong to the word: only ``(`` at a word's start and ``)`` at its end that
the word does not itself open are grouping.

A key path and its pattern are split at every ``:`` in turn, longest key
first, so a value holding ``:`` still matches (``G@ipv6:::1``). The master
does not always know a minion's grains or pillar: :func:`decide` and
:func:`resolve` answer in three values (Kleene logic), ``None`` meaning
"depends on data the master does not have".
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple, NoReturn

from fluxforge.errors import TargetError

TARGET_TYPES: tuple[str, ...] = (
    "glob",
    "pcre",
    "list",
    "grain",
    "grain_pcre",
    "pillar",
    "pillar_pcre",
    "ipcidr",
    "nodegroup",
    "compound",
)

DEFAULT_DELIMITER = ":"

# compound word prefix -> target type
_ENGINES = {
    "G": "grain",
    "P": "grain_pcre",
    "I": "pillar",
    "J": "pillar_pcre",
    "E": "pcre",
    "L": "list",
    "S": "ipcidr",
    "N": "nodegroup",
}
_DELIMITED = frozenset("GPIJ")
_PREFIX = re.compile(r"([A-Z])([^\w\s@])?@")
_OPERATORS = frozenset({"and", "or", "not"})
_GLUED_OPERATOR = re.compile(r"(and|or|not)\(")
_EXAMPLE = "e.g. 'G@os:Debian and not web*'"

_Data = Mapping[str, Any]
_Pattern = Callable[[Any], bool]


# --- one-word matchers ------------------------------------------------------


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise TargetError(f"invalid regular expression {pattern!r}: {exc}")


@lru_cache(maxsize=256)
def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern))


def as_list(tgt: str | list[str]) -> list[str]:
    """A list target from ``a,b`` text or a list."""
    if isinstance(tgt, list):
        return [str(t) for t in tgt]
    return [t.strip() for t in tgt.split(",") if t.strip()]


def _never(value: Any) -> bool:
    return False


@lru_cache(maxsize=1024)
def _value_pattern(pattern: str, regex: bool) -> _Pattern | None:
    """A test of one value's text against ``pattern``, ignoring case; None if it is no regex.

    Like Salt, numbers and booleans match as their text (``2``, ``True``).
    Salt lower-cases a regex before compiling it, which turns ``\\S`` into
    ``\\s``; we compile with ``re.IGNORECASE`` instead.
    """
    if regex:
        try:
            rx = re.compile(pattern, re.IGNORECASE)
        except re.error:
            return None
        return lambda value: rx.match(str(value)) is not None
    rx = _glob(pattern.lower())
    return lambda value: rx.match(str(value).lower()) is not None


def _value_test(pattern: str, regex: bool) -> _Pattern:
    return _value_pattern(pattern, regex) or _never


@lru_cache(maxsize=1024)
def _splits(expr: str, delimiter: str) -> tuple[tuple[str, str], ...]:
    """Every (key path, pattern) reading of ``expr``, longest key first."""
    parts = expr.split(delimiter)
    return tuple(
        (delimiter.join(parts[:i]), delimiter.join(parts[i:])) for i in range(len(parts) - 1, 0, -1)
    )


_MISSING = object()


def _traverse(data: Any, key: str, delimiter: str) -> Any:
    """The value at the path ``key`` in nested mappings and lists, or ``_MISSING``.

    A literal top-level key (``"odd:key"``) wins, as in ``grains.get``. In a
    list, a component names a key of an embedded mapping or an index.
    """
    if isinstance(data, Mapping) and key in data:
        return data[key]
    for part in key.split(delimiter):
        if isinstance(data, Mapping):
            if part not in data:
                return _MISSING
            data = data[part]
        elif isinstance(data, list | tuple):
            holder = next((d for d in data if isinstance(d, Mapping) and part in d), None)
            if holder is not None:
                data = holder[part]
                continue
            try:
                data = data[int(part)]
            except (ValueError, IndexError):
                return _MISSING
        else:
            return _MISSING
    return data


def _found_matches(found: Any, pattern: str, delimiter: str, regex: bool) -> bool:
    if isinstance(found, Mapping):
        return _dict_matches(found, pattern, delimiter, regex)
    test = _value_test(pattern, regex)
    if isinstance(found, list | tuple):
        return any(
            _dict_matches(m, pattern, delimiter, regex) if isinstance(m, Mapping) else test(m)
            for m in found
        )
    return test(found)


def _dict_matches(target: Mapping[Any, Any], pattern: str, delimiter: str, regex: bool) -> bool:
    """A pattern against a mapping: ``*`` or a key name (it exists), a deeper path, or ``*:x``."""
    wildcard = pattern.startswith("*" + delimiter)
    if wildcard:
        pattern = pattern[len(delimiter) + 1 :]
    if pattern == "*" or pattern in target:
        return True
    if _subdict_matches(target, pattern, delimiter, regex):
        return True
    if wildcard:
        test = _value_test(pattern, regex)
        for key, value in target.items():
            if test(key):
                return True
            if isinstance(value, Mapping):
                if _dict_matches(value, pattern, delimiter, regex):
                    return True
            elif isinstance(value, list | tuple):
                if any(test(v) for v in value):
                    return True
            elif test(value):
                return True
    return False


def _subdict_matches(data: _Data, expr: str, delimiter: str, regex: bool) -> bool:
    for key, pattern in _splits(expr, delimiter):
        if key == "*":
            found, pattern = data, expr
        else:
            found = _traverse(data, key, delimiter)
            if found is _MISSING:
                continue
        if _found_matches(found, pattern, delimiter, regex):
            return True
    return False


@lru_cache(maxsize=1024)
def _data_test(expr: str, delimiter: str, regex: bool) -> Callable[[_Data], bool]:
    """The test of grains or pillar for ``key:sub:pattern``; checks the expression once."""
    if not delimiter:
        raise TargetError("the key delimiter must not be empty; the usual one is ':'")
    splits = _splits(expr, delimiter)
    if not splits:
        # Salt: "insufficient arguments" -- a bare key matches no minion.
        return _never
    if regex and all(_value_pattern(p, True) is None for _, p in splits):
        pattern = splits[0][1]
        try:
            re.compile(pattern)
        except re.error as exc:
            raise TargetError(f"invalid regular expression {pattern!r}: {exc}")
    return lambda data: _subdict_matches(data, expr, delimiter, regex)


def data_matches(data: _Data, expr: str, delimiter: str = ":", regex: bool = False) -> bool:
    """Whether grains or pillar ``data`` match ``expr`` (``key:sub:glob``, or a regex).

    The last component is matched case-insensitively against the value's
    text; a list value matches if a member does; a mapping value matches
    ``*`` or one of its keys. ``expr`` without ``delimiter`` matches nothing.
    """
    return _data_test(expr, delimiter, regex)(data)


_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=256)
def _network(tgt: str) -> _Network:
    text = tgt.strip()
    try:
        return ipaddress.ip_network(text)
    except ValueError as exc:
        try:
            hint = f"did you mean {ipaddress.ip_network(text, strict=False)}?"
        except ValueError:
            hint = "give an address such as 10.0.0.5 or a network such as 10.0.0.0/8"
        raise TargetError(f"invalid IP address or network {tgt!r}: {exc}; {hint}")


def _in_network(net: _Network, grains: _Data) -> bool:
    for key in ("ipv4", "ipv6"):
        values = grains.get(key) or []
        for value in [values] if isinstance(values, str) else values:
            try:
                addr = ipaddress.ip_address(str(value))
            except ValueError:
                continue
            if addr.version == net.version and addr in net:
                return True
    return False


# --- expression trees (three-valued) -------------------------------------------


class _Node:
    """A parsed target; ``decide`` is None when it needs grains or pillar given as None."""

    __slots__ = ("uses",)
    uses: frozenset[str]  # of "grains", "pillar"

    def decide(self, mid: str, grains: _Data | None, pillar: _Data | None) -> bool | None:
        raise NotImplementedError


class _IdTest(_Node):
    __slots__ = ("test",)

    def __init__(self, test: Callable[[str], bool]) -> None:
        self.uses = frozenset()
        self.test = test

    def decide(self, mid: str, grains: _Data | None, pillar: _Data | None) -> bool | None:
        return self.test(mid)


class _DataTest(_Node):
    __slots__ = ("source", "test")

    def __init__(self, source: str, test: Callable[[_Data], bool]) -> None:
        self.uses = frozenset({source})
        self.source = source
        self.test = test

    def decide(self, mid: str, grains: _Data | None, pillar: _Data | None) -> bool | None:
        data = grains if self.source == "grains" else pillar
        return None if data is None else self.test(data)


class _Nodegroup(_Node):
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.uses = frozenset()
        self.name = name

    def decide(self, mid: str, grains: _Data | None, pillar: _Data | None) -> bool | None:
        raise TargetError(f"nodegroup {self.name!r} was not expanded; pass the nodegroups")


class _Not(_Node):
    __slots__ = ("operand",)

    def __init__(self, operand: _Node) -> None:
        self.uses = operand.uses
        self.operand = operand

    def decide(self, mid: str, grains: _Data | None, pillar: _Data | None) -> bool | None:
        value = self.operand.decide(mid, grains, pillar)
        return None if value is None else not value


class _All(_Node):
    __slots__ = ("items",)

    def __init__(self, items: list[_Node]) -> None:
        self.uses = frozenset().union(*(i.uses for i in items))
        self.items = tuple(items)

    def decide(self, mid: str, grains: _Data | None, pillar: _Data | None) -> bool | None:
        result: bool | None = True
        for item in self.items:
            value = item.decide(mid, grains, pillar)
            if value is False:
                return False
            if value is None:
                result = None
        return result


class _Any(_Node):
    __slots__ = ("items",)

    def __init__(self, items: list[_Node]) -> None:
        self.uses = frozenset().union(*(i.uses for i in items))
        self.items = tuple(items)

    def decide(self, mid: str, grains: _Data | None, pillar: _Data | None) -> bool | None:
        result: bool | None = False
        for item in self.items:
            value = item.decide(mid, grains, pillar)
            if value is True:
                return True
            if value is None:
                result = None
        return result


@lru_cache(maxsize=1024)
def _single(tgt_type: str, pattern: str, delimiter: str = DEFAULT_DELIMITER) -> _Node:
    """The node of a one-word target of ``tgt_type``; raises TargetError if it is unusable."""
    if tgt_type in ("glob", "pcre"):
        rx = _glob(pattern) if tgt_type == "glob" else _regex(pattern)
        return _IdTest(lambda mid: rx.match(mid) is not None)
    if tgt_type == "list":
        return _IdTest(frozenset(as_list(pattern)).__contains__)
    if tgt_type == "ipcidr":
        net = _network(pattern)
        return _DataTest("grains", lambda grains: _in_network(net, grains))
    if tgt_type == "nodegroup":
        return _Nodegroup(pattern)
    source, _, kind = tgt_type.partition("_")
    test = _data_test(pattern, delimiter, kind == "pcre")
    return _DataTest("grains" if source == "grain" else "pillar", test)


# --- compound expressions ---------------------------------------------------------


class _Token(NamedTuple):
    kind: str  # "(", ")", "and", "or", "not" or "word"
    text: str
    pos: int  # 1-based character position in the expression


def _unmatched_closers(word: str) -> int:
    """How many ``)`` in ``word`` close no ``(`` of it (escapes and ``[...]`` skipped)."""
    depth = extra = 0
    i, n = 0, len(word)
    while i < n:
        ch = word[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            i += 1
            if i < n and word[i] in "!^":
                i += 1
            if i < n and word[i] == "]":
                i += 1
            while i < n and word[i] != "]":
                i += 2 if word[i] == "\\" else 1
        elif ch == "(":
            depth += 1
        elif ch == ")":
            if depth:
                depth -= 1
            else:
                extra += 1
        i += 1
    return extra


@lru_cache(maxsize=1024)
def _tokenize(text: str) -> tuple[_Token, ...]:
    tokens: list[_Token] = []
    for found in re.finditer(r"\S+", text):
        word, start = found.group(), found.start() + 1
        while (glued := _GLUED_OPERATOR.match(word)) is not None:  # "not(web*)"
            tokens.append(_Token(glued.group(1), glued.group(1), start))
            start += glued.end(1)
            word = word[glued.end(1) :]
        lead = len(word) - len(word.lstrip("("))
        tokens.extend(_Token("(", "(", start + i) for i in range(lead))
        core = word[lead:]
        if not core:
            continue
        closers = len(core) if not core.strip(")") else _unmatched_closers(core)
        closers = min(closers, len(core) - len(core.rstrip(")")))
        body = core[: len(core) - closers]
        if body:
            tokens.append(_Token(body if body in _OPERATORS else "word", body, start + lead))
        end = start + lead + len(body)
        tokens.extend(_Token(")", ")", end + i) for i in range(closers))
    return tuple(tokens)


def _word(token: _Token, text: str) -> _Node:
    """The node of one compound word, its errors naming the word and position."""
    where = f"at position {token.pos} in {text!r}"
    prefix = _PREFIX.match(token.text)
    if prefix is None:
        return _single("glob", token.text)
    letter, delimiter = prefix.group(1), prefix.group(2)
    pattern = token.text[prefix.end() :]
    if letter not in _ENGINES:
        known = " ".join(f"{e}@" for e in _ENGINES)
        raise TargetError(
            f"compound target: unknown matcher '{letter}@' in {token.text!r} {where}; "
            f"use one of {known}, or a bare glob on the minion id"
        )
    if delimiter and letter not in _DELIMITED:
        raise TargetError(
            f"compound target: '{letter}{delimiter}@' {where} takes no delimiter; "
            f"only G, P, I and J do (e.g. 'G|@key|value')"
        )
    if not pattern:
        raise TargetError(
            f"compound target: {token.text!r} {where} has nothing after the '@'; "
            f"give a pattern, e.g. 'G@os:Debian'"
        )
    try:
        return _single(_ENGINES[letter], pattern, delimiter or DEFAULT_DELIMITER)
    except TargetError as exc:
        raise TargetError(f"compound target: {token.text!r} {where}: {exc}") from None


class _Parser:
    """Recursive descent over the tokens of one compound expression."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def fail(self, what: str, pos: int, hint: str) -> NoReturn:
        raise TargetError(f"compound target: {what} at position {pos} in {self.text!r}; {hint}")

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> _Token:
        self.i += 1
        return self.tokens[self.i - 1]

    def unexpected(self, token: _Token) -> NoReturn:
        if token.kind in ("and", "or"):
            hint = f"'{token.kind}' needs an expression on each side"
        elif token.kind == ")":
            hint = "a ')' closes a '(' opened before it, after an expression"
        else:
            hint = "join expressions with 'and' or 'or'"
        self.fail(f"unexpected {token.text!r}", token.pos, hint)

    def parse(self) -> _Node:
        if not self.tokens:
            self.fail("nothing to match", 1, f"write an expression, {_EXAMPLE}")
        node = self.any_of(None)
        token = self.peek()
        if token is not None:
            self.unexpected(token)
        return node

    def any_of(self, after: _Token | None) -> _Node:
        items = [self.all_of(after)]
        while (token := self.peek()) is not None and token.kind == "or":
            items.append(self.all_of(self.take()))
        return items[0] if len(items) == 1 else _Any(items)

    def all_of(self, after: _Token | None) -> _Node:
        items = [self.negation(after)]
        while (token := self.peek()) is not None and token.kind in ("and", "not"):
            if token.kind == "and":
                self.take()
            items.append(self.negation(token))
        return items[0] if len(items) == 1 else _All(items)

    def negation(self, after: _Token | None) -> _Node:
        token = self.peek()
        if token is not None and token.kind == "not":
            self.take()
            return _Not(self.negation(token))
        return self.primary(after)

    def primary(self, after: _Token | None) -> _Node:
        token = self.peek()
        if token is None:
            assert after is not None  # an empty expression is refused in parse()
            self.fail(
                f"nothing after {after.text!r}", after.pos, f"complete the expression, {_EXAMPLE}"
            )
        if token.kind == "(":
            self.take()
            node = self.any_of(token)
            close = self.peek()
            if close is None:
                self.fail("unclosed '('", token.pos, "add the matching ')'")
            if close.kind != ")":
                self.unexpected(close)
            self.take()
            return node
        if token.kind != "word":
            self.unexpected(token)
        return _word(self.take(), self.text)


@lru_cache(maxsize=1024)
def _parse(text: str) -> _Node:
    return _Parser(text).parse()


def _compound_text(tgt: str | list[str]) -> str:
    return " ".join(str(w) for w in tgt) if isinstance(tgt, list) else tgt


# --- nodegroups ------------------------------------------------------------------


def _is_nodegroup_word(token: _Token) -> bool:
    return token.kind == "word" and token.text.startswith("N@")


def _is_compound_word(word: str) -> bool:
    """Whether a nodegroup list item is part of an expression rather than a minion id."""
    return (
        word in _OPERATORS
        or word.startswith("(")
        or word.endswith(")")
        or _PREFIX.match(word) is not None
        or len(word.split()) != 1
    )


def _nodegroup_text(name: str, definition: Any) -> str:
    """A nodegroup's definition as compound text: a list of plain ids is ``L@a,b``."""
    if isinstance(definition, str):
        return definition
    if isinstance(definition, list | tuple):
        words = [str(w) for w in definition]
        if not words:
            raise TargetError(
                f"nodegroup {name!r} is empty; list minion ids or give a compound expression"
            )
        if any(_is_compound_word(w) for w in words):
            return " ".join(words)  # a compound expression written as a list of words
        return "L@" + ",".join(words)
    raise TargetError(
        f"nodegroup {name!r} must be a compound expression or a list of minion ids, "
        f"not {type(definition).__name__}"
    )


def _expand_group(name: str, nodegroups: Mapping[str, Any], stack: tuple[str, ...]) -> str:
    if name in stack:
        raise TargetError(
            f"nodegroup cycle: {' -> '.join([*stack, name])}; "
            f"a nodegroup must not include itself through N@"
        )
    if name not in nodegroups:
        known = ", ".join(sorted(str(n) for n in nodegroups)) or "(none configured)"
        raise TargetError(f"unknown nodegroup {name!r}; known nodegroups: {known}")
    text = _nodegroup_text(name, nodegroups[name])
    try:
        _parse(text)
    except TargetError as exc:
        raise TargetError(f"nodegroup {name!r}: {exc}") from None
    return _expand_tokens(_tokenize(text), nodegroups, (*stack, name))


def _expand_tokens(
    tokens: Iterable[_Token], nodegroups: Mapping[str, Any], stack: tuple[str, ...]
) -> str:
    words: list[str] = []
    for token in tokens:
        if _is_nodegroup_word(token):
            words += ["(", _expand_group(token.text[2:], nodegroups, stack), ")"]
        else:
            words.append(token.text)
    return " ".join(words)


def expand_nodegroups(
    tgt: str | list[str], tgt_type: str, nodegroups: Mapping[str, Any]
) -> tuple[str | list[str], str]:
    """Replace ``-N name`` and every ``N@name`` by the nodegroup's definition, recursively.

    The master does this before publishing, so minions never need the
    nodegroups. A ``nodegroup`` target comes back as a ``compound`` one;
    a compound without ``N@`` and every other target come back unchanged.
    An unknown name or a cycle raises :class:`TargetError` naming it.
    """
    if tgt_type == "nodegroup":
        if not isinstance(tgt, str):
            raise TargetError("a nodegroup target must be text: the nodegroup's name")
        return _expand_group(tgt.strip(), nodegroups, ()), "compound"
    if tgt_type != "compound":
        return tgt, tgt_type
    tokens = _tokenize(_compound_text(tgt))
    if not any(_is_nodegroup_word(t) for t in tokens):
        return tgt, tgt_type
    return _expand_tokens(tokens, nodegroups, ()), "compound"


# --- the public interface ----------------------------------------------------------


def _node(tgt: str | list[str], tgt_type: str, nodegroups: Mapping[str, Any] | None) -> _Node:
    """The parsed, checked target; nodegroups expanded."""
    if tgt_type not in TARGET_TYPES:
        raise TargetError(f"unknown target type {tgt_type!r}; use one of {', '.join(TARGET_TYPES)}")
    if tgt_type == "list":
        return _single("list", ",".join(as_list(tgt)))
    if tgt_type == "compound":
        text = _compound_text(tgt)
        node = _parse(text)
        if not any(_is_nodegroup_word(t) for t in _tokenize(text)):
            return node
    elif not isinstance(tgt, str):
        raise TargetError(f"a {tgt_type} target must be text")
    elif tgt_type != "nodegroup":
        return _single(tgt_type, tgt)
    expanded, _ = expand_nodegroups(tgt, tgt_type, nodegroups or {})
    return _parse(_compound_text(expanded))


def _usable(tgt: Any, tgt_type: str) -> bool:
    return tgt_type in TARGET_TYPES and (isinstance(tgt, str) or tgt_type in ("list", "compound"))


def check(tgt: str | list[str], tgt_type: str, nodegroups: Mapping[str, Any] | None = None) -> None:
    """Raise :class:`TargetError` if the target cannot be used.

    Unknown type, bad regex or network, malformed compound (the message names
    the token and its position), unknown nodegroup or a nodegroup cycle.
    """
    _node(tgt, tgt_type, nodegroups)


def decide(
    tgt: str | list[str],
    tgt_type: str,
    minion_id: str,
    grains: Mapping[str, Any] | None,
    pillar: Mapping[str, Any] | None,
    nodegroups: Mapping[str, Any] | None = None,
) -> bool | None:
    """Whether ``minion_id`` is targeted; None when that depends on grains or pillar given as None.

    ``not None`` is None, ``False and None`` is False, ``True or None`` is True.
    An unknown type, or a list where text is needed, is False.
    """
    if not _usable(tgt, tgt_type):
        return False
    return _node(tgt, tgt_type, nodegroups).decide(minion_id, grains, pillar)


def matches(
    tgt: str | list[str],
    tgt_type: str,
    minion_id: str,
    grains: Mapping[str, Any] | None = None,
    pillar: Mapping[str, Any] | None = None,
    nodegroups: Mapping[str, Any] | None = None,
) -> bool:
    """Whether the minion ``minion_id`` is targeted: the minion's own decision.

    Grains or pillar given as None count as empty.
    """
    grains = {} if grains is None else grains
    pillar = {} if pillar is None else pillar
    return decide(tgt, tgt_type, minion_id, grains, pillar, nodegroups) is True


@dataclass(frozen=True)
class Resolution:
    """The master's view of a target over its minions."""

    expected: list[str]  # sorted; surely targeted
    unknown: list[str]  # sorted; targeted or not depending on grains/pillar the master lacks


def resolve(
    tgt: str | list[str],
    tgt_type: str,
    minion_ids: Iterable[str],
    data: Callable[[str], tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]] | None = None,
    nodegroups: Mapping[str, Any] | None = None,
) -> Resolution:
    """Which of ``minion_ids`` the target selects, as the master can tell.

    ``data(id)`` returns the ``(grains, pillar)`` the master has cached for
    a minion, None for whichever it does not know; it is called only for
    minions whose answer depends on them. Raises :class:`TargetError` for a
    target that cannot be used.
    """
    node = _node(tgt, tgt_type, nodegroups)
    if isinstance(node, _IdTest):
        test = node.test
        return Resolution(sorted(m for m in minion_ids if test(m)), [])
    found: list[str] = []
    unknown: list[str] = []
    for mid in minion_ids:
        verdict = node.decide(mid, None, None)
        if verdict is None and data is not None:
            grains, pillar = data(mid)
            verdict = node.decide(mid, grains, pillar)
        if verdict:
            found.append(mid)
        elif verdict is None:
            unknown.append(mid)
    return Resolution(sorted(found), sorted(unknown))


def expected(tgt: str | list[str], tgt_type: str, minion_ids: Iterable[str]) -> list[str]:
    """The sorted ids among ``minion_ids`` that the target surely selects (no minion data)."""
    return resolve(tgt, tgt_type, minion_ids).expected
