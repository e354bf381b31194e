"""Testing helpers: a real master and real minions on loopback, and the stores' conformance suite.

The public names of :mod:`fluxforge.testing.cluster` and
:mod:`fluxforge.testing.stores`, importable from here.
"""

from fluxforge.testing.cluster import (
    BIN,
    Cluster,
    Result,
    command,
    free_port,
)
from fluxforge.testing.stores import JobStoreSuite, MinionDataStoreSuite

__all__ = [
    "BIN",
    "Cluster",
    "JobStoreSuite",
    "MinionDataStoreSuite",
    "Result",
    "command",
    "free_port",
]
