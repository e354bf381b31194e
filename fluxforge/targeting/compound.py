"""The compound target language: tokens, the precedence parser, one node per word."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple, NoReturn

from fluxforge.errors import TargetError
from fluxforge.targeting.nodes import (
    DEFAULT_DELIMITER,
    All,
    AnyOf,
    Node,
    Not,
    single,
)

# compound word prefix -> target type
ENGINES = {
    "G": "grain",
    "P": "grain_pcre",
    "I": "pillar",
    "J": "pillar_pcre",
    "E": "pcre",
    "L": "list",
    "S": "ipcidr",
    "N": "nodegroup",
}
DELIMITED = frozenset("GPIJ")
PREFIX = re.compile(r"([A-Z])([^\w\s@])?@")
OPERATORS = frozenset({"and", "or", "not"})
_GLUED_OPERATOR = re.compile(r"(and|or|not)\(")
_EXAMPLE = "e.g. 'G@os:Debian and not web*'"
# Parentheses and ``not`` nest at most this deep (the parser and the tree it
# builds recurse once per level, and Python's recursion is finite).
MAX_DEPTH = 64


class Token(NamedTuple):
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
def tokenize(text: str) -> tuple[Token, ...]:
    tokens: list[Token] = []
    for found in re.finditer(r"\S+", text):
        word, start = found.group(), found.start() + 1
        while (glued := _GLUED_OPERATOR.match(word)) is not None:  # "not(web*)"
            tokens.append(Token(glued.group(1), glued.group(1), start))
            start += glued.end(1)
            word = word[glued.end(1) :]
        lead = len(word) - len(word.lstrip("("))
        tokens.extend(Token("(", "(", start + i) for i in range(lead))
        core = word[lead:]
        if not core:
            continue
        closers = len(core) if not core.strip(")") else _unmatched_closers(core)
        closers = min(closers, len(core) - len(core.rstrip(")")))
        body = core[: len(core) - closers]
        if body:
            tokens.append(Token(body if body in OPERATORS else "word", body, start + lead))
        end = start + lead + len(body)
        tokens.extend(Token(")", ")", end + i) for i in range(closers))
    return tuple(tokens)


def _word(token: Token, text: str) -> Node:
    """The node of one compound word, its errors naming the word and position."""
    where = f"at position {token.pos} in {text!r}"
    prefix = PREFIX.match(token.text)
    if prefix is None:
        return single("glob", token.text)
    letter, delimiter = prefix.group(1), prefix.group(2)
    pattern = token.text[prefix.end() :]
    if letter not in ENGINES:
        known = " ".join(f"{e}@" for e in ENGINES)
        raise TargetError(
            f"compound target: unknown matcher '{letter}@' in {token.text!r} {where}; "
            f"use one of {known}, or a bare glob on the minion id"
        )
    if delimiter and letter not in DELIMITED:
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
        return single(ENGINES[letter], pattern, delimiter or DEFAULT_DELIMITER)
    except TargetError as exc:
        raise TargetError(f"compound target: {token.text!r} {where}: {exc}") from None


class _Parser:
    """Recursive descent over the tokens of one compound expression."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    def fail(self, what: str, pos: int, hint: str) -> NoReturn:
        raise TargetError(f"compound target: {what} at position {pos} in {self.text!r}; {hint}")

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> Token:
        self.i += 1
        return self.tokens[self.i - 1]

    def unexpected(self, token: Token) -> NoReturn:
        if token.kind in ("and", "or"):
            hint = f"'{token.kind}' needs an expression on each side"
        elif token.kind == ")":
            hint = "a ')' closes a '(' opened before it, after an expression"
        else:
            hint = "join expressions with 'and' or 'or'"
        self.fail(f"unexpected {token.text!r}", token.pos, hint)

    def parse(self) -> Node:
        if not self.tokens:
            self.fail("nothing to match", 1, f"write an expression, {_EXAMPLE}")
        node = self.any_of(None)
        token = self.peek()
        if token is not None:
            self.unexpected(token)
        return node

    def any_of(self, after: Token | None) -> Node:
        items = [self.all_of(after)]
        while (token := self.peek()) is not None and token.kind == "or":
            items.append(self.all_of(self.take()))
        return items[0] if len(items) == 1 else AnyOf(items)

    def all_of(self, after: Token | None) -> Node:
        items = [self.negation(after)]
        while (token := self.peek()) is not None and token.kind in ("and", "not"):
            if token.kind == "and":
                self.take()
            items.append(self.negation(token))
        return items[0] if len(items) == 1 else All(items)

    def deeper(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(
                f"'(' and 'not' nested more than {MAX_DEPTH} deep",
                token.pos,
                "write the expression with fewer levels",
            )

    def negation(self, after: Token | None) -> Node:
        token = self.peek()
        if token is not None and token.kind == "not":
            self.take()
            self.deeper(token)
            node: Node = Not(self.negation(token))
            self.depth -= 1
            return node
        return self.primary(after)

    def primary(self, after: Token | None) -> Node:
        token = self.peek()
        if token is None:
            assert after is not None  # an empty expression is refused in parse()
            self.fail(
                f"nothing after {after.text!r}", after.pos, f"complete the expression, {_EXAMPLE}"
            )
        if token.kind == "(":
            self.take()
            self.deeper(token)
            node = self.any_of(token)
            self.depth -= 1
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
def parse(text: str) -> Node:
    return _Parser(text).parse()


def compound_text(tgt: str | list[str]) -> str:
    return " ".join(str(w) for w in tgt) if isinstance(tgt, list) else tgt


def is_nodegroup_word(token: Token) -> bool:
    return token.kind == "word" and token.text.startswith("N@")
