"""The master's event bus and its local sockets.

Events are ``(tag, data)`` pairs: frames ``[tag, msgpack(data)]`` on an IPC
PUB socket, so listeners subscribe by tag prefix with zmq's own filter.
Local processes fire events by pushing the same frames to an IPC PULL
socket, which the master republishes. Both sockets, and the local request
socket clients use, live in ``sock_dir`` (mode 0700): file permissions are
the access control.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import zmq

from fluxforge.errors import ConfigError, MalformedFrame
from fluxforge.protocol.drain import recv_parts
from fluxforge.protocol.wire import pack, unpack

PUB_NAME = "events_pub.ipc"
PULL_NAME = "events_pull.ipc"
REQ_NAME = "master_req.ipc"
PID_NAME = "master.pid"

# Linux limits a Unix socket path to 107 bytes.
MAX_IPC_PATH = 107


def ipc_address(sock_dir: str, name: str) -> str:
    """The ``ipc://`` address of socket ``name`` in ``sock_dir``."""
    path = os.path.join(sock_dir, name)
    if len(path.encode()) > MAX_IPC_PATH:
        raise ConfigError(
            f"sock_dir {sock_dir!r} is too long for a Unix socket path ({len(path)} > "
            f"{MAX_IPC_PATH} bytes); choose a shorter root_dir or sock_dir"
        )
    return f"ipc://{path}"


def tag_bytes(tag: str) -> bytes:
    """Encode a tag for the wire."""
    return tag.encode("utf-8")


def encode_event(tag: str, data: dict[str, Any]) -> list[bytes]:
    """The frames of one event."""
    return [tag_bytes(tag), pack(data)]


def encode_packed(tag: str, packed: bytes) -> list[bytes]:
    """The frames of one event whose data is already msgpack."""
    return [tag_bytes(tag), packed]


def decode_event(frames: list[bytes]) -> tuple[str, dict[str, Any]]:
    """Decode the frames of one event; raise :class:`MalformedFrame` if they are not one."""
    if len(frames) != 2:
        raise MalformedFrame(f"event has {len(frames)} frames, expected 2")
    try:
        tag = frames[0].decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedFrame("event tag is not UTF-8")
    data = unpack(frames[1])
    if not isinstance(data, dict):
        raise MalformedFrame("event data is not a mapping")
    return tag, data


class EventListener:
    """A blocking listener on the master's event bus (for clients and tests)."""

    def __init__(self, sock_dir: str, prefixes: tuple[str, ...] = ("",)) -> None:
        self.context: zmq.Context[Any] = zmq.Context.instance()
        self.socket: zmq.Socket[Any] = self.context.socket(zmq.SUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.RCVHWM, 0)
        for prefix in prefixes:
            self.socket.setsockopt(zmq.SUBSCRIBE, tag_bytes(prefix))
        self.socket.connect(ipc_address(sock_dir, PUB_NAME))

    def subscribe(self, prefix: str) -> None:
        """Also receive events whose tag starts with ``prefix``."""
        self.socket.setsockopt(zmq.SUBSCRIBE, tag_bytes(prefix))

    def get(self, timeout: float) -> tuple[str, dict[str, Any]] | None:
        """The next event, or None after ``timeout`` seconds."""
        if not self.socket.poll(int(max(timeout, 0) * 1000)):
            return None
        return decode_event(recv_parts(self.socket))

    def iter(self, timeout: float) -> Iterator[tuple[str, dict[str, Any]]]:
        """Events until ``timeout`` seconds pass with none."""
        while True:
            event = self.get(timeout)
            if event is None:
                return
            yield event

    def wait_for(self, tag_prefix: str, timeout: float) -> tuple[str, dict[str, Any]] | None:
        """The first event whose tag starts with ``tag_prefix`` within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            event = self.get(left)
            if event is not None and event[0].startswith(tag_prefix):
                return event
        return None

    def close(self) -> None:
        """Close the socket."""
        self.socket.close(0)


def fire(sock_dir: str, tag: str, data: dict[str, Any]) -> None:
    """Fire one event on the master's bus from another local process."""
    sock: zmq.Socket[Any] = zmq.Context.instance().socket(zmq.PUSH)
    sock.setsockopt(zmq.LINGER, 1000)
    try:
        sock.connect(ipc_address(sock_dir, PULL_NAME))
        sock.send_multipart(encode_event(tag, data))
    finally:
        sock.close()
