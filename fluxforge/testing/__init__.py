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
from fluxforge.testing.contexts import job_context

__all__ = [
    "BIN",
    "Cluster",
    "Result",
    "command",
    "free_port",
    "job_context",
]
