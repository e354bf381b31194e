"""Top files: which SLS names each environment assigns to a minion.

A top file maps environments to targets and targets to SLS lists, the
same language for state trees (``top.sls`` of the file roots) and for
pillar (``top.sls`` of the pillar roots)::

    base:
      '*':
        - common
      'os:Debian':
        - match: grain
        - debian

:func:`sections` reads one rendered top file and keeps the sections whose
target matches the minion; the callers say how a target is matched and
which error class to raise, so both keep their own messages and rules.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from fluxforge import targeting
from fluxforge.errors import TargetError

Matcher = Callable[[str, str], bool]
"""``matcher(tgt, tgt_type)``: whether the minion is targeted; may raise TargetError."""


def sections(
    data: Any,
    display: str,
    matcher: Matcher,
    *,
    error: Callable[[str], Exception],
    envs: Collection[str] | None = None,
    known: Collection[str] | None = None,
    known_label: str = "",
) -> list[tuple[str, list[str]]]:
    """``[(env, [sls, ...]), ...]`` of the matching targets of a top file, in file order.

    ``display`` names the file in errors; ``error(message)`` builds the
    exception raised for a malformed file. Sections of environments not in
    ``envs`` are skipped (None keeps them all); with ``known``, a section
    naming an environment outside it is an error that cites ``known_label``.
    """
    if not isinstance(data, dict):
        raise error(f"{display}: must map environments to targets")
    out: list[tuple[str, list[str]]] = []
    for env, targets in data.items():
        if known is not None and env not in known:
            raise error(f"{display}: environment {env!r} is not in {known_label}")
        if envs is not None and env not in envs:
            continue
        if targets is None:
            continue
        if not isinstance(targets, dict):
            raise error(f"{display}: {env}: must map targets to SLS lists")
        for tgt, entries in targets.items():
            where = f"{display}: {env}: target {str(tgt)[:80]!r}"
            names, match = entry(entries, where, error)
            try:
                hit = matcher(str(tgt), match)
            except TargetError as exc:
                raise error(f"{display}: target {str(tgt)[:80]!r}: {exc}")
            if hit:
                out.append((str(env), names))
    return out


def entry(entries: Any, where: str, error: Callable[[str], Exception]) -> tuple[list[str], str]:
    """``(sls names, match type)`` of one target's list: names and an optional ``{match: TYPE}``."""
    if entries is None:
        entries = []
    if isinstance(entries, str):
        entries = [entries]
    if not isinstance(entries, list):
        raise error(f"{where}: must be a list of SLS names")
    names: list[str] = []
    match = "glob"
    for item in entries:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict) and set(item) == {"match"}:
            match = str(item["match"])
            if match not in targeting.TARGET_TYPES:
                known = ", ".join(targeting.TARGET_TYPES)
                raise error(f"{where}: unknown match {match!r}; use one of {known}")
        else:
            raise error(f"{where}: entries must be SLS names or {{match: TYPE}}")
    return names, match


def merge(
    found: list[tuple[str, list[str]]], envs: Collection[str] | None = None
) -> dict[str, list[str]]:
    """``{env: [sls, ...]}`` from :func:`sections`: each name once, environments as first seen.

    With ``envs``, environments come in that order instead.
    """
    merged: dict[str, list[str]] = {}
    for env, names in found:
        bucket = merged.setdefault(env, [])
        bucket.extend(name for name in names if name not in bucket)
    if envs is None:
        return merged
    return {env: merged[env] for env in envs if env in merged}
