"""The package's import rules, read from the source and checked.

:func:`scan` reads every ``.py`` file under a package folder with ``ast``
and records each import of the package's own modules: which module, which
names, and how (at import time, lazily inside a function, or for type
checking only). :func:`check` applies the rules to that and returns the
broken ones, each a readable line. ``tests/unit/test_import_rules.py`` runs
it on ``fluxforge/`` (and proves, on a small broken tree, that every rule
fires), so the rules are enforced by the test suite rather than kept by
hand in a table.

The rules:

- ``master`` and ``minion`` never import each other, in any way.
- The shared core (every package but ``master``, ``minion``, ``cli`` and
  ``testing``, and the plugins) imports none of ``master``, ``minion``,
  ``cli``, ``testing``, ``modules`` or ``states``.
- Plugins (``modules``, ``states``) import no daemon, no command and no
  test helper: not ``master``, ``minion``, ``cli``, ``client`` or
  ``testing``, and not one another's packages (a state calls execution
  functions through the job context).
- No cycle among imports made at import time (lazy and type-checking
  imports may close a loop; that is what they are for).
- No module reaches another module's private (``_underscore``) name, by
  ``from x import _name`` or ``x._name``.
- Custom plugins (files under a ``_modules/``, ``_states/`` or ``_grains/``
  folder given to :func:`check_custom`) import from the package only its
  stable surface, ``<package>.plugin``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

EAGER, LAZY, TYPING = "import time", "lazily", "type checking only"

DAEMONS = ("master", "minion")
FRONTS = ("cli", "testing")
PLUGINS = ("modules", "states")


@dataclass(frozen=True)
class Import:
    """One import of a package module by another."""

    source: str  # the importing module, dotted ("fluxforge.master.daemon")
    target: str  # the imported module, dotted
    names: tuple[str, ...]  # names taken from it ("from x import a, b"); () for "import x"
    how: str  # EAGER, LAZY or TYPING
    line: int


@dataclass
class Graph:
    """Every internal import of a package, and the private attributes reached through them."""

    package: str
    modules: set[str] = field(default_factory=set)
    imports: list[Import] = field(default_factory=list)
    # (module, line, "alias._name", target module) for attribute access on an imported module
    private_attrs: list[tuple[str, int, str, str]] = field(default_factory=list)


def module_name(root: Path, path: Path) -> str:
    """The dotted name of ``path`` inside the package folder ``root``."""
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _how(parents: tuple[ast.AST, ...]) -> str:
    for node in reversed(parents):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return TYPING
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            return LAZY
    return EAGER


def _walk(node: ast.AST, parents: tuple[ast.AST, ...] = ()) -> Iterator[tuple[ast.AST, tuple]]:
    yield node, parents
    for child in ast.iter_child_nodes(node):
        yield from _walk(child, (*parents, node))


def _resolve_relative(source: str, is_package: bool, level: int, module: str | None) -> str:
    base = source.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def scan(root: Path) -> Graph:
    """Read every module under the package folder ``root`` and record its internal imports."""
    package = root.name
    graph = Graph(package)
    files = sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
    graph.modules = {module_name(root, p) for p in files}
    for path in files:
        source = module_name(root, path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        aliases: dict[str, str] = {}  # local name -> imported module
        for node, parents in _walk(tree):
            graph.imports.extend(
                _imports_of(graph, source, path.name == "__init__.py", node, parents)
            )
            aliases.update(_module_aliases(graph, source, path.name == "__init__.py", node))
        for node, _ in _walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                dotted = _dotted(node.value)
                target = aliases.get(dotted or "")
                if target in graph.modules:
                    graph.private_attrs.append(
                        (source, node.lineno, f"{dotted}.{node.attr}", target)
                    )
    return graph


def _module_aliases(graph: Graph, source: str, is_package: bool, node: ast.AST) -> dict[str, str]:
    """The local names that ``node`` binds to package modules."""
    package = graph.package
    out: dict[str, str] = {}
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name in graph.modules:
                out[alias.asname or alias.name] = alias.name
    elif isinstance(node, ast.ImportFrom):
        module = node.module or ""
        if node.level:
            module = _resolve_relative(source, is_package, node.level, node.module)
        if module == package or module.startswith(package + "."):
            for alias in node.names:
                if f"{module}.{alias.name}" in graph.modules:
                    out[alias.asname or alias.name] = f"{module}.{alias.name}"
    return out


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else None
    return None


def _imports_of(
    graph: Graph, source: str, is_package: bool, node: ast.AST, parents: tuple
) -> Iterator[Import]:
    package = graph.package
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name == package or alias.name.startswith(package + "."):
                yield Import(source, alias.name, (), _how(parents), node.lineno)
    elif isinstance(node, ast.ImportFrom):
        module = node.module or ""
        if node.level:
            module = _resolve_relative(source, is_package, node.level, node.module)
        if not (module == package or module.startswith(package + ".")):
            return
        how = _how(parents)
        plain = []
        for alias in node.names:
            sub = f"{module}.{alias.name}"
            if sub in graph.modules:  # "from pkg import module"
                yield Import(source, sub, (), how, node.lineno)
            else:
                plain.append(alias.name + (f" as {alias.asname}" if alias.asname else ""))
        if plain:
            yield Import(source, module, tuple(plain), how, node.lineno)


def _top(package: str, module: str) -> str:
    """The first component under the package: ``master`` for ``fluxforge.master.daemon``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == package else ""


