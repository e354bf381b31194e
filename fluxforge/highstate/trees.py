"""What state trees and pillar roots share: SLS globs, relative includes, reading files.

A state tree (:mod:`fluxforge.highstate.sls`) and the pillar roots
(:mod:`fluxforge.pillar.roots`, :mod:`fluxforge.pillar.compiler`) name their
SLS files the same way: ``a.b`` is ``a/b.sls`` or ``a/b/init.sls``, a name
with ``*?[`` is a glob (:func:`is_glob`), and an ``include`` entry may be
relative to the including SLS (:func:`resolve_include`). Each caller keeps
its own error class: :func:`resolve_include` raises ValueError, which the
caller words as its own; :func:`read_text` raises the class it is given.
"""

from __future__ import annotations

import re

_GLOB_CHARS = frozenset("*?[")
_RELATIVE = re.compile(r"^(\.+)(.*)$")


def is_glob(name: str) -> bool:
    """Whether an SLS name is a glob such as ``users.*``."""
    return not _GLOB_CHARS.isdisjoint(name)


def resolve_include(
    name: str, sls: str, relpath: str, top: str = "the top of the state tree"
) -> str:
    """An include made absolute: ``.sibling`` and ``..uncle`` are relative to ``sls``.

    The package of ``a.b`` is ``a`` when it is ``a/b.sls``, ``a.b`` when it is
    ``a/b/init.sls``. Raises ValueError (``include 'x' goes above <top>``)
    when the name climbs above the tree.
    """
    found = _RELATIVE.match(name)
    if not found:
        return name
    dots, rest = found.groups()
    package = sls.split(".")
    if not relpath.endswith("/init.sls"):
        package = package[:-1]
    up = len(dots) - 1
    if up > len(package) or not rest:
        raise ValueError(f"include {name!r} goes above {top}")
    return ".".join([*package[: len(package) - up], rest])


def read_text(path: str, shown: str, error: type[Exception]) -> str:
    """The UTF-8 text of the file ``path``; else ``error("<shown>: cannot read: <reason>")``."""
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise error(f"{shown}: cannot read: {reason}")
