"""High data: the state declarations of every SLS of a run, merged into one mapping.

Each SLS renders to ``{id: {module: [function, {arg: value}, ...]}}``,
plus the directives ``include``, ``extend`` and ``exclude``. Gathering
renders the asked SLS files and what they include (each once), with the
states of an included file placed before those of the file that includes
it, as Salt does; then applies every ``extend`` and ``exclude``. The result
keeps Salt's shape, so ``state.show_sls`` reads as Salt's does::

    {"nginx": {"__sls__": "web", "__env__": "base",
               "pkg": ["installed"],
               "service": ["running", {"enable": True}, {"require": [{"pkg": "nginx"}]}]}}

The short forms are normalised on the way in: ``pkg.installed: []`` becomes
``pkg: ["installed"]``, and an ID whose body is the text ``pkg.installed``
becomes ``{pkg: ["installed"]}``.

Problems are collected, not raised one by one, so a run reports every
broken file at once (Salt returns such errors as a list of strings).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from fluxforge.highstate.requisites import REQUISITE_KEYS
from fluxforge.highstate.sls import StateTreeError, Tree
from fluxforge.highstate.trees import resolve_include


@dataclass
class HighData:
    """The merged declarations of a run, and where each SLS came from."""

    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[tuple[str, str], str] = field(default_factory=dict)  # (env, sls) -> file
    errors: list[str] = field(default_factory=list)

    def file_of(self, env: str, sls: str) -> str:
        """The file an SLS was read from, as messages name it (``ff://web/init.sls``)."""
        return self.files.get((env, sls), f"SLS {sls}")


class Gatherer:
    """Renders SLS files into one :class:`HighData`; used once, for one run."""

    def __init__(self, tree: Tree) -> None:
        self.tree = tree
        self.high = HighData()
        self._seen: set[tuple[str, str]] = set()
        self._extends: list[tuple[str, str, Any]] = []  # (env, sls, extend data)
        self._excludes: list[tuple[str, str, Any]] = []

    def error(self, message: str) -> None:
        if message not in self.high.errors:
            self.high.errors.append(message)

    def gather(self, top: dict[str, list[str]]) -> HighData:
        """Render every SLS of ``{env: [sls, ...]}`` (globs expanded), then extend and exclude."""
        for env, patterns in top.items():
            for pattern in patterns:
                try:
                    names = self.tree.expand(pattern, env)
                except StateTreeError as exc:
                    self.error(str(exc))
                    continue
                if not names:
                    self.error(f"No SLS in saltenv {env!r} matches {pattern!r}")
                for sls in names:
                    self.add(sls, env, "")
        self._apply_extends()
        self._apply_excludes()
        return self.high

    def add(self, sls: str, env: str, named_by: str) -> None:
        """Render SLS ``sls`` of ``env`` (once) with its includes, and merge its states."""
        key = (env, sls)
        if key in self._seen:
            return
        self._seen.add(key)
        where = f" (included by {named_by})" if named_by else ""
        try:
            found = self.tree.locate(sls, env)
            if found is None:
                self.error(
                    f"Specified SLS {sls!r} in saltenv {env!r} is not available "
                    f"on the file server{where}"
                )
                return
            self.high.files[key] = found.display
            data = self.tree.render_sls(found)
        except StateTreeError as exc:
            self.error(f"{exc}{where}")
            return
        if not isinstance(data, dict):
            self.error(
                f"{found.display}: SLS {sls!r} must render to a mapping of state IDs, "
                f"not a {type(data).__name__}"
            )
            return
        data = dict(data)
        for inc_env, inc_sls in self._includes(data.pop("include", None), found.display, env, sls):
            if inc_sls is None:
                continue
            try:
                names = self.tree.expand(resolve_include(inc_sls, sls, found.relpath), inc_env)
            except (StateTreeError, ValueError) as exc:
                self.error(f"{found.display}: {exc}")
                continue
            for name in names:
                self.add(name, inc_env, found.display)
        if "extend" in data:
            self._extends.append((env, sls, data.pop("extend")))
        if "exclude" in data:
            self._excludes.append((env, sls, data.pop("exclude")))
        for state_id, body in data.items():
            self._add_state(state_id, body, env, sls, found.display)

    def _includes(
        self, includes: Any, shown: str, env: str, sls: str
    ) -> list[tuple[str, str | None]]:
        if includes is None:
            return []
        if isinstance(includes, str):
            includes = [includes]
        if not isinstance(includes, list):
            self.error(f"{shown}: include must be a list of SLS names")
            return []
        out: list[tuple[str, str | None]] = []
        for item in includes:
            if isinstance(item, str):
                out.append((env, item))
            elif (
                isinstance(item, dict)
                and len(item) == 1
                and all(isinstance(v, str) for kv in item.items() for v in kv)
            ):
                inc_env, inc_sls = next(iter(item.items()))
                out.append((inc_env, inc_sls))
            else:
                self.error(f"{shown}: include entries must be SLS names or {{saltenv: SLS}}")
        return out

    def _add_state(self, state_id: Any, body: Any, env: str, sls: str, shown: str) -> None:
        if not isinstance(state_id, str):
            self.error(f"{shown}: ID {state_id!r} is not text; quote it")
            return
        if state_id.startswith("__"):
            return
        normal = normalise(state_id, body, f"{shown}: ID {state_id!r}", self.error)
        if normal is None:
            return
        other = self.high.states.get(state_id)
        if other is not None:
            self.error(
                "Detected conflicting IDs, SLS IDs need to be globally unique. "
                f"The conflicting ID is {state_id!r} and is found in SLS "
                f"'{other['__env__']}:{other['__sls__']}' and SLS '{env}:{sls}'"
            )
            return
        self.high.states[state_id] = {"__sls__": sls, "__env__": env, **normal}

    # --- extend and exclude ----------------------------------------------------

    def _apply_extends(self) -> None:
        for env, sls, extend in self._extends:
            shown = self.high.file_of(env, sls)
            if not isinstance(extend, dict):
                self.error(f"{shown}: extend must map state IDs to declarations")
                continue
            for state_id, body in extend.items():
                target = self.high.states.get(str(state_id))
                if target is None:
                    self.error(
                        f"{shown}: cannot extend ID {state_id!r}: it is not part of the "
                        "highstate (include the SLS that declares it)"
                    )
                    continue
                normal = normalise(
                    str(state_id), body, f"{shown}: extend of {state_id!r}", self.error, True
                )
                if normal is not None:
                    extend_state(target, normal)

    def _apply_excludes(self) -> None:
        for env, sls, exclude in self._excludes:
            shown = self.high.file_of(env, sls)
            items = exclude if isinstance(exclude, list) else [exclude]
            for item in items:
                if isinstance(item, str):
                    item = {"sls": item}
                if not (isinstance(item, dict) and len(item) == 1):
                    self.error(f"{shown}: exclude entries must be {{sls: NAME}} or {{id: ID}}")
                    continue
                kind, value = next(iter(item.items()))
                if kind == "sls":
                    drop = [i for i, b in self.high.states.items() if b["__sls__"] == value]
                elif kind == "id":
                    drop = [value] if value in self.high.states else []
                else:
                    self.error(f"{shown}: exclude entries must be {{sls: NAME}} or {{id: ID}}")
                    continue
                for state_id in drop:
                    del self.high.states[state_id]


def normalise(
    state_id: str, body: Any, where: str, error: Any, extending: bool = False
) -> dict[str, list[Any]] | None:
    """``{module: [function, {arg: value}, ...]}`` of one ID's body, or None after an error.

    With ``extending``, a declaration may omit its function (it keeps the
    extended one's).
    """
    if isinstance(body, str):
        body = {body: []}
    if not isinstance(body, dict):
        error(f"{where}: must map state modules to arguments, not a {type(body).__name__}")
        return None
    out: dict[str, list[Any]] = {}
    for key, value in body.items():
        if not isinstance(key, str):
            error(f"{where}: state module {key!r} is not text")
            return None
        if key.startswith("__"):
            continue
        module, dot, fun = key.partition(".")
        if value is None:
            value = []
        if isinstance(value, str) and not dot:
            value = [value]
        if not isinstance(value, list):
            error(f"{where}: the arguments of {key!r} must be a list")
            return None
        items = ([fun] if dot else []) + copy.deepcopy(value)
        if module in out:
            error(
                f"{where}: module {module!r} is declared twice; "
                "give each function of a module its own ID"
            )
            return None
        funs = [item for item in items if isinstance(item, str)]
        bad = [item for item in items if not isinstance(item, str | dict)]
        multi = [item for item in items if isinstance(item, dict) and len(item) != 1]
        if bad or multi:
            shown_bad = (bad or multi)[0]
            error(
                f"{where}: {module}: every argument must be a one-key mapping such as "
                f"'- name: value', not {shown_bad!r}"
            )
            return None
        if len(funs) > 1:
            error(f"{where}: {module}: more than one function ({', '.join(funs)})")
            return None
        if not funs and not extending:
            error(f"{where}: {module}: no function given (write {module}.<function>)")
            return None
        out[module] = items
    if not out and not extending:
        error(f"{where}: declares no state")
        return None
    return out


def extend_state(target: dict[str, Any], extension: dict[str, list[Any]]) -> None:
    """Merge an ``extend`` declaration into a state: requisites append, other arguments replace."""
    for module, items in extension.items():
        current = target.get(module)
        if current is None:
            target[module] = items
            continue
        for item in items:
            if isinstance(item, str):
                current[:] = [x for x in current if not isinstance(x, str)]
                current.insert(0, item)
                continue
            key, value = next(iter(item.items()))
            existing = next((x for x in current if isinstance(x, dict) and key in x), None)
            if existing is None:
                current.append(item)
            elif key in REQUISITE_KEYS:
                old = existing[key] if isinstance(existing[key], list) else [existing[key]]
                new = value if isinstance(value, list) else [value]
                existing[key] = old + new
            else:
                existing[key] = value
