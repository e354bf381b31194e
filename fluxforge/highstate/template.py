"""What SLS files and file templates are rendered with on a minion.

The Jinja context of Salt state trees: ``grains``, ``pillar``, ``opts``,
``ff`` (call any execution function: ``ff['cmd.run']('hostname')``) and its
alias ``salt``, ``saltenv``/``env``, ``sls``; and a Jinja loader that reads
``{% import 'map.jinja' %}`` through the file client, so templates come from
the master's file server (or the local ``file_roots`` when masterless).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import jinja2

from fluxforge.errors import FileServerError
from fluxforge.files.server import DEFAULT_ENV

if TYPE_CHECKING:
    from fluxforge.files.client import FileClient
    from fluxforge.plugins.context import JobContext


class FunctionsProxy(Mapping[str, Callable[..., Any]]):
    """``ff['cmd.run']('hostname')``: execution functions as a read-only mapping.

    Arguments are passed as Python values (no text conversion), as a template
    writes them.
    """

    def __init__(self, ctx: JobContext) -> None:
        self._ctx = ctx

    def __getitem__(self, name: str) -> Callable[..., Any]:
        return self._ctx.funcs.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._ctx.funcs

    def __iter__(self) -> Iterator[str]:
        return iter(self._ctx.funcs.names())

    def __len__(self) -> int:
        return len(self._ctx.funcs.names())


UNTRUSTED = ("grains", "pillar", "ff", "salt")
"""Context variables whose values an SLS file prints as data, never as YAML structure.

Grains are the minion's claim, pillar may hold grains and job arguments
(``pillar=`` overrides), and what execution functions return
(``salt['pillar.get']``) comes from them too. See :mod:`fluxforge.render.untrusted`.
"""


def opts_view(ctx: JobContext) -> dict[str, Any]:
    """The minion's options as a plain dict, for ``opts`` in templates."""
    return dataclasses.asdict(ctx.opts)


def context(
    ctx: JobContext, saltenv: str = DEFAULT_ENV, sls: str = "", **extra: Any
) -> dict[str, Any]:
    """The Jinja context of a template rendered for the job ``ctx``."""
    functions = FunctionsProxy(ctx)
    out: dict[str, Any] = {
        "grains": ctx.grains,
        "pillar": ctx.pillar,
        "opts": opts_view(ctx),
        "ff": functions,
        "salt": functions,
        "saltenv": saltenv,
        "env": saltenv,
        "sls": sls,
        "slspath": sls.replace(".", "/") if sls else "",
        "id": ctx.opts.id,
        "minion_id": ctx.opts.id,
    }
    out.update(extra)
    return out


class FileClientLoader(jinja2.BaseLoader):
    """Jinja templates (``{% import %}``, ``{% include %}``) from the file client.

    Names are file-server paths (``map.jinja``, ``apache/map.jinja``, or an
    ``ff://``/``salt://`` URL); each is cached by hash, so an unchanged file
    is not fetched again.
    """

    def __init__(self, files: FileClient, saltenv: str = DEFAULT_ENV) -> None:
        self.files = files
        self.saltenv = saltenv

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        try:
            local = self.files.cache_file(template, self.saltenv)
        except FileServerError:
            raise jinja2.TemplateNotFound(template) from None
        if local is None:
            raise jinja2.TemplateNotFound(template)
        try:
            mtime = os.path.getmtime(local)
            with open(local, encoding="utf-8") as fh:
                text = fh.read()
        except (OSError, UnicodeDecodeError):
            raise jinja2.TemplateNotFound(template) from None

        def uptodate() -> bool:
            try:
                return os.path.getmtime(local) == mtime
            except OSError:
                return False

        return text, template, uptodate


@functools.lru_cache(maxsize=32)
def loader_for(files: FileClient, saltenv: str = DEFAULT_ENV) -> FileClientLoader:
    """The shared loader of a file client and environment, so Jinja's caches are reused."""
    return FileClientLoader(files, saltenv)
