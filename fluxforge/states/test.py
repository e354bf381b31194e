"""States that change nothing, for trying out state trees, requisites and outputters.

Each returns a fixed result; in test mode (``test=True``) a state that
would report changes returns ``result: None`` instead, as every state does.
The changes they report are ``{"testing": {"old": "Unchanged", "new":
"Something pretended to change"}}``, as Salt's ``test`` states report.
"""

from __future__ import annotations

import random
from typing import Any

from fluxforge.plugins.context import current

_CHANGES = {"testing": {"old": "Unchanged", "new": "Something pretended to change"}}


def _ret(name: str, result: bool | None, comment: str, changed: bool) -> dict[str, Any]:
    changes = {"testing": dict(_CHANGES["testing"])} if changed else {}
    return {"name": name, "result": result, "changes": changes, "comment": comment}


def nop(name: str, **kwargs: Any) -> dict[str, Any]:
    """Do nothing and succeed without changes; extra arguments are accepted and ignored.

    SLS example: ``anything: {test.nop: []}``
    """
    return _ret(name, True, "Success!", False)


def succeed_without_changes(name: str, **kwargs: Any) -> dict[str, Any]:
    """Succeed without changes.

    SLS example: ``ok: {test.succeed_without_changes: []}``
    """
    return _ret(name, True, "Success!", False)


def succeed_with_changes(name: str, **kwargs: Any) -> dict[str, Any]:
    """Succeed and report a change (in test mode: ``result`` None, the change predicted).

    SLS example: ``changed: {test.succeed_with_changes: []}``
    """
    if current().test:
        return _ret(
            name, None, "If we weren't testing, this would be successful with changes", True
        )
    return _ret(name, True, "Success!", True)


def fail_without_changes(name: str, **kwargs: Any) -> dict[str, Any]:
    """Fail without changes (in test mode too: the failure is predicted).

    SLS example: ``broken: {test.fail_without_changes: []}``
    """
    if current().test:
        return _ret(name, False, "If we weren't testing, this would be a failure!", False)
    return _ret(name, False, "Failure!", False)


def fail_with_changes(name: str, **kwargs: Any) -> dict[str, Any]:
    """Fail and report a change (in test mode: ``result`` None, the change predicted).

    SLS example: ``half_done: {test.fail_with_changes: []}``
    """
    if current().test:
        return _ret(name, None, "If we weren't testing, this would be failed with changes", True)
    return _ret(name, False, "Failure!", True)


def _choice(value: Any, what: str) -> bool:
    if isinstance(value, str) and value.lower() == "random":
        return random.choice((True, False))
    if isinstance(value, bool):
        return value
    raise ValueError(f"{what} must be True, False or 'Random', not {value!r}")


def configurable_test_state(
    name: str, changes: bool | str = True, result: bool | str = True, comment: str = ""
) -> dict[str, Any]:
    """Return the result asked for: ``changes`` and ``result`` are True, False or ``Random``.

    In test mode, ``result`` is None when there are changes and True when
    there are none, as for any state; ``comment`` defaults to a fixed text.

    SLS example: ``flaky: {test.configurable_test_state: [{changes: true}, {result: Random}]}``
    """
    changed = _choice(changes, "changes")
    outcome = _choice(result, "result")
    if current().test:
        return _ret(name, None if changed else True, comment or "This is a test", changed)
    return _ret(name, outcome, comment, changed)


def show_notification(name: str, text: str | None = None) -> dict[str, Any]:
    """Succeed without changes, with ``text`` (default: the name) as the comment.

    SLS example: ``note: {test.show_notification: [{text: "rebooting soon"}]}``
    """
    return _ret(name, True, name if text is None else str(text), False)


def mod_watch(name: str, sfun: str = "", **kwargs: Any) -> dict[str, Any]:
    """Run when a watched (or listened to) state changed: report that the watch fired.

    ``sfun`` is the state function named in the SLS. In test mode the
    watch is predicted (``result`` None).
    """
    if current().test:
        return {
            "name": name,
            "result": None,
            "changes": {"watch": True},
            "comment": f"Watch statement would fire (test.{sfun})"
            if sfun
            else "Watch statement would fire",
        }
    return {
        "name": name,
        "result": True,
        "changes": {"watch": True},
        "comment": f"Watch statement fired (test.{sfun})" if sfun else "Watch statement fired",
    }
