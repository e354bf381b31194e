"""Read the pillar of the minion running the job.

The pillar is compiled by the master and held by the minion. When the
master could not compile it, every function here fails with the master's
message (:class:`~fluxforge.errors.PillarError`) rather than answer from an
empty pillar.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fluxforge.errors import ExecutionError, PillarError
from fluxforge.plugins.context import current
from fluxforge.plugins.datapath import merged_with_default, plain, traverse
from fluxforge.plugins.loader import inline

log = logging.getLogger("fluxforge.minion")

_MISSING = object()


def _pillar() -> Mapping[str, Any]:
    job = current()
    if job.pillar_error:
        raise PillarError(job.pillar_error)
    return job.pillar


@inline
def items() -> dict[str, Any]:
    """Return the whole pillar of this minion as a dict.

    CLI example: ``ff '*' pillar.items``
    """
    data: dict[str, Any] = plain(_pillar())
    return data


@inline
def get(
    key: str,
    default: Any = "",
    delimiter: str = ":",
    merge: bool = False,
    merge_nested_lists: bool = False,
) -> Any:
    """Return the pillar value at ``key``, a path such as ``users:alice:uid``, or ``default``.

    Path parts are joined by ``delimiter``; an integer part indexes into a
    list (``apps:0:name``). With ``merge``, a mapping ``default`` is the
    base the value found merges over (lists in it joined too with
    ``merge_nested_lists``), and a list ``default`` gets the items found
    appended, as in Salt; a value that cannot merge is returned as it is,
    with a warning in the minion log.

    CLI example: ``ff '*' pillar.get users:alice:shell /bin/sh``
    """
    return plain(_get("pillar", _pillar(), key, default, delimiter, merge, merge_nested_lists))


def _get(
    what: str,
    data: Any,
    key: str,
    default: Any,
    delimiter: str,
    merge: bool,
    merge_lists: bool,
) -> Any:
    if not merge:
        return traverse(data, key, default, delimiter)
    value, problem = merged_with_default(data, key, default, delimiter, merge_lists)
    if problem:
        log.warning("%s.get %s: %s", what, key, problem)
    return value


@inline
def item(*keys: str) -> dict[str, Any]:
    """Return ``{key: value}`` for each key given; a key may be an ``a:b`` path, missing is "".

    CLI example: ``ff '*' pillar.item users ntp:servers``
    """
    pillar = _pillar()
    return {key: plain(traverse(pillar, key, "", ":")) for key in keys}


@inline
def keys(key: str = "") -> list[str]:
    """Return the sorted keys of the mapping at ``key`` (an ``a:b`` path; empty: the top level).

    It is an error if ``key`` is missing or holds something other than a mapping.

    CLI example: ``ff '*' pillar.keys users``
    """
    value = traverse(_pillar(), key, _MISSING, ":") if key else _pillar()
    if value is _MISSING:
        raise ExecutionError(f"pillar has no key {key!r}")
    if not isinstance(value, Mapping):
        raise ExecutionError(f"pillar value at {key!r} is a {type(value).__name__}, not a mapping")
    return sorted(str(k) for k in value)


@inline
def ls() -> list[str]:
    """Return the sorted names of the top-level pillar keys.

    CLI example: ``ff '*' pillar.ls``
    """
    return sorted(str(k) for k in _pillar())
