"""States that change nothing, for trying out state trees, requisites and outputters.

Each returns a fixed result; in test mode (``test=True``) a state that
would report changes returns ``result: None`` instead, as every state does.
The changes they report are ``{"testing": {"old": "Unchanged", "new":
"Something pretended to change"}}``, as Salt's ``test`` states report.
"""

from __future__ import annotations

import random
from typing import Any

from fluxforge.plugins.stateresult import StateResult, catch_errors, settle

_CHANGES = {"testing": {"old": "Unchanged", "new": "Something pretended to change"}}


def _changes(changed: bool) -> dict[str, Any]:
    return {"testing": dict(_CHANGES["testing"])} if changed else {}


@catch_errors
def nop(name: str, **kwargs: Any) -> StateResult:
    """Do nothing and succeed without changes; extra arguments are accepted and ignored.

    SLS example: ``anything: {test.nop: []}``
    """
    return StateResult(name, True, {}, "Success!")


@catch_errors
def succeed_without_changes(name: str, **kwargs: Any) -> StateResult:
    """Succeed without changes.

    SLS example: ``ok: {test.succeed_without_changes: []}``
    """
    return StateResult(name, True, {}, "Success!")


@catch_errors
def succeed_with_changes(name: str, **kwargs: Any) -> StateResult:
    """Succeed and report a change (in test mode: ``result`` None, the change predicted).

    SLS example: ``changed: {test.succeed_with_changes: []}``
    """
    return settle(
        StateResult(
            name,
            None,
            _changes(True),
            "If we weren't testing, this would be successful with changes",
        ),
        lambda: StateResult(name, True, _changes(True), "Success!"),
    )


@catch_errors
def fail_without_changes(name: str, **kwargs: Any) -> StateResult:
    """Fail without changes (in test mode too: the failure is predicted).

    SLS example: ``broken: {test.fail_without_changes: []}``
    """
    return settle(
        StateResult(name, False, {}, "If we weren't testing, this would be a failure!"),
        lambda: StateResult(name, False, {}, "Failure!"),
    )


@catch_errors
def fail_with_changes(name: str, **kwargs: Any) -> StateResult:
    """Fail and report a change (in test mode: ``result`` None, the change predicted).

    SLS example: ``half_done: {test.fail_with_changes: []}``
    """
    return settle(
        StateResult(
            name, None, _changes(True), "If we weren't testing, this would be failed with changes"
        ),
        lambda: StateResult(name, False, _changes(True), "Failure!"),
    )


def _choice(value: Any, what: str) -> bool:
    if isinstance(value, str) and value.lower() == "random":
        return random.choice((True, False))
    if isinstance(value, bool):
        return value
    raise ValueError(f"{what} must be True, False or 'Random', not {value!r}")


@catch_errors
def configurable_test_state(
    name: str, changes: bool | str = True, result: bool | str = True, comment: str = ""
) -> StateResult:
    """Return the result asked for: ``changes`` and ``result`` are True, False or ``Random``.

    In test mode, ``result`` is None when there are changes and True when
    there are none, as for any state; ``comment`` defaults to a fixed text.

    SLS example: ``flaky: {test.configurable_test_state: [{changes: true}, {result: Random}]}``
    """
    changed = _choice(changes, "changes")
    outcome = _choice(result, "result")
    return settle(
        StateResult(
            name, None if changed else True, _changes(changed), comment or "This is a test"
        ),
        lambda: StateResult(name, outcome, _changes(changed), comment),
    )


@catch_errors
def show_notification(name: str, text: str | None = None) -> StateResult:
    """Succeed without changes, with ``text`` (default: the name) as the comment.

    SLS example: ``note: {test.show_notification: [{text: "rebooting soon"}]}``
    """
    return StateResult(name, True, {}, name if text is None else str(text))


@catch_errors
def mod_watch(name: str, sfun: str = "", **kwargs: Any) -> StateResult:
    """Run when a watched (or listened to) state changed: report that the watch fired.

    ``sfun`` is the state function named in the SLS. In test mode the
    watch is predicted (``result`` None).
    """
    which = f" (test.{sfun})" if sfun else ""
    return settle(
        StateResult(name, None, {"watch": True}, f"Watch statement would fire{which}"),
        lambda: StateResult(name, True, {"watch": True}, f"Watch statement fired{which}"),
    )
