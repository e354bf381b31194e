"""Return values that carry their own retcode.

An execution function normally returns a plain value and the job's retcode
is 0 (or 1 if it raised). A function that must report a failure without
raising, such as ``cmd.run`` of a command that exits non-zero, returns a
:class:`Result` instead; the job runner unwraps it with :func:`unwrap`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Result:
    """A return value with an explicit retcode; the job runner unwraps it."""

    value: Any
    retcode: int = 0


def unwrap(returned: Any) -> tuple[Any, int]:
    """Split what a function returned into ``(value, retcode)``; plain values have retcode 0."""
    if isinstance(returned, Result):
        return returned.value, returned.retcode
    return returned, 0
