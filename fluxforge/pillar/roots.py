"""The folders of one pillar environment: finding SLS files and serving Jinja imports.

Names asked for here come from top files, ``include:`` lists and Jinja
``{% import %}``; they are confined to the roots: no absolute paths, no
``..``, no empty components.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable
from functools import lru_cache

import jinja2

from fluxforge.errors import PillarError
from fluxforge.highstate.trees import is_glob, read_text


def safe_relpath(name: str) -> str | None:
    """``name`` as a relative ``a/b/c`` path, or None if it could leave the roots."""
    if not name or "\\" in name or "\0" in name or name.startswith("/"):
        return None
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return None
    return "/".join(parts)


class Roots:
    """The folders of the pillar environment ``env``, searched in order."""

    def __init__(self, env: str, folders: tuple[str, ...]):
        self.env = env
        self.folders = folders
        self.loader = RootsLoader(self)

    def display(self, relpath: str) -> str:
        """The name of a file in messages: ``pillar/<env>/<relpath>``."""
        return f"pillar/{self.env}/{relpath}"

    def find(self, relpath: str) -> str | None:
        """The absolute path of ``relpath`` in the first folder that has it."""
        safe = safe_relpath(relpath)
        if safe is None:
            return None
        for folder in self.folders:
            path = os.path.join(folder, *safe.split("/"))
            if os.path.isfile(path):
                return path
        return None

    def sls_file(self, sls: str) -> tuple[str, str] | None:
        """``(absolute path, relative path)`` of SLS ``a.b``: ``a/b.sls`` or ``a/b/init.sls``."""
        parts = sls.split(".")
        if not sls or any(not part or "/" in part for part in parts):
            return None
        base = "/".join(parts)
        for relpath in (f"{base}.sls", f"{base}/init.sls"):
            path = self.find(relpath)
            if path is not None:
                return path, relpath
        return None

    def available(self) -> list[str]:
        """Every SLS name of this environment, sorted (for globs in tops and includes)."""
        names: set[str] = set()
        for folder in self.folders:
            for dirpath, dirnames, filenames in os.walk(folder):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                rel = os.path.relpath(dirpath, folder)
                prefix = [] if rel == "." else rel.split(os.sep)
                for filename in filenames:
                    if not filename.endswith(".sls") or filename.startswith("."):
                        continue
                    stem = filename[: -len(".sls")]
                    parts = prefix if stem == "init" and prefix else [*prefix, stem]
                    if parts != ["top"] and all(parts):
                        names.add(".".join(parts))
        return sorted(names)

    def expand(self, pattern: str) -> list[str]:
        """The SLS names that ``pattern`` names: itself, or the matches of a glob."""
        if not is_glob(pattern):
            return [pattern]
        return fnmatch.filter(self.available(), pattern)

    def read(self, path: str, display: str) -> str:
        """The text of a file of these roots; a PillarError if it cannot be read."""
        return read_text(path, display, PillarError)


class RootsLoader(jinja2.BaseLoader):
    """Jinja loader over the folders of a :class:`Roots`, confined to them."""

    def __init__(self, roots: Roots):
        self.roots = roots

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        relpath = safe_relpath(template)
        path = self.roots.find(relpath) if relpath is not None else None
        if relpath is None or path is None:
            raise jinja2.TemplateNotFound(template)
        try:
            mtime = os.path.getmtime(path)
            with open(path, encoding="utf-8") as fh:
                source = fh.read()
        except (OSError, UnicodeDecodeError):
            raise jinja2.TemplateNotFound(template)

        def uptodate() -> bool:
            try:
                return os.path.getmtime(path) == mtime
            except OSError:
                return False

        return source, self.roots.display(relpath), uptodate


@lru_cache(maxsize=64)
def roots_for(env: str, folders: tuple[str, ...]) -> Roots:
    """The (shared) :class:`Roots` of an environment, so Jinja's template cache is reused."""
    return Roots(env, folders)
