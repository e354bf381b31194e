"""What a state function returns, and the one place that decides test mode.

A state function plans first and acts second: it works out what it would
change, touching nothing, and hands that plan to :func:`settle` with the
function that carries it out. In test mode the plan is the result; in a
real run the action is called, once, and its report is the result. So a
state module never reads ``current().test`` itself, and a test run predicts
the real run by construction::

    @catch_errors
    def present(name: str, mode: str = "0644") -> StateResult:
        changes = plan_mode(name, mode)                  # touches nothing
        return apply_changes(
            name,
            changes,
            lambda: set_mode(name, mode),
            ok=f"{name} is already in the desired state",
            done=f"{name} was changed",
        )

:class:`StateResult` is the typed outcome, read like Salt's dict
(``ret["result"]``) and turned into it by :meth:`StateResult.to_dict`; the
state engine accepts it or a plain dict. :func:`require` is for a
prerequisite that an earlier state of the same run may provide (a user, a
group, a parent folder): the real run fails without it, a test run plans on.
:func:`catch_errors` turns a FluxForge or OS error into ``result: False``
with the error as a one-line comment.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ParamSpec

from fluxforge.errors import ExecutionError, FluxForgeError
from fluxforge.plugins.context import current

KEYS = ("name", "result", "changes", "comment")
P = ParamSpec("P")


@dataclass(eq=False)
class StateResult(Mapping[str, Any]):
    """The outcome of a state: Salt's ``{name, result, changes, comment}``, typed.

    ``result`` is True (done, or nothing to do), False (failed; ``comment``
    says why) or None (test mode, and something would change). It reads as
    a mapping of those four keys, so it compares equal to the dict of
    :meth:`to_dict`.
    """

    name: str
    result: bool | None = True
    changes: dict[str, Any] = field(default_factory=dict)
    comment: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The plain dict the state engine records: ``{name, result, changes, comment}``."""
        return {
            "name": self.name,
            "result": self.result,
            "changes": self.changes,
            "comment": self.comment,
        }

    def __getitem__(self, key: str) -> Any:
        if key not in KEYS:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(KEYS)

    def __len__(self) -> int:
        return len(KEYS)


def settle(
    plan: StateResult | Callable[[], StateResult], apply: Callable[[], StateResult]
) -> StateResult:
    """The plan in test mode; in a real run, what ``apply`` reports (called exactly once).

    The plan is what the state predicts: usually ``result`` None with the
    changes it would make, but a predicted failure is a plan too. ``plan``
    may be a function, called only in test mode, when working it out in a
    real run would be wasted (``apply`` works it out again after acting).
    """
    if current().test:
        return plan() if callable(plan) else plan
    return apply()


def apply_changes(
    name: str,
    changes: dict[str, Any],
    apply: Callable[[], object],
    ok: str,
    done: str = "",
    predicted: str | None = None,
) -> StateResult:
    """The common case of :func:`settle`: a state whose plan is its ``changes``.

    Nothing to change: ``result`` True with the comment ``ok``, and nothing
    is applied. Test mode: ``result`` None, the changes, and the comment
    ``predicted`` (default ``"<name> is set to be changed"``). A real run
    calls ``apply``: when it returns a :class:`StateResult` (a failure
    found while verifying, or changes that only the action knows) that is
    the result; whatever else it returns, the result is the planned changes
    with the comment ``done``.
    """
    if not changes:
        return StateResult(name, True, {}, ok)
    comment = predicted if predicted is not None else f"{name} is set to be changed"

    def act() -> StateResult:
        reported = apply()
        if isinstance(reported, StateResult):
            return reported
        return StateResult(name, True, changes, done)

    return settle(StateResult(name, None, changes, comment), act)


def require(met: bool, comment: str) -> None:
    """Fail the state with ``comment`` in a real run unless ``met``; a test run plans on.

    For a prerequisite that an earlier state of the same run may provide,
    such as a group for ``user.present`` or a parent folder made by
    ``file.directory``: a test run cannot know, so it predicts as if it
    were there, and the real run checks. The failure is an
    :class:`~fluxforge.errors.ExecutionError`, which :func:`catch_errors`
    (or the engine) reports as ``result: False``.
    """
    if not met and not current().test:
        raise ExecutionError(comment)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def catch_errors(fn: Callable[P, StateResult]) -> Callable[P, StateResult]:
    """Turn a FluxForge or OS error raised by a state into ``result: False``.

    The comment is the error on one line; an OS error is prefixed with the
    state's ``name``. Other exceptions (bugs) reach the engine, which
    reports them with their type.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> StateResult:
        try:
            return fn(*args, **kwargs)
        except (FluxForgeError, OSError) as exc:
            name: Any = args[0] if args else kwargs.get("name", "")
            text = str(exc) if isinstance(exc, FluxForgeError) else f"{name}: {exc}"
            return StateResult(name, False, {}, _one_line(text))

    return wrapper
