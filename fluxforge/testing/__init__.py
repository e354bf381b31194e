"""Testing helpers that are part of the product.

- :class:`Cluster`: a real ``ff-master`` and minions on loopback (port 0, the
  master reports its ports), driven with the real commands.
- :func:`job_context`: a ready job context for running modules and states
  in-process.
- :func:`wait_until` and :class:`LogWatch`: waiting on a condition or a
  daemon's log line, never on a fixed sleep.
- :class:`JobStoreSuite` and :class:`MinionDataStoreSuite`: the conformance
  suites every store implementation passes (:mod:`fluxforge.testing.stores`).
- :mod:`fluxforge.testing.imports`: the package's import rules, checked.
"""

from fluxforge.testing.cluster import (
    BIN,
    Cluster,
    Result,
    command,
)
from fluxforge.testing.contexts import job_context
from fluxforge.testing.stores import JobStoreSuite, MinionDataStoreSuite
from fluxforge.testing.waits import LogWatch, WaitTimeout, wait_until

__all__ = [
    "BIN",
    "Cluster",
    "JobStoreSuite",
    "LogWatch",
    "MinionDataStoreSuite",
    "Result",
    "WaitTimeout",
    "command",
    "job_context",
    "wait_until",
]
