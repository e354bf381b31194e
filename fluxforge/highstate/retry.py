"""The ``retry`` argument of a state: how often, and until what, its function is re-run.

As in Salt, ``retry: True`` takes the defaults and a mapping overrides some
of them::

    retry:
      attempts: 2      # calls in all, the first included (an integer >= 1)
      until: True      # the result that stops the retries (True, False or None)
      interval: 30     # seconds between two calls (a number >= 0)
      splay: 0         # up to this many more seconds, at random (a number >= 0)

Unlike Salt, which logs a warning and falls back to the defaults, an unknown
key or a value of the wrong type is an error, and ``retry: False`` (or None)
means no retry at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RetryPolicy:
    """When and how often a state function is called again."""

    attempts: int = 2
    until: bool | None = True
    interval: float = 30
    splay: float = 0


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def retry_policy(value: Any) -> RetryPolicy | None:
    """The policy of a ``retry`` value; None for no retry. Raises ValueError naming the problem."""
    if value is None or value is False:
        return None
    if value is True:
        return RetryPolicy()
    if not isinstance(value, dict):
        raise ValueError(f"retry must be True or a mapping of {_KEYS}, not {value!r}")
    unknown = sorted(str(k) for k in value if k not in _CHECKS)
    if unknown:
        raise ValueError(f"retry has unknown key(s) {', '.join(unknown)}; known: {_KEYS}")
    for key, (check, wanted) in _CHECKS.items():
        if key in value and not check(value[key]):
            raise ValueError(f"retry {key} must be {wanted}, not {value[key]!r}")
    return RetryPolicy(**value)


_CHECKS = {
    "attempts": (
        lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
        "an integer >= 1",
    ),
    "until": (lambda v: v is None or isinstance(v, bool), "True, False or None"),
    "interval": (_number, "a number of seconds >= 0"),
    "splay": (_number, "a number of seconds >= 0"),
}
_KEYS = ", ".join(_CHECKS)
