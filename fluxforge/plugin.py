"""The stable surface that custom plugins import.

A custom execution module in the master's ``_modules/`` (or a state module in
``_states/``, a grain module in ``_grains/``) is synced to minions and loaded
beside the built-in ones. It should import from FluxForge only this module:
the names here keep their meaning across releases, while everything else in
the package is internal and may move::

    from fluxforge.plugin import ExecutionError, current, inline

    @inline
    def hello(name: str = "world") -> str:
        \"\"\"Greet ``name`` from this minion.\"\"\"
        return f"hello {name} from {current().grains['id']}"

What each name is:

- :func:`current` gives the running job's :class:`JobContext`: its options,
  grains, pillar, test mode, the other functions (``ctx.funcs["cmd.run"]``),
  and event firing.
- :func:`inline` marks a quick function that runs on the minion's loop
  instead of a worker thread (it must not block or talk to the master).
- :class:`Result` is a return value with its own retcode, for a function
  that reports a failure without raising.
- For state modules: :class:`StateResult`, :func:`settle`,
  :func:`apply_changes`, :func:`require` and :func:`catch_errors` (plan,
  then apply; test mode is the plan alone). A plain
  ``{name, result, changes, comment}`` dict is accepted too.
- The errors are the ones a plugin raises to fail a call with one line.
"""

from __future__ import annotations

from fluxforge.errors import (
    ExecutionError,
    FileServerError,
    FluxForgeError,
    PillarError,
    RenderError,
    UnknownFunction,
)
from fluxforge.plugins.context import JobContext, current
from fluxforge.plugins.loader import inline
from fluxforge.plugins.results import Result
from fluxforge.plugins.stateresult import (
    StateResult,
    apply_changes,
    catch_errors,
    require,
    settle,
)

__all__ = [
    "ExecutionError",
    "FileServerError",
    "FluxForgeError",
    "JobContext",
    "PillarError",
    "RenderError",
    "Result",
    "StateResult",
    "UnknownFunction",
    "apply_changes",
    "catch_errors",
    "current",
    "inline",
    "require",
    "settle",
]
