"""The master's event bus and its local sockets.

The public names of :mod:`fluxforge.events.bus`, importable from here.
"""

from fluxforge.events.bus import (
    MAX_IPC_PATH,
    PID_NAME,
    PUB_NAME,
    PULL_NAME,
    REQ_NAME,
    EventListener,
    decode_event,
    encode_event,
    encode_packed,
    fire,
    ipc_address,
    tag_bytes,
)

__all__ = [
    "MAX_IPC_PATH",
    "PID_NAME",
    "PUB_NAME",
    "PULL_NAME",
    "REQ_NAME",
    "EventListener",
    "decode_event",
    "encode_event",
    "encode_packed",
    "fire",
    "ipc_address",
    "tag_bytes",
]