def _is_core(top: str) -> bool:
    return top not in (*DAEMONS, *FRONTS, *PLUGINS)


def check(graph: Graph) -> list[str]:
    """Every broken rule in ``graph``, one line each (empty when the rules hold)."""
    problems: list[str] = []
    pkg = graph.package
    for imp in graph.imports:
        src, dst = _top(pkg, imp.source), _top(pkg, imp.target)
        where = f"{imp.source} (line {imp.line}) imports {imp.target}"
        if src in DAEMONS and dst in DAEMONS and src != dst:
            problems.append(f"{where}: {src}/ and {dst}/ never import each other")
        elif _is_core(src) and dst in (*DAEMONS, *FRONTS, *PLUGINS):
            problems.append(f"{where}: the shared core imports no daemon, command or plugin")
        elif src in PLUGINS and dst in (*DAEMONS, *FRONTS, "client"):
            problems.append(f"{where}: a plugin imports no daemon internals, command or client")
        elif src in PLUGINS and dst in PLUGINS and src != dst:
            problems.append(f"{where}: {src}/ reaches {dst}/ through the job context, not imports")
        for name in imp.names:
            if name.startswith("_") and not name.startswith("__") and imp.target != imp.source:
                problems.append(f"{where}: takes the private name {name.split(' as ')[0]}")
    for source, line, text, target in graph.private_attrs:
        if target != source:
            problems.append(f"{source} (line {line}) reaches the private {text} of {target}")
    problems.extend(f"import cycle: {' -> '.join(c)}" for c in cycles(graph))
    return problems


def cycles(graph: Graph) -> list[list[str]]:
    """Cycles among import-time imports, each as the modules in order (first repeated last)."""
    edges: dict[str, set[str]] = {}
    for imp in graph.imports:
        if imp.how == EAGER and imp.target in graph.modules and imp.target != imp.source:
            edges.setdefault(imp.source, set()).add(imp.target)
    found: list[list[str]] = []
    seen_keys: set[frozenset[str]] = set()
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                loop = [*stack[stack.index(nxt) :], nxt]
                key = frozenset(loop)
                if key not in seen_keys:
                    seen_keys.add(key)
                    found.append(loop)
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return found


def check_custom(package: str, files: Iterable[Path]) -> list[str]:
    """Custom plugin files that import from ``package`` anything but ``<package>.plugin``."""
    allowed = f"{package}.plugin"
    problems = []
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                base = node.module or ""
                names = [base] if base != package else [f"{base}.{a.name}" for a in node.names]
            for name in names:
                if (name == package or name.startswith(package + ".")) and name != allowed:
                    problems.append(
                        f"{path} (line {node.lineno}) imports {name}: "
                        f"custom plugins import only {allowed}"
                    )
    return problems


def table(graph: Graph) -> Mapping[str, list[str]]:
    """Who imports whom: each module and the package modules it imports, with how."""
    out: dict[str, dict[str, str]] = {}
    for imp in graph.imports:
        deps = out.setdefault(imp.source, {})
        if imp.target not in deps or imp.how == EAGER:
            deps[imp.target] = imp.how
    return {
        src: sorted(t if h == EAGER else f"{t} ({h})" for t, h in deps.items())
        for src, deps in sorted(out.items())
    }
