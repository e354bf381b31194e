"""Read the grains of the minion running the job, and set the persisted ones.

Grains set here are stored in the minion's ``grains_file`` (YAML) and survive
restarts. They override core grains and custom grain modules, but not the
``grains:`` of the minion configuration, which wins as in Salt (a warning in
the minion log says so when it happens). Values keep their types: typed on
a command line, ``'[web, db]'`` is a list and ``4`` an int.

After a change the job sees the new grains at once; under a minion daemon it
is also asked to reload its grains and send them to the master
(``MinionHooks.refresh("grains")``); under ``ff-call --local`` only the file
changes.
"""

from __future__ import annotations

import copy
import fnmatch
import logging
from collections.abc import Callable, Mapping
from typing import Any

from fluxforge.errors import ExecutionError
from fluxforge.grains import store
from fluxforge.grains.core import all_grains
from fluxforge.grains.core import merge as deep_merge
from fluxforge.plugins.context import JobContext, current
from fluxforge.plugins.datapath import merged_with_default, plain, traverse
from fluxforge.plugins.loader import inline
from fluxforge.plugins.results import Result

log = logging.getLogger("fluxforge.minion")

_MISSING = object()


@inline
def items() -> dict[str, Any]:
    """Return all grains as a dict.

    CLI example: ``ff '*' grains.items``
    """
    everything: dict[str, Any] = plain(current().grains)
    return everything


@inline
def get(
    key: str,
    default: Any = "",
    delimiter: str = ":",
    merge: bool = False,
    merge_nested_lists: bool = False,
) -> Any:
    """Return the grain at ``key``, a path such as ``ip4_interfaces:eth0:0``, or ``default``.

    Path components are joined by ``delimiter``; an integer component
    indexes into a list. ``merge`` and ``merge_nested_lists`` merge the
    value found over ``default`` as ``pillar.get`` does.

    CLI example: ``ff '*' grains.get os_family``
    """
    if not merge:
        return plain(traverse(current().grains, key, default, delimiter))
    value, problem = merged_with_default(
        current().grains, key, default, delimiter, merge_nested_lists
    )
    if problem:
        log.warning("grains.get %s: %s", key, problem)
    return plain(value)


@inline
def ls() -> list[str]:
    """Return the sorted names of the top-level grains.

    CLI example: ``ff '*' grains.ls``
    """
    return sorted(current().grains)


@inline
def item(*keys: str) -> dict[str, Any]:
    """Return ``{key: value}`` for each key given; a key may be a ``a:b`` path, missing is "".

    CLI example: ``ff '*' grains.item os osrelease``
    """
    grains = current().grains
    return {key: plain(traverse(grains, key, "", ":")) for key in keys}


@inline
def has_value(key: str) -> bool:
    """Return whether the grain at ``key`` (a path such as ``pkg:apache``) exists.

    A grain that exists with a false value (``False``, ``0``, ``None``, "")
    still has a value.

    CLI example: ``ff '*' grains.has_value pkg:apache``
    """
    return traverse(current().grains, key, _MISSING, ":") is not _MISSING


@inline
def filter_by(
    lookup_dict: Mapping[Any, Any],
    grain: str = "os_family",
    merge: Mapping[str, Any] | None = None,
    default: str = "default",
    base: str | None = None,
) -> Any:
    """Return the entry of ``lookup_dict`` whose key matches this minion's ``grain``.

    Keys of ``lookup_dict`` are glob patterns matched against the grain's
    value (against each item in turn when the grain is a list). With no
    match, the entry named ``default`` is used (None if there is none).
    With ``base``, the matched mapping is deep-merged over the entry named
    ``base``; then ``merge`` (say, pillar overrides) is deep-merged over the
    result. ``lookup_dict`` itself is never changed.

    CLI example: ``ff '*' grains.filter_by '{Debian: apache2, RedHat: httpd}'``
    """
    if not isinstance(lookup_dict, Mapping):
        raise ExecutionError("filter_by: lookup_dict must be a mapping")
    value = traverse(current().grains, grain, [], ":")
    found: Any = None
    for each in value if isinstance(value, list) else [value]:
        for key in lookup_dict:
            if fnmatch.fnmatchcase(str(each), str(key)):
                found = lookup_dict[key]
                break
        if found is not None:
            break
    if found is None:
        found = lookup_dict.get(default)
    if base and base in lookup_dict:
        base_values = lookup_dict[base]
        if found is None:
            found = base_values
        elif isinstance(base_values, Mapping):
            if not isinstance(found, Mapping):
                raise ExecutionError(
                    "filter_by: the matched entry and the base entry must both be mappings"
                )
            found = deep_merge(base_values, found)
    if merge:
        if not isinstance(merge, Mapping):
            raise ExecutionError("filter_by: merge must be a mapping")
        if found is None:
            found = merge
        elif not isinstance(found, Mapping):
            raise ExecutionError("filter_by: merge needs the matched entry to be a mapping")
        else:
            found = deep_merge(found, merge)
    return plain(found)


