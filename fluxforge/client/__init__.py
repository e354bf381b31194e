"""The local client: how ``ff``, ``ff-key`` and scripts talk to a running master.

The public names of :mod:`fluxforge.client.local`, importable from here.
"""

from fluxforge.client.local import (
    PRECHECKED_TYPES,
    REQUEST_TIMEOUT,
    TARGET_ERROR_PREFIX,
    Job,
    LocalClient,
    check_target,
    master_pid,
)

__all__ = [
    "PRECHECKED_TYPES",
    "REQUEST_TIMEOUT",
    "TARGET_ERROR_PREFIX",
    "Job",
    "LocalClient",
    "check_target",
    "master_pid",
]
