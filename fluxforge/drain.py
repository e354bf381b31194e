"""Reading zmq sockets from the asyncio loop in batches, without losing a wake-up.

A zmq socket's file descriptor is edge-triggered: it signals when *something*
changed, and any operation on the socket (a send included) may consume that
signal. A reader that only waits for the descriptor can therefore sleep
forever beside a full queue if the program sent on the socket at the wrong
moment. :class:`Drainer` reads until ``ZMQ_EVENTS`` says the queue is empty,
and is kicked after every send made through it, so a message can never sit
unread. Handling is synchronous and in batches: one wake-up serves many
messages (an ``await`` per message would cost more than the crypto).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import zmq

log = logging.getLogger(__name__)

BATCH = 1000


class Drainer:
    """Calls ``handle`` for each message of ``sock``, from the event loop."""

    def __init__(
        self,
        sock: zmq.Socket[Any],
        handle: Callable[[Any], None],
        multipart: bool = True,
        batch: int = BATCH,
    ) -> None:
        self.sock = sock
        self.handle = handle
        self.multipart = multipart
        self.batch = batch
        self.loop = asyncio.get_running_loop()
        self._fd = int(sock.getsockopt(zmq.FD))
        self._scheduled = False
        self._closed = False
        self.loop.add_reader(self._fd, self._wake)
        self.kick()

    def _wake(self) -> None:
        self._scheduled = False
        if self._closed:
            return
        sock = self.sock
        for _ in range(self.batch):
            if not int(sock.getsockopt(zmq.EVENTS)) & zmq.POLLIN:
                return
            try:
                msg = sock.recv_multipart(zmq.NOBLOCK) if self.multipart else sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                self.handle(msg)
            except Exception:
                log.exception("unexpected error while handling a message")
        # More is waiting: let other callbacks run, then carry on.
        self.kick()

    def kick(self) -> None:
        """Check the socket again soon, whatever its descriptor says."""
        if not self._scheduled and not self._closed:
            self._scheduled = True
            self.loop.call_soon(self._wake)

    def send(self, data: bytes | list[bytes]) -> None:
        """Send without blocking, then make sure no incoming message is left unseen."""
        if isinstance(data, list):
            self.sock.send_multipart(data, zmq.NOBLOCK)
        else:
            self.sock.send(data, zmq.NOBLOCK)
        self.kick()

    def close(self) -> None:
        """Stop reading; the socket itself is closed by its owner."""
        if not self._closed:
            self._closed = True
            self.loop.remove_reader(self._fd)