# --- changing grains --------------------------------------------------------
#
# None of these is @inline: they write the grains file and recompute grains.

_Fold = Callable[[Mapping[str, Any]], dict[str, Any]]


def _write(fold: _Fold, destructive: bool) -> dict[str, Any]:
    """Store the top-level grains that ``fold`` returns, then refresh grains everywhere.

    ``fold`` gets the grains file's current content and runs under the file
    lock, so a read-modify-write never loses a concurrent job's change. A
    value None with ``destructive`` removes the key. Returns what ``fold``
    returned.
    """
    ctx = current()
    written: dict[str, Any] = {}

    def change(data: dict[str, Any]) -> None:
        values = {key: store.plain(value) for key, value in fold(data).items()}
        for key, value in values.items():
            if value is None and destructive:
                data.pop(key, None)
            else:
                data[key] = copy.deepcopy(value)
        written.update(values)

    store.update(ctx.opts.grains_file, change)
    if ctx.minion is not None:
        ctx.minion.refresh("grains")  # also gives this job the new grains
    else:
        ctx.grains = all_grains(ctx.opts)
    _warn_shadowed(ctx, [k for k, v in written.items() if not (v is None and destructive)])
    return written


def _warn_shadowed(ctx: JobContext, keys: list[str]) -> None:
    shadowed = sorted(k for k in keys if k in ctx.opts.grains)
    if shadowed:
        log.warning(
            "grains %s set in %s are overridden by grains: in the minion configuration, "
            "which takes precedence; remove them there for these values to apply",
            ", ".join(shadowed),
            ctx.opts.grains_file,
        )


def setvals(grains: dict[str, Any], destructive: bool = False) -> dict[str, Any]:
    """Set several top-level grains at once from a mapping, and persist them.

    A value of None removes the grain when ``destructive`` is true, and is
    stored as None otherwise. Returns the mapping given.

    CLI example: ``ff '*' grains.setvals '{role: web, rack: 4}'``
    """
    if not isinstance(grains, Mapping):
        raise ExecutionError("setvals: grains must be a mapping, such as '{key: value}'")
    if not all(isinstance(key, str) for key in grains):
        raise ExecutionError("setvals: grain names must be text")
    return _write(lambda stored: dict(grains), destructive)


def setval(key: str, val: Any, destructive: bool = False) -> dict[str, Any]:
    """Set the top-level grain ``key`` to ``val`` (any type) and persist it.

    ``key`` is taken literally, ``a:b`` included; use ``grains.set`` for
    nested keys. ``val`` None removes the grain when ``destructive`` is true.
    Returns ``{key: val}``.

    CLI example: ``ff '*' grains.setval roles '[web, db]'``
    """
    return setvals({key: val}, destructive)


def _nest(
    key: str,
    value: Any,
    delimiter: str,
    *,
    stored: Mapping[str, Any],
    force: bool = False,
    destructive: bool = False,
) -> dict[str, Any]:
    """``{top-level key: new value}`` that puts ``value`` at the nested ``key``.

    Mapping levels are built from the grains file's own content ``stored``,
    since the layers deep-merge (a core mapping grain is not copied into the
    file); lists replace on merge, so a list level starts from the grain as
    the job sees it. A level whose value is a scalar other than the next key
    component is only replaced with ``force``.
    """
    grains = current().grains
    while delimiter in key:
        key, rest = key.rsplit(delimiter, 1)
        seen = traverse(grains, key, _MISSING, delimiter)
        parent: Any
        if isinstance(seen, list):
            parent = store.plain(seen)
            updated = False
            for index, item in enumerate(parent):
                if item == rest:
                    parent[index] = {rest: value}
                    updated = True
                elif isinstance(item, dict) and rest in item:
                    item[rest] = value
                    updated = True
            if not updated:
                parent.append({rest: value})
        elif seen is _MISSING or isinstance(seen, Mapping):
            kept = traverse(stored, key, _MISSING, delimiter)
            parent = store.plain(kept) if isinstance(kept, Mapping) else {}
            if value is None and destructive:
                parent.pop(rest, None)
            else:
                parent[rest] = value
        elif seen == rest or force:
            parent = {rest: value}
        else:
            raise ExecutionError(
                f"the grain {key!r} is {seen!r}, not a mapping with key {rest!r}; "
                "use force=True to replace it"
            )
        value = parent
    return {key: value}


