"""Testing helpers: a real master and real minions on loopback, and waits on real signals.

The public names of :mod:`fluxforge.testing.cluster` and
:mod:`fluxforge.testing.waits`, importable from here.
"""

from fluxforge.testing.cluster import (
    BIN,
    Cluster,
    Result,
    command,
)
from fluxforge.testing.waits import LogWatch, WaitTimeout, wait_until

__all__ = [
    "BIN",
    "Cluster",
    "LogWatch",
    "Result",
    "WaitTimeout",
    "command",
    "wait_until",
]
