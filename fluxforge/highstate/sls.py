"""Finding and rendering SLS files through the job's file client.

SLS ``a.b`` of an environment is ``a/b.sls`` or, failing that,
``a/b/init.sls``, fetched with ``ctx.files.cache_file`` from the master's
file server (or the local ``file_roots`` when masterless). Files are
rendered with the default ``jinja|yaml`` pipeline (a ``#!`` first line
names another) and the Jinja context of :func:`highstate.template.context`.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fluxforge.errors import FileServerError, RenderError
from fluxforge.files.server import DEFAULT_ENV
from fluxforge.highstate import template
from fluxforge.highstate.trees import is_glob, read_text
from fluxforge.render.renderers import render
from fluxforge.render.untrusted import Prepared, prepare

if TYPE_CHECKING:
    from fluxforge.plugins.context import JobContext

TOP = "top.sls"


class StateTreeError(Exception):
    """One problem of the state tree (a file missing, unreadable or not rendering)."""


@dataclass(frozen=True)
class SlsFile:
    """A located SLS file: its name, environment, path in the tree and cached copy."""

    sls: str
    env: str
    relpath: str
    local: str

    @property
    def display(self) -> str:
        """The file as messages name it: ``ff://web/init.sls`` (``?saltenv=dev`` outside base)."""
        return display(self.relpath, self.env)

    @property
    def folder(self) -> str:
        """The folder of the file in the tree (``web`` for ``web/init.sls``), "" at the top."""
        return self.relpath.rpartition("/")[0]


def display(relpath: str, env: str) -> str:
    """``ff://<relpath>``, with ``?saltenv=<env>`` outside the base environment."""
    suffix = "" if env == DEFAULT_ENV else f"?saltenv={env}"
    return f"ff://{relpath}{suffix}"


class Tree:
    """The state tree of one run, read through ``ctx.files``."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self.files = ctx.files
        self._prepared: dict[str, Prepared] = {}

    def fetch(self, relpath: str, env: str) -> str | None:
        """The local path of the tree's file ``relpath``, or None when there is none."""
        try:
            local: str | None = self.files.cache_file(relpath, env)
        except FileServerError as exc:
            raise StateTreeError(f"{display(relpath, env)}: {exc}")
        return local

    def locate(self, sls: str, env: str) -> SlsFile | None:
        """The file of SLS ``sls`` in ``env`` (``a/b.sls``, then ``a/b/init.sls``), or None."""
        parts = sls.split(".")
        if not sls or any(not part or "/" in part or "\\" in part for part in parts):
            raise StateTreeError(f"{sls!r} is not an SLS name (dotted words, such as web.nginx)")
        base = "/".join(parts)
        for relpath in (f"{base}.sls", f"{base}/init.sls"):
            local = self.fetch(relpath, env)
            if local is not None:
                return SlsFile(sls, env, relpath, local)
        return None

    def expand(self, pattern: str, env: str) -> list[str]:
        """The SLS names that ``pattern`` names: itself, or the sorted matches of a glob."""
        if not is_glob(pattern):
            return [pattern]
        try:
            paths = self.files.list_files(env, "")
        except FileServerError as exc:
            raise StateTreeError(f"cannot list the files of saltenv {env!r}: {exc}")
        names: set[str] = set()
        for path in paths:
            if not path.endswith(".sls"):
                continue
            parts = path[: -len(".sls")].split("/")
            if parts[-1] == "init" and len(parts) > 1:
                parts = parts[:-1]
            if parts != ["top"]:
                names.add(".".join(parts))
        return sorted(fnmatch.filter(names, pattern))

    def read(self, local: str, shown: str) -> str:
        """The text of a cached file."""
        return read_text(local, shown, StateTreeError)

    def render_sls(self, found: SlsFile) -> Any:
        """The data of an SLS file, rendered with the state tree's Jinja context."""
        context = template.context(
            self.ctx,
            found.env,
            sls=found.sls,
            **template.sls_variables(found.sls, found.relpath, found.local),
        )
        what = f"Rendering SLS '{found.env}:{found.sls}' failed"
        return self._render(found.local, found.display, found.env, context, what)

    def render_top(self, env: str) -> tuple[Any, str] | None:
        """``(data, display name)`` of ``top.sls`` of ``env``, or None when there is none."""
        local = self.fetch(TOP, env)
        if local is None:
            return None
        shown = display(TOP, env)
        context = template.context(self.ctx, env)
        return self._render(local, shown, env, context, "Rendering the top file failed"), shown

    def _prepare(self, key: str, value: Any) -> Prepared:
        """``value`` tainted once per run (grains and pillar are the same for every file)."""
        prepared = self._prepared.get(key)
        if prepared is None or prepared.source is not value:
            prepared = self._prepared[key] = prepare(value)
        return prepared

    def _render(self, local: str, shown: str, env: str, context: dict[str, Any], what: str) -> Any:
        text = self.read(local, shown)
        trusted = {key: value for key, value in context.items() if key not in template.UNTRUSTED}
        names = [key for key in template.UNTRUSTED if key in context]
        data = {key: self._prepare(key, context[key]) for key in names}
        try:
            return render(
                text,
                name=shown,
                context=trusted,
                untrusted_context=data,
                loader=template.loader_for(self.files, env),
            )
        except RenderError as exc:
            raise StateTreeError(f"{what}: {exc}")
