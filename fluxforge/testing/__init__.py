"""Testing helpers: a real master and real minions on loopback.

The public names of :mod:`fluxforge.testing.cluster`, importable from here.
"""

from fluxforge.testing.cluster import (
    BIN,
    Cluster,
    Result,
    command,
    free_port,
)

__all__ = [
    "BIN",
    "Cluster",
    "Result",
    "command",
    "free_port",
]
