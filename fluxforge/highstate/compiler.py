"""Compiling high data into low chunks, in the order they run.

A *low chunk* is one call of one state function: an ID's declaration of a
module, once per name of ``names``. Compiling

1. splits the high data into chunks, in definition order (SLS render order,
   then the order within each file);
2. resolves every requisite reference to chunks (``_in`` forms become the
   same edge seen from the other side) and applies ``use``;
3. orders the chunks: each chunk comes after what it requires (``prereq``
   the other way round), otherwise by ``order`` (``first``, integers,
   unordered, negative integers, ``last``) and then definition order. A
   chunk pulls what it needs forward, depth first, as Salt does.

A reference that matches nothing, a requisite cycle and a malformed
``retry`` or ``reload_modules`` are errors naming the states and their SLS
files.
"""

from __future__ import annotations

import copy
import difflib
import inspect
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fluxforge.errors import FluxForgeError
from fluxforge.highstate.high import HighData
from fluxforge.highstate.requisites import (
    BEFORE,
    ENGINE_KEYS,
    NOT_USED,
    PREREQUIRED,
    REQUISITE_KEYS,
    Reference,
    references,
    split_key,
)
from fluxforge.highstate.retry import retry_policy
from fluxforge.logs import Warner


class CompileError(FluxForgeError):
    """The state tree did not compile; ``errors`` holds one line per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass
class Low:
    """One state function call of a run."""

    index: int  # definition order
    state: str
    fun: str
    name: str
    id: str
    sls: str
    env: str
    args: dict[str, Any]  # the SLS arguments besides name and names
    file: str = ""  # the SLS file, as messages name it
    reqs: dict[str, list[int]] = field(default_factory=dict)  # kind -> target indices

    @property
    def tag(self) -> str:
        """The key of this state's result: ``<module>_|-<id>_|-<name>_|-<function>``."""
        return f"{self.state}_|-{self.id}_|-{self.name}_|-{self.fun}"

    @property
    def label(self) -> str:
        """How messages name the state: ``'web' (file.managed, SLS web in ff://web.sls)``."""
        named = f" name {self.name!r}" if self.name != self.id else ""
        where = f"SLS {self.sls} in {self.file}" if self.file else f"SLS {self.sls}"
        if not self.sls:
            where = "state.single"
        return f"{self.id!r}{named} ({self.state}.{self.fun}, {where})"

    def chunk(self) -> dict[str, Any]:
        """The chunk as Salt's ``show_lowstate`` shows it."""
        return {
            "state": self.state,
            "__id__": self.id,
            "name": self.name,
            "fun": self.fun,
            "__sls__": self.sls,
            "__env__": self.env,
            **self.args,
        }

    def add_req(self, kind: str, target: int) -> None:
        targets = self.reqs.setdefault(kind, [])
        if target not in targets:
            targets.append(target)


# --- high data to chunks --------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _scalar_name(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _names(value: Any, where: str, errors: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """``[(name, per-name arguments)]`` of a ``names`` list."""
    if not isinstance(value, list):
        errors.append(f"{where}: names must be a list")
        return []
    out: list[tuple[str, dict[str, Any]]] = []
    for item in value:
        name = _scalar_name(item)
        if name is not None:
            out.append((name, {}))
            continue
        if isinstance(item, dict) and len(item) == 1:
            key, extra = next(iter(item.items()))
            name = _scalar_name(key)
            args: dict[str, Any] | None = None
            if extra is None:
                args = {}
            elif isinstance(extra, dict):
                args = dict(extra)
            elif isinstance(extra, list) and all(
                isinstance(x, dict) and len(x) == 1 for x in extra
            ):
                args = {k: v for x in extra for k, v in x.items()}
            if name is not None and args is not None:
                out.append((name, args))
                continue
        errors.append(f"{where}: names entries must be names or {{name: {{arg: value}}}}")
    return out


