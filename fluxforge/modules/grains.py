"""Read the grains of the minion running the job."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fluxforge.context import current
from fluxforge.loader import inline


def _plain(value: Any) -> Any:
    """A deep copy made of plain dicts and lists, safe to return over the wire."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _traverse(data: Any, key: str, default: Any, delimiter: str) -> Any:
    """Follow ``key`` (components joined by ``delimiter``) into nested mappings and lists."""
    if isinstance(data, Mapping) and key in data:
        return data[key]
    if not key:
        return default
    for part in key.split(delimiter):
        if isinstance(data, Mapping) and part in data:
            data = data[part]
        elif isinstance(data, list | tuple):
            try:
                data = data[int(part)]
            except (ValueError, IndexError):
                return default
        else:
            return default
    return data


@inline
def items() -> dict[str, Any]:
    """Return all grains as a dict.

    CLI example: ``ff '*' grains.items``
    """
    plain: dict[str, Any] = _plain(current().grains)
    return plain


@inline
def get(key: str, default: Any = "", delimiter: str = ":") -> Any:
    """Return the grain at ``key``, a path such as ``ip4_interfaces:eth0:0``, or ``default``.

    Path components are joined by ``delimiter``; an integer component
    indexes into a list.

    CLI example: ``ff '*' grains.get os_family``
    """
    return _plain(_traverse(current().grains, key, default, delimiter))


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
    return {key: _plain(_traverse(grains, key, "", ":")) for key in keys}
