"""The state engine's entry points: render, compile and run for one job.

Every function takes the job's context (``ctx.files`` reads the tree,
``ctx.states`` holds the state modules) and raises
:class:`~fluxforge.highstate.compiler.CompileError` (its ``errors`` a list
of one-line messages) when the tree does not render or compile::

    top(ctx, "base")                   -> {"base": ["common", "web"]}
    high(ctx, ["web"], "base")         -> HighData (None instead of a list: the highstate)
    low(ctx, ["web"], "base")          -> [Low, ...] in run order
    run(ctx, ["web"], "base")          -> {tag: result, ...} in run order
    run_single(ctx, "file.touch", "/tmp/x", {}, "base")

Running uses the context that is current (``fluxforge.plugins.context.current``),
so test mode and pillar come from the job; :mod:`fluxforge.modules.state`
sets them up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fluxforge import targeting
from fluxforge.errors import ExecutionError, UnknownFunction
from fluxforge.highstate import top as top_file
from fluxforge.highstate.compiler import (
    CompileError,
    Low,
    check_arguments,
    check_signatures,
    compile_low,
)
from fluxforge.highstate.high import Gatherer, HighData
from fluxforge.highstate.requisites import ENGINE_KEYS
from fluxforge.highstate.runner import Runner
from fluxforge.highstate.sls import StateTreeError, Tree
from fluxforge.highstate.trees import is_glob

if TYPE_CHECKING:
    from fluxforge.plugins.context import JobContext

__all__ = ["CompileError", "HighData", "Low", "high", "low", "run", "run_single", "top"]


def _tree(ctx: JobContext) -> Tree:
    if ctx.files is None:
        raise ExecutionError(
            "no file client in this job: the state tree cannot be read "
            "(a minion needs its master; ff-call --local needs file_roots)"
        )
    return Tree(ctx)


def top(ctx: JobContext, saltenv: str = "base") -> dict[str, list[str]]:
    """``{env: [sls, ...]}``: what ``top.sls`` of ``saltenv`` assigns to this minion.

    Sections of the top file may name other environments; their SLS are
    read from there. Globs among the names are expanded.
    """
    tree = _tree(ctx)
    try:
        found = tree.render_top(saltenv)
    except StateTreeError as exc:
        raise CompileError([str(exc)])
    if found is None:
        where = ctx.files.searched(saltenv) if ctx.files is not None else "no file client"
        raise CompileError([f"No top file: there is no top.sls in {where}"])
    data, shown = found

    def matcher(tgt: str, tgt_type: str) -> bool:
        return targeting.matches(
            tgt, tgt_type, ctx.opts.id, ctx.grains, ctx.pillar, nodegroups=ctx.opts.nodegroups
        )

    def error(message: str) -> CompileError:
        return CompileError([message])

    matched = top_file.merge(top_file.sections(data, shown, matcher, error=error))
    out: dict[str, list[str]] = {}
    errors: list[str] = []
    for env, names in matched.items():
        bucket = out.setdefault(env, [])
        for name in names:
            try:
                expanded = tree.expand(name, env) if is_glob(name) else [name]
            except StateTreeError as exc:
                errors.append(str(exc))
                continue
            bucket.extend(n for n in expanded if n not in bucket)
    if errors:
        raise CompileError(errors)
    return {env: names for env, names in out.items() if names}


def high(ctx: JobContext, mods: list[str] | None, saltenv: str = "base") -> HighData:
    """The high data of the SLS ``mods`` of ``saltenv`` (None: the highstate), errors raised."""
    tree = _tree(ctx)
    if mods is None:
        assigned = top(ctx, saltenv)
        if not assigned:
            raise CompileError(
                [
                    f"No Top file matches: top.sls of saltenv {saltenv!r} assigns "
                    f"no state to minion {ctx.opts.id!r}"
                ]
            )
    else:
        assigned = {saltenv: list(mods)}
    data = Gatherer(tree).gather(assigned)
    if data.errors:
        raise CompileError(data.errors)
    return data


def low(ctx: JobContext, mods: list[str] | None, saltenv: str = "base") -> list[Low]:
    """The low chunks of ``mods`` (None: the highstate), in run order."""
    return compile_low(high(ctx, mods, saltenv), _finder(ctx))


def _finder(ctx: JobContext) -> Callable[[str], Callable[..., Any] | None]:
    """Look up a state function of the job, None when there is none."""

    def find(name: str) -> Callable[..., Any] | None:
        if ctx.states is None:
            return None
        try:
            return ctx.states.get(name)
        except UnknownFunction:
            return None

    return find


def run(ctx: JobContext, mods: list[str] | None, saltenv: str = "base") -> dict[str, Any]:
    """Render, compile and run ``mods`` (None: the highstate); the results keyed by tag."""
    return Runner(ctx, low(ctx, mods, saltenv)).run()


def run_single(
    ctx: JobContext, fun: str, name: str, kwargs: dict[str, Any], saltenv: str = "base"
) -> dict[str, Any]:
    """Run one state function, ``fun`` as ``module.function``, as a state of its own.

    Requisites mean nothing for a single state and are refused; ``unless``,
    ``onlyif``, ``creates``, ``retry`` and ``reload_modules`` apply.
    """
    module, dot, function = fun.partition(".")
    if not dot or not module or not function:
        raise CompileError([f"{fun!r} is not a state function such as file.managed"])
    refused = sorted(k for k in kwargs if k in ENGINE_KEYS and k not in _SINGLE_KEYS)
    if refused:
        raise CompileError([f"state.single takes no {', '.join(refused)}: it runs one state"])
    chunk = Low(0, module, function, name, name, "", saltenv, dict(kwargs))
    errors: list[str] = []
    check_arguments([chunk], errors)
    check_signatures([chunk], _finder(ctx), errors)
    if errors:
        raise CompileError(errors)
    return Runner(ctx, [chunk]).run()


_SINGLE_KEYS = frozenset(
    {"unless", "onlyif", "creates", "failhard", "order", "retry", "reload_modules"}
)
