"""Requisites: the relations between states, and what they decide at run time.

A requisite names other states by a *reference*: ``{module: id-or-name}``
(``- pkg: nginx``), ``{id: ID}``, ``{sls: NAME}`` (every state of that SLS),
or a bare ``ID``. IDs, names and SLS names may be globs. Each kind also has
an ``_in`` form, declared on the other side.

============== ===================================================================
kind           the state runs...
============== ===================================================================
require        after its targets, only if none failed
require_any    after its targets, only if at least one did not fail
watch          as require; when a target changed, ``mod_watch`` runs instead
watch_any      as require_any; ``mod_watch`` when a target changed
onchanges      after its targets, only if none failed and one changed
onchanges_any  after its targets, only if one did not fail and one changed
onfail         after its targets, only if one of them failed (onfail_any alike)
onfail_all     after its targets, only if all of them failed
prereq         *before* its targets, only if a test run of one shows it would
               change; the target fails if the prereq state fails
use            (no order) copies the targets' arguments it does not set itself
listen         (no order) its ``mod_watch`` runs at the end if a target changed
============== ===================================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

KINDS: tuple[str, ...] = (
    "require",
    "require_any",
    "watch",
    "watch_any",
    "onchanges",
    "onchanges_any",
    "onfail",
    "onfail_any",
    "onfail_all",
    "prereq",
    "use",
    "listen",
)
REQUISITE_KEYS: frozenset[str] = frozenset(KINDS + tuple(f"{kind}_in" for kind in KINDS))

# Kinds whose targets run before the state that names them.
BEFORE: tuple[str, ...] = KINDS[:9]
# The reverse edge of prereq, kept on the target: the states that prereq it.
PREREQUIRED = "prerequired"

# Arguments the engine keeps for itself: never passed to a state function.
ENGINE_KEYS: frozenset[str] = REQUISITE_KEYS | {
    "names",
    "order",
    "unless",
    "onlyif",
    "creates",
    "failhard",
    "check_cmd",
    "retry",
    "reload_modules",
    "fun",
    "state",
    "__id__",
    "__sls__",
    "__env__",
}
# Arguments ``use`` never copies.
NOT_USED: frozenset[str] = REQUISITE_KEYS | {"name", "names", "order"}


def split_key(key: str) -> tuple[str, bool] | None:
    """``(kind, reverse)`` of an argument such as ``require`` or ``watch_in``; else None."""
    if key in KINDS:
        return key, False
    if key.endswith("_in") and key[:-3] in KINDS:
        return key[:-3], True
    return None


@dataclass(frozen=True)
class Reference:
    """One target of a requisite: ``module`` is a state module, ``id`` or ``sls``."""

    module: str
    value: str

    def __str__(self) -> str:
        return self.value if self.module == "id" else f"{self.module}: {self.value}"

    def matches(self, state: str, state_id: str, name: str, sls: str) -> bool:
        """Whether a state (module, ID, name, SLS) is one this reference names."""
        if self.module == "id":
            return fnmatchcase(state_id, self.value)
        if self.module == "sls":
            return fnmatchcase(sls, self.value)
        return state == self.module and (
            fnmatchcase(state_id, self.value) or fnmatchcase(name, self.value)
        )


def references(value: Any) -> tuple[list[Reference], list[Any]]:
    """The references of a requisite's value, and the entries that are not references."""
    items = value if isinstance(value, list) else [value]
    refs: list[Reference] = []
    bad: list[Any] = []
    for item in items:
        if isinstance(item, str | int | float) and not isinstance(item, bool):
            refs.append(Reference("id", str(item)))
        elif isinstance(item, dict) and len(item) == 1:
            module, target = next(iter(item.items()))
            if isinstance(module, str) and isinstance(target, str | int | float):
                refs.append(Reference(module, str(target)))
            else:
                bad.append(item)
        else:
            bad.append(item)
    return refs, bad


@dataclass
class Outcome:
    """What the requisites of a state decide: run it, run ``mod_watch``, fail, or skip."""

    action: str  # "run", "watch", "fail" or "skip"
    comment: str = ""
    failed: list[int] = field(default_factory=list)


def _failed(ret: Mapping[str, Any]) -> bool:
    return ret.get("result") is False


def decide(
    reqs: Mapping[str, Sequence[int]],
    results: Mapping[int, Mapping[str, Any]],
    skip_kinds: frozenset[str] = frozenset(),
) -> Outcome:
    """Decide from the results of the targets (by chunk index) what happens to a state.

    A target's ``result`` None (test mode) is a success, and its predicted
    changes count as changes. Failures win over skips, skips over watches.
    """

    def rets(kind: str) -> list[tuple[int, Mapping[str, Any]]]:
        if kind in skip_kinds:
            return []
        return [(t, results[t]) for t in reqs.get(kind, ()) if t in results]

    failed: list[int] = []
    for kind in ("require", "watch", "onchanges", PREREQUIRED):
        failed += [t for t, ret in rets(kind) if _failed(ret)]
    for kind in ("require_any", "watch_any", "onchanges_any"):
        group = rets(kind)
        if group and all(_failed(ret) for _, ret in group):
            failed += [t for t, _ in group]
    if failed:
        return Outcome("fail", failed=list(dict.fromkeys(failed)))
    onfail = rets("onfail") + rets("onfail_any")
    if onfail and not any(_failed(ret) for _, ret in onfail):
        return Outcome("skip", "State was not run because onfail req did not change")
    onfail_all = rets("onfail_all")
    if onfail_all and not all(_failed(ret) for _, ret in onfail_all):
        return Outcome("skip", "State was not run because not all onfail_all reqs failed")
    onchanges = rets("onchanges") + rets("onchanges_any")
    if onchanges and not any(ret.get("changes") for _, ret in onchanges):
        return Outcome("skip", "State was not run because none of the onchanges reqs changed")
    watched = rets("watch") + rets("watch_any")
    if any(ret.get("changes") and not _failed(ret) for _, ret in watched):
        return Outcome("watch")
    return Outcome("run")
