"""Top files and SLS files of the pillar roots, rendered and merged for one minion."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fluxforge import targeting
from fluxforge.config import MasterConfig
from fluxforge.errors import PillarError, RenderError
from fluxforge.highstate import top as top_file
from fluxforge.highstate.trees import resolve_include
from fluxforge.pillar.data import merge, nest
from fluxforge.pillar.roots import Roots, roots_for
from fluxforge.render.renderers import render

TOP = "top.sls"

UNTRUSTED = ("grains", "pillar")
"""Context variables rendered as untrusted data: the minion reports its grains, and pillar
values may hold them. They are copied for each file, so a template cannot change them."""


def environments(cfg: MasterConfig, env: str = "") -> list[str]:
    """The pillar environments to compile: ``env``, or all of them, ``base`` first."""
    if env:
        if env not in cfg.pillar_roots:
            known = ", ".join(sorted(cfg.pillar_roots)) or "none"
            raise PillarError(f"pillar environment {env!r} is not in pillar_roots ({known})")
        return [env]
    return sorted(cfg.pillar_roots, key=lambda name: (name != "base", name))


class Compiler:
    """Compiles the pillar of one minion; used once, from one thread."""

    def __init__(self, cfg: MasterConfig, minion_id: str, grains: Mapping[str, Any]):
        self.cfg = cfg
        self.minion_id = minion_id
        self.grains = grains
        self.pillar: dict[str, Any] = {}
        self._rendered: dict[tuple[str, str], dict[str, Any]] = {}
        self._rendering: set[tuple[str, str]] = set()
        self._merged: set[tuple[str, str]] = set()

    def roots(self, env: str) -> Roots:
        return roots_for(env, tuple(self.cfg.pillar_roots[env]))

    def context(self, env: str, **extra: Any) -> dict[str, Any]:
        """The Jinja variables of a top or SLS file of ``env``.

        ``pillar`` is the pillar merged so far (earlier SLS files in top
        order), a copy: a template cannot change it. ``grains`` and
        ``pillar`` are untrusted (see :data:`UNTRUSTED`).
        """
        return {
            "grains": dict(self.grains),
            "id": self.minion_id,
            "minion_id": self.minion_id,
            "saltenv": env,
            "env": env,
            "opts": {"id": self.minion_id, "environment": env},
            "pillar": self.pillar,
            **extra,
        }

    # --- top files ---------------------------------------------------------------

    def top(self, envs: list[str]) -> dict[str, list[str]]:
        """``{env: [sls, ...]}`` for this minion, from the top file of each of ``envs``.

        Targets for one environment from every top file are gathered, in the
        order of ``envs`` (Salt's default ``merge`` strategy); when a single
        environment is asked for, only its sections count.
        """
        matched: dict[str, list[str]] = {}
        for env in envs:
            roots = self.roots(env)
            path = roots.find(TOP)
            if path is None:
                continue
            display = roots.display(TOP)
            data = self.render_file(roots, path, display, self.context(env, pillar={}))
            for section_env, names in self._top_sections(data, display, envs):
                matched.setdefault(section_env, []).extend(names)
        return {env: matched[env] for env in envs if env in matched}

    def _top_sections(
        self, data: Any, display: str, envs: list[str]
    ) -> list[tuple[str, list[str]]]:
        return top_file.sections(
            data,
            display,
            self._matches,
            error=PillarError,
            envs=envs,
            known=self.cfg.pillar_roots,
            known_label="pillar_roots",
        )

    def _matches(self, tgt: str, match: str) -> bool:
        return targeting.matches(
            tgt,
            match,
            self.minion_id,
            grains=self.grains,
            pillar={},
            nodegroups=self.cfg.nodegroups,
        )

    # --- SLS files -----------------------------------------------------------------

    def apply_top(self, top: dict[str, list[str]]) -> None:
        """Render the SLS files of ``top`` and merge each into :attr:`pillar`, in order."""
        for env, patterns in top.items():
            roots = self.roots(env)
            for pattern in patterns:
                names = roots.expand(pattern) or [pattern]
                for sls in names:
                    if (env, sls) in self._merged:
                        continue
                    data = self.sls(roots, sls, {}, roots.display(TOP))
                    self._merged.add((env, sls))
                    self.pillar = merge(self.pillar, data)

    def sls(
        self, roots: Roots, sls: str, defaults: dict[str, Any], named_by: str
    ) -> dict[str, Any]:
        """The data of SLS ``sls`` with its includes merged in (rendered once per compile)."""
        key = (roots.env, sls)
        if key in self._rendered:
            return self._rendered[key]
        if key in self._rendering:
            return {}  # an include cycle: the SLS is already being rendered
        found = roots.sls_file(sls)
        if found is None:
            raise PillarError(
                f"Specified SLS {sls!r} in environment {roots.env!r} is not available "
                f"on the master (named by {named_by})"
            )
        path, relpath = found
        display = roots.display(relpath)
        slspath = relpath.rpartition("/")[0]
        context = self.context(
            roots.env, sls=sls, slspath=slspath, tpldir=slspath, tplpath=relpath, **defaults
        )
        self._rendering.add(key)
        try:
            data = self.render_file(roots, path, display, context)
            if not isinstance(data, dict):
                raise PillarError(
                    f"{display}: must render to a mapping, not a {type(data).__name__}"
                )
            data = self._with_includes(roots, sls, relpath, display, data)
        finally:
            self._rendering.discard(key)
        self._rendered[key] = data
        return data

    def _with_includes(
        self, roots: Roots, sls: str, relpath: str, display: str, data: dict[str, Any]
    ) -> dict[str, Any]:
        """Included SLS data merged in list order, then the including file's own data.

        The including file is merged last so its values win, as in Salt
        (``pillar_includes_override_sls: False``).
        """
        if "include" not in data:
            return data
        data = dict(data)
        includes = data.pop("include")
        if not isinstance(includes, list):
            raise PillarError(f"{display}: include must be a list")
        merged: dict[str, Any] = {}
        for entry in includes:
            name, key, defaults = self._include_entry(entry, display)
            target = self._resolve(name, sls, relpath, display)
            for sub in roots.expand(target) or [target]:
                sub_data = self.sls(roots, sub, defaults, display)
                merged = merge(merged, nest(sub_data, key) if key else sub_data)
        return merge(merged, data)

    @staticmethod
    def _include_entry(entry: Any, display: str) -> tuple[str, str, dict[str, Any]]:
        if isinstance(entry, str):
            return entry, "", {}
        if isinstance(entry, dict) and len(entry) == 1:
            name, options = next(iter(entry.items()))
            options = options or {}
            if isinstance(name, str) and isinstance(options, dict):
                unknown = set(options) - {"key", "defaults"}
                key = options.get("key") or ""
                defaults = options.get("defaults") or {}
                if not unknown and isinstance(key, str) and isinstance(defaults, dict):
                    return name, key, defaults
        raise PillarError(
            f"{display}: include entries must be SLS names or {{NAME: {{key: K, defaults: {{}}}}}}"
        )

    @staticmethod
    def _resolve(name: str, sls: str, relpath: str, display: str) -> str:
        """An include name made absolute: ``.sibling`` and ``..uncle`` are relative to ``sls``."""
        if name.startswith("/") or "\\" in name:
            raise PillarError(f"{display}: include {name!r} must be an SLS name, not a path")
        try:
            return resolve_include(name.replace("/", "."), sls, relpath, "the pillar roots")
        except ValueError as exc:
            raise PillarError(f"{display}: {exc}")

    def render_file(self, roots: Roots, path: str, display: str, context: dict[str, Any]) -> Any:
        """Render one file of ``roots``; its errors never quote the source (it may hold secrets)."""
        text = roots.read(path, display)
        trusted = {key: value for key, value in context.items() if key not in UNTRUSTED}
        data = {key: context[key] for key in UNTRUSTED if key in context}
        try:
            return render(
                text,
                name=display,
                context=trusted,
                untrusted_context=data,
                loader=roots.loader,
                show_source=False,
            )
        except RenderError as exc:
            raise PillarError(str(exc))