def chunks(high: HighData, errors: list[str]) -> list[Low]:
    """The low chunks of ``high``, in definition order."""
    lows: list[Low] = []
    for state_id, body in high.states.items():
        sls, env = body["__sls__"], body["__env__"]
        shown = high.file_of(env, sls)
        for module, items in body.items():
            if module.startswith("__"):
                continue
            fun = next(item for item in items if isinstance(item, str))
            args: dict[str, Any] = {}
            for item in items:
                if isinstance(item, dict):
                    for key, value in copy.deepcopy(item).items():
                        if key in REQUISITE_KEYS and key in args:
                            args[key] = _as_list(args[key]) + _as_list(value)
                        else:
                            args[key] = value
            where = f"{shown}: ID {state_id!r} ({module}.{fun})"
            if "names" in args:
                named = _names(args.pop("names"), where, errors)
                args.pop("name", None)
            else:
                name = _scalar_name(args.pop("name", state_id))
                if name is None:
                    errors.append(f"{where}: name must be text")
                    continue
                named = [(name, {})]
            seen: set[str] = set()
            for name, extra in named:
                if name in seen:
                    continue
                seen.add(name)
                low_args = {**args, **extra}
                lows.append(
                    Low(len(lows), module, fun, name, state_id, sls, env, low_args, file=shown)
                )
    return lows


# --- requisites ---------------------------------------------------------------------------


def resolve(lows: list[Low], errors: list[str]) -> None:
    """Turn every requisite of ``lows`` into edges between chunks, then apply ``use``."""
    for low in lows:
        for key, value in low.args.items():
            split = split_key(key)
            if split is None:
                continue
            kind, reverse = split
            refs, bad = references(value)
            for item in bad:
                errors.append(
                    f"{key} of {low.label}: {item!r} is not a reference such as "
                    "'- pkg: nginx', '- sls: web' or an ID"
                )
            for ref in refs:
                targets = _matching(lows, ref, low.index)
                if not targets:
                    errors.append(
                        f"Referenced state does not exist for requisite [{key}: ({ref})] "
                        f"in state {low.label}"
                    )
                for target in targets:
                    src, dst = (lows[target], low) if reverse else (low, lows[target])
                    src.add_req(kind, dst.index)
                    if kind == "prereq":
                        dst.add_req(PREREQUIRED, src.index)
    for low in lows:
        for target in low.reqs.get("use", ()):
            for key, value in lows[target].args.items():
                if key not in NOT_USED and key not in low.args:
                    low.args[key] = copy.deepcopy(value)


def _matching(lows: list[Low], ref: Reference, own: int) -> list[int]:
    return [
        low.index
        for low in lows
        if low.index != own and ref.matches(low.state, low.id, low.name, low.sls)
    ]


def check_arguments(lows: list[Low], errors: list[str]) -> None:
    """Check the engine's own arguments that are not requisites: ``retry``, ``reload_modules``."""
    for low in lows:
        if "retry" in low.args:
            try:
                retry_policy(low.args["retry"])
            except ValueError as exc:
                errors.append(f"{exc} in state {low.label}")
        if not isinstance(low.args.get("reload_modules", False), bool):
            errors.append(
                f"reload_modules must be True or False, not {low.args['reload_modules']!r}, "
                f"in state {low.label}"
            )


# Arguments the engine gives a state function itself, or that any state may carry.
_SUPPLIED = frozenset({"name", "saltenv"})
# Options of a state that its unless/onlyif commands run with, as cmd.retcode takes them.
CMD_OPTIONS = ("cwd", "runas", "env", "shell", "timeout")


_warner = Warner(logging.getLogger(__name__), interval=3600.0, burst=1)


