"""Functions for checking that a minion answers and that calls work end to end."""

from __future__ import annotations

from typing import Any

import fluxforge
from fluxforge.errors import ExecutionError
from fluxforge.plugins.context import current
from fluxforge.plugins.loader import inline
from fluxforge.plugins.results import Result


@inline
def ping() -> bool:
    """Return True: the minion is up and runs jobs.

    CLI example: ``ff '*' test.ping``
    """
    return True


@inline
def echo(text: str) -> str:
    """Return ``text`` exactly as given (it is never converted to a number or list).

    CLI example: ``ff '*' test.echo 'hello world'``
    """
    return text


@inline
def version() -> str:
    """Return the FluxForge version the minion runs.

    CLI example: ``ff '*' test.version``
    """
    return fluxforge.__version__


def sleep(length: float) -> bool:
    """Sleep ``length`` seconds and return True; fail with "cancelled" if the job is cancelled.

    CLI example: ``ff '*' test.sleep 5``
    """
    if current().cancelled.wait(float(length)):
        raise ExecutionError("test.sleep: cancelled")
    return True


@inline
def arg(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """Return the arguments as received, after text conversion: ``{"args": [..], "kwargs": {..}}``.

    CLI example: ``ff '*' test.arg 3 '[a, b]' name=web``
    """
    return {"args": list(args), "kwargs": dict(kwargs)}


@inline
def retcode(code: int = 0) -> Result:
    """Return ``code`` and make it the job's retcode.

    CLI example: ``ff '*' test.retcode 3``
    """
    return Result(code, code)


@inline
def exception(message: str = "test.exception was called") -> None:
    """Raise an ExecutionError with ``message``, to test how failures are reported.

    CLI example: ``ff '*' test.exception 'boom'``
    """
    raise ExecutionError(message)
