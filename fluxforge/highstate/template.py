"""What SLS files and file templates are rendered with on a minion.

The Jinja context of Salt state trees: ``grains``, ``pillar``, ``opts``,
``ff`` (call any execution function: ``ff['cmd.run']('hostname')`` or
``ff.cmd.run('hostname')``) and its alias ``salt``, ``saltenv``/``env``,
``sls`` and the path variables of :func:`sls_variables`; and a Jinja loader that reads
``{% import 'map.jinja' %}`` through the file client, so templates come from
the master's file server (or the local ``file_roots`` when masterless).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import pathlib
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

    ``ff.cmd.run('hostname')`` is the same call (Salt's attribute form).
    Arguments are passed as Python values (no text conversion), as a template
    writes them.
    """

    def __init__(self, ctx: JobContext) -> None:
        self._ctx = ctx

    def __getattr__(self, module: str) -> ModuleFunctions:
        if module.startswith("_"):
            raise AttributeError(module)
        return ModuleFunctions(self._ctx, module)

    def __getitem__(self, name: str) -> Callable[..., Any]:
        return self._ctx.funcs.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._ctx.funcs

    def __iter__(self) -> Iterator[str]:
        return iter(self._ctx.funcs.names())

    def __len__(self) -> int:
        return len(self._ctx.funcs.names())


class ModuleFunctions(Mapping[str, Callable[..., Any]]):
    """``ff.cmd``: the functions of one execution module, by attribute or by name."""

    def __init__(self, ctx: JobContext, module: str) -> None:
        self._ctx = ctx
        self._module = module

    def __getattr__(self, function: str) -> Callable[..., Any]:
        if function.startswith("_"):
            raise AttributeError(function)
        return self._ctx.funcs.get(f"{self._module}.{function}")

    def __getitem__(self, function: str) -> Callable[..., Any]:
        return self._ctx.funcs.get(f"{self._module}.{function}")

    def __iter__(self) -> Iterator[str]:
        prefix = f"{self._module}."
        return (name.removeprefix(prefix) for name in self._ctx.funcs.names(self._module))

    def __len__(self) -> int:
        return len(self._ctx.funcs.names(self._module))


UNTRUSTED = ("grains", "pillar", "ff", "salt")
"""Context variables whose values an SLS file prints as data, never as YAML structure.

Grains are the minion's claim, pillar may hold grains and job arguments
(``pillar=`` overrides), and what execution functions return
(``salt['pillar.get']``) comes from them too. See :mod:`fluxforge.render.untrusted`.
"""


def opts_view(ctx: JobContext) -> dict[str, Any]:
    """The minion's options as a plain dict, for ``opts`` in templates."""
    return dataclasses.asdict(ctx.opts)


def sls_variables(sls: str, tplfile: str = "", tplpath: str = "") -> dict[str, str]:
    """Salt's path variables of a template: ``tpldir``, ``slspath``, ``sls_path`` and the rest.

    ``sls`` is the SLS name (``apache.config``), ``tplfile`` the file's path
    in the tree (``apache/config.sls``), ``tplpath`` where it is on disk.
    For ``apache/config.sls``: ``tpldir``/``slspath`` are the folder
    ``apache``, ``tpldot``/``slsdotpath`` it with dots, ``slscolonpath``
    with colons, ``sls_path`` with underscores, and ``tplroot`` the first
    part of ``tpldir``, which Salt leaves to formulas (their ``{% set
    tplroot = tpldir.split('/')[0] %}`` still works). A file at the top of
    the tree has ``tpldir`` and ``tplroot`` ``.`` and the others empty. A
    template that is not the SLS file itself (given ``sls`` of the state
    that uses it) has only ``tplpath``, ``tplfile``
    (the SLS name) and ``tpldir`` (``.`` for a dotted name), as in Salt.
    """
    slspath = sls.replace(".", "/").rstrip("/")
    out: dict[str, str] = {}
    if tplfile:
        if sls and tplfile not in (f"{slspath}.sls", f"{slspath}/init.sls"):
            # Salt's values, odd as they are: the SLS name, and the folder of that name.
            parent = str(pathlib.PurePosixPath(sls).parent)
            return {"tplpath": tplpath or tplfile, "tplfile": sls, "tpldir": parent}
        slspath = tplfile.rpartition("/")[0]
        out.update(
            tplpath=tplpath or tplfile,
            tplfile=tplfile,
            tpldir=slspath or ".",
            tpldot=slspath.replace("/", "."),
            tplroot=(slspath or ".").partition("/")[0],
        )
    out.update(
        slspath=slspath,
        slsdotpath=slspath.replace("/", "."),
        slscolonpath=slspath.replace("/", ":"),
        sls_path=slspath.replace("/", "_"),
    )
    return out


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
        **sls_variables(sls),
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
