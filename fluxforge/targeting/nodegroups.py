"""Nodegroups: named targets expanded into compound text by the master before it publishes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fluxforge.errors import TargetError
from fluxforge.targeting.compound import (
    OPERATORS,
    PREFIX,
    Token,
    compound_text,
    is_nodegroup_word,
    parse,
    tokenize,
)


def _is_compound_word(word: str) -> bool:
    """Whether a nodegroup list item is part of an expression rather than a minion id."""
    return (
        word in OPERATORS
        or word.startswith("(")
        or word.endswith(")")
        or PREFIX.match(word) is not None
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
        parse(text)
    except TargetError as exc:
        raise TargetError(f"nodegroup {name!r}: {exc}") from None
    return _expand_tokens(tokenize(text), nodegroups, (*stack, name))


def _expand_tokens(
    tokens: Iterable[Token], nodegroups: Mapping[str, Any], stack: tuple[str, ...]
) -> str:
    words: list[str] = []
    for token in tokens:
        if is_nodegroup_word(token):
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
    tokens = tokenize(compound_text(tgt))
    if not any(is_nodegroup_word(t) for t in tokens):
        return tgt, tgt_type
    return _expand_tokens(tokens, nodegroups, ()), "compound"