def accepted_arguments(fn: Callable[..., Any]) -> set[str] | None:
    """The keyword arguments ``fn`` takes; None when it takes any (``**kwargs``).

    A module that sets ``STRICT_ARGUMENTS = True`` says that its functions'
    ``**kwargs`` only absorb arguments they ignore: their named parameters
    are what they take.
    """
    params = inspect.signature(fn).parameters.values()
    strict = getattr(inspect.getmodule(fn), "STRICT_ARGUMENTS", False) is True
    if not strict and any(p.kind == p.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def check_signatures(
    lows: list[Low], find: Callable[[str], Callable[..., Any] | None], errors: list[str]
) -> None:
    """An argument the state function does not take is an error naming the closest it does.

    ``find("file.managed")`` is the state function, or None when there is
    none yet (the runner reports that one, and a sync may still bring it).
    Without this check a misspelt argument (``sourc:``) would be dropped
    and the state would run without it.
    """
    for low in lows:
        fn = find(f"{low.state}.{low.fun}")
        if fn is None:
            continue
        accepted = accepted_arguments(fn)
        if accepted is None:
            continue
        conditions = "unless" in low.args or "onlyif" in low.args
        salts = getattr(inspect.getmodule(fn), "SALT_ARGUMENTS", {}).get(low.fun, frozenset())
        for key in low.args:
            if key in ENGINE_KEYS or key in _SUPPLIED or key.startswith("__") or key in accepted:
                continue
            if conditions and key in CMD_OPTIONS:
                continue
            if key in salts:
                # Salt's own argument, not acted on here: the formula still runs.
                _warner.warn(
                    f"salt-arg:{low.state}.{low.fun}:{key}",
                    f"{low.state}.{low.fun}: Salt's argument {key!r} is not supported and is "
                    f"ignored (state {low.label})",
                )
                continue
            valid = sorted(accepted - _SUPPLIED)
            close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"it takes {', '.join(valid)}"
            errors.append(
                f"{low.state}.{low.fun} takes no argument {key!r} ({hint}) in state {low.label}"
            )


# --- order ------------------------------------------------------------------------------------


def order_key(low: Low, errors: list[str]) -> tuple[int, float, int]:
    """Sort key of a chunk: ``first`` and integers, then unordered, negatives, ``last``."""
    value = low.args.get("order")
    if value is None:
        return (1, 0, low.index)
    if value == "first":
        return (0, float("-inf"), low.index)
    if value == "last":
        return (3, 0, low.index)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (2, value, low.index) if value < 0 else (0, value, low.index)
    errors.append(f"order of {low.label} must be an integer, 'first' or 'last', not {value!r}")
    return (1, 0, low.index)


def dependencies(lows: list[Low]) -> list[dict[int, str]]:
    """For each chunk, the chunks that must run before it and the kind of edge."""
    deps: list[dict[int, str]] = [{} for _ in lows]
    for low in lows:
        for kind in BEFORE:
            for target in low.reqs.get(kind, ()):
                deps[low.index].setdefault(target, kind)
        for target in low.reqs.get("prereq", ()):
            deps[target].setdefault(low.index, "prereq")
    # A prereq state runs a test of its target first: what the target needs must run before.
    for low in lows:
        for target in low.reqs.get("prereq", ()):
            for kind in BEFORE:
                for need in lows[target].reqs.get(kind, ()):
                    if need != low.index:
                        deps[low.index].setdefault(need, f"prereq target's {kind}")
    return deps


def ordered(lows: list[Low]) -> list[Low]:
    """``lows`` in run order; raises :class:`CompileError` on a bad order or a cycle."""
    errors: list[str] = []
    keys = [order_key(low, errors) for low in lows]
    if errors:
        raise CompileError(errors)
    deps = dependencies(lows)
    by_key = sorted(range(len(lows)), key=keys.__getitem__)
    done: set[int] = set()
    out: list[Low] = []
    for start in by_key:
        if start in done:
            continue
        # Depth first without recursion: (chunk, its dependencies not yet visited).
        stack: list[tuple[int, list[int]]] = [(start, sorted(deps[start], key=keys.__getitem__))]
        on_stack = {start}
        while stack:
            node, pending = stack[-1]
            while pending and pending[0] in done:
                pending.pop(0)
            if not pending:
                stack.pop()
                on_stack.discard(node)
                done.add(node)
                out.append(lows[node])
                continue
            nxt = pending.pop(0)
            if nxt in on_stack:
                raise CompileError([_cycle(lows, deps, [n for n, _ in stack], nxt)])
            stack.append((nxt, sorted(deps[nxt], key=keys.__getitem__)))
            on_stack.add(nxt)
    return out


def _cycle(lows: list[Low], deps: list[dict[int, str]], path: list[int], back: int) -> str:
    loop = [*path[path.index(back) :], back]
    text = lows[loop[0]].label
    for here, there in itertools.pairwise(loop):
        text += f" --{deps[here][there]}--> {lows[there].label}"
    return f"Recursive requisite found: {text}"


def compile_low(
    high: HighData, find: Callable[[str], Callable[..., Any] | None] | None = None
) -> list[Low]:
    """The chunks of ``high`` in run order; raises :class:`CompileError` listing every problem.

    With ``find`` (see :func:`check_signatures`) the arguments of every state
    are checked against its function's signature too.
    """
    errors = list(high.errors)
    if errors:
        raise CompileError(errors)
    lows = chunks(high, errors)
    resolve(lows, errors)
    check_arguments(lows, errors)
    if find is not None:
        check_signatures(lows, find, errors)
    if errors:
        raise CompileError(errors)
    return ordered(lows)