def _outcome(comment: str, changes: dict[str, Any], result: bool) -> Any:
    ret = {"comment": comment, "changes": changes, "result": result}
    return ret if result else Result(ret, 1)


def set_(
    key: str,
    val: Any = "",
    force: bool = False,
    destructive: bool = False,
    delimiter: str = ":",
) -> Any:
    """Set the grain at ``key``, which may be nested (``apps:web:port``), and persist it.

    Conservative, as in Salt: an existing list or mapping, or a list or
    mapping over an existing value, is only replaced with ``force=True``.
    ``val`` None removes the key when ``destructive`` is true. Returns
    ``{comment, changes, result}``; ``changes`` holds the top-level grain
    written. A refusal has result False and retcode 1.

    CLI example: ``ff '*' grains.set apps:web:port 8080``
    """
    existing = traverse(current().grains, key, _MISSING, delimiter)
    if existing is not _MISSING and existing == val and (val is not None or not destructive):
        return _outcome("Grain is already set", {}, True)
    if existing is not None and not force:
        if isinstance(existing, Mapping | list):
            return _outcome(
                f"The key '{key}' exists but is a dict or a list. Use 'force=True' to overwrite.",
                {},
                False,
            )
        if isinstance(val, Mapping | list) and existing is not _MISSING:
            return _outcome(
                f"The key '{key}' exists and the given value is a dict or a list. "
                "Use 'force=True' to overwrite.",
                {},
                False,
            )

    def fold(stored: Mapping[str, Any]) -> dict[str, Any]:
        return _nest(key, val, delimiter, stored=stored, force=force, destructive=destructive)

    try:
        changes = _write(fold, destructive)
    except ExecutionError as exc:
        return _outcome(str(exc), {}, False)
    return _outcome("", changes, True)


def delval(key: str, destructive: bool = False, force: bool = False) -> Any:
    """Set the grain at ``key`` to None; remove it altogether with ``destructive=True``.

    A list or mapping grain is only changed with ``force=True``. Returns as
    ``grains.set`` does. Only the grains file changes: a core grain, a custom
    module's or the configuration's comes back with the next refresh.

    CLI example: ``ff '*' grains.delval role``
    """
    return set_(key, None, force=force, destructive=destructive)


def delkey(key: str, force: bool = False) -> Any:
    """Remove the grain at ``key`` from the grains file (``delval`` with ``destructive``).

    CLI example: ``ff '*' grains.delkey role``
    """
    return delval(key, destructive=True, force=force)


def append(key: str, val: Any, convert: bool = False, delimiter: str = ":") -> Any:
    """Append ``val`` to the list grain at ``key`` (created if missing) and persist it.

    A list ``val`` appends each of its items. A grain that is not a list is
    an error, unless ``convert=True`` makes it a one-item list first. A value
    already in the list changes nothing and says so.
    Returns ``{top-level key: new value}``.

    CLI example: ``ff '*' grains.append roles db``
    """
    values = plain(traverse(current().grains, key, [], delimiter))
    if convert and not isinstance(values, list):
        values = [] if values is None else [values]
    if not isinstance(values, list):
        raise ExecutionError(
            f"the grain {key!r} is not a list ({values!r}); use convert=True to make it one"
        )
    if val in values:
        return f"The val {val} was already in the list {key}"
    values.extend(val if isinstance(val, list) else [val])
    return _write(lambda stored: _nest(key, values, delimiter, stored=stored), False)


def remove(key: str, val: Any, delimiter: str = ":") -> Any:
    """Remove ``val`` from the list grain at ``key`` and persist it.

    A value not in the list changes nothing and says so.
    Returns ``{top-level key: new value}``.

    CLI example: ``ff '*' grains.remove roles db``
    """
    values = plain(traverse(current().grains, key, [], delimiter))
    if not isinstance(values, list):
        raise ExecutionError(f"the grain {key!r} is not a list ({values!r})")
    if val not in values:
        return f"The val {val} was not in the list {key}"
    values.remove(val)
    return _write(lambda stored: _nest(key, values, delimiter, stored=stored), False)
