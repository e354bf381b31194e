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

Parentheses and ``not`` nest at most 64 deep.

``G``, ``P``, ``I`` and ``J`` take another delimiter before the ``@``:
``G|@url|https://x:8080/*``. Words are separated by whitespace; parentheses
may touch the words they group, and an operator may touch a ``(`` after it
(``not(web*)``). Parentheses inside a word (``E@^(a|b)$``)
belong to the word: only ``(`` at a word's start and ``)`` at its end that
the word does not itself open are grouping.

A key path and its pattern are split at every ``:`` in turn, longest key
first, so a value holding ``:`` still matches (``G@ipv6:::1``). Regexes match
with a bound on each match's CPU time (see :mod:`fluxforge.targeting.matchers`). The master
does not always know a minion's grains or pillar: :func:`decide` and
:func:`resolve` answer in three values (Kleene logic), ``None`` meaning
"depends on data the master does not have".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fluxforge.errors import TargetError
from fluxforge.targeting.compound import compound_text, is_nodegroup_word, parse, tokenize
from fluxforge.targeting.matchers import as_list, data_matches, set_regex_timeout
from fluxforge.targeting.nodegroups import expand_nodegroups
from fluxforge.targeting.nodes import DEFAULT_DELIMITER, IdTest, Node, single

__all__ = [
    "DEFAULT_DELIMITER",
    "TARGET_TYPES",
    "Resolution",
    "as_list",
    "check",
    "data_matches",
    "decide",
    "expand_nodegroups",
    "expected",
    "matches",
    "resolve",
    "set_regex_timeout",
]

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


# --- the public interface ----------------------------------------------------------


def _node(tgt: str | list[str], tgt_type: str, nodegroups: Mapping[str, Any] | None) -> Node:
    """The parsed, checked target; nodegroups expanded."""
    if tgt_type not in TARGET_TYPES:
        raise TargetError(f"unknown target type {tgt_type!r}; use one of {', '.join(TARGET_TYPES)}")
    if tgt_type == "list":
        return single("list", ",".join(as_list(tgt)))
    if tgt_type == "compound":
        text = compound_text(tgt)
        node = parse(text)
        if not any(is_nodegroup_word(t) for t in tokenize(text)):
            return node
    elif not isinstance(tgt, str):
        raise TargetError(f"a {tgt_type} target must be text")
    elif tgt_type != "nodegroup":
        return single(tgt_type, tgt)
    expanded, _ = expand_nodegroups(tgt, tgt_type, nodegroups or {})
    return parse(compound_text(expanded))


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
    if isinstance(node, IdTest):
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
