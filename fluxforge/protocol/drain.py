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

import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import zmq

if TYPE_CHECKING:
    import asyncio

log = logging.getLogger(__name__)

BATCH = 1000

# pyzmq's flags are enum members; combining them costs microseconds per call
# on Python 3.11, more than the send itself. The hot path uses plain ints.
NOBLOCK = int(zmq.NOBLOCK)
SNDMORE = int(zmq.SNDMORE)
RCVMORE = int(zmq.RCVMORE)
EVENTS = int(zmq.EVENTS)
POLLIN = int(zmq.POLLIN)


def set_reconnect(sock: zmq.Socket[Any]) -> None:
    """Reconnect quickly after the master restarts, each socket at its own pace.

    A random first interval (50-250 ms) spreads thousands of minions over
    time instead of all knocking at once; the backoff stops at one second so
    a restarted master is found again within about a second.
    """
    sock.setsockopt(zmq.RECONNECT_IVL, random.randint(50, 250))
    sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)


def send_parts(sock: zmq.Socket[Any], parts: list[bytes]) -> None:
    """Send a multipart message without blocking (zmq.Again if it cannot)."""
    if len(parts) == 2:  # the common case, without the loop
        sock.send(parts[0], NOBLOCK | SNDMORE)
        sock.send(parts[1], NOBLOCK)
        return
    last = len(parts) - 1
    for i, part in enumerate(parts):
        sock.send(part, NOBLOCK | SNDMORE if i < last else NOBLOCK)


def recv_parts_peer(sock: zmq.Socket[Any]) -> tuple[list[bytes], zmq.Frame]:
    """:func:`recv_parts`, and the first part as a zmq frame (it knows its peer's address)."""
    first = sock.recv(NOBLOCK, copy=False)
    parts = [first.bytes]
    while sock.get(RCVMORE):
        parts.append(sock.recv(NOBLOCK))
    return parts, first


def peer_address(frame: zmq.Frame | None) -> str:
    """The address of the peer ``frame`` came from (``Peer-Address``), or ``""``."""
    if frame is None:
        return ""
    try:
        return str(frame.get("Peer-Address"))
    except zmq.ZMQError:  # an inproc peer, or a transport without addresses
        return ""


def recv_parts(sock: zmq.Socket[Any]) -> list[bytes]:
    """Receive one multipart message without blocking (zmq.Again if none is queued)."""
    parts = [sock.recv(NOBLOCK)]
    while sock.get(RCVMORE):
        parts.append(sock.recv(NOBLOCK))
    return parts


class _Outbox:
    """Sends queued during one turn of an event loop, sent together after it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.items: list[tuple[Drainer, bytes | list[bytes]]] = []

    def append(self, item: tuple[Drainer, bytes | list[bytes]]) -> None:
        if not self.items:
            self.loop.call_soon(self.flush)
        self.items.append(item)

    def flush(self) -> None:
        items, self.items = self.items, []
        for drainer, data in items:
            if drainer._closed:
                continue
            try:
                drainer.send_now(data)
            except zmq.Again:
                log.debug("a send was refused by zmq (no peer connected); dropped")
            except zmq.ZMQError as exc:
                log.debug("a send failed: %s", exc)


_OUTBOXES: dict[int, _Outbox] = {}


def _outbox(loop: asyncio.AbstractEventLoop) -> _Outbox:
    box = _OUTBOXES.get(id(loop))
    if box is None or box.loop is not loop:
        box = _OUTBOXES[id(loop)] = _Outbox(loop)
    return box


class Drainer:
    """Calls ``handle`` for each message of ``sock``, from the event loop.

    With ``peers``, the first frame of the message being handled stays in
    :attr:`frame`, so the handler can ask :func:`peer_address` where it came
    from (only when it needs to: the lookup is not free).
    """

    def __init__(
        self,
        sock: zmq.Socket[Any],
        handle: Callable[[Any], None],
        multipart: bool = True,
        batch: int = BATCH,
        peers: bool = False,
    ) -> None:
        self.sock = sock
        self.handle = handle
        self.multipart = multipart
        self.batch = batch
        self.peers = peers
        self.frame: zmq.Frame | None = None
        import asyncio  # here, so that commands using send_parts/recv_parts skip asyncio

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
        sock, handle = self.sock, self.handle
        msg: Any
        for _ in range(self.batch):
            try:
                if self.peers:
                    msg, self.frame = recv_parts_peer(sock)
                else:
                    msg = recv_parts(sock) if self.multipart else sock.recv(NOBLOCK)
            except zmq.Again:
                break
            try:
                handle(msg)
            except Exception:
                log.exception("unexpected error while handling a message")
        else:
            # More may be waiting: let other callbacks run, then carry on.
            self.kick()
            return
        # Reading ZMQ_EVENTS re-arms the descriptor; if something slipped in
        # meanwhile (our own sends may have consumed its signal), go again.
        if int(sock.get(EVENTS)) & POLLIN:
            self.kick()

    def kick(self) -> None:
        """Check the socket again soon, whatever its descriptor says."""
        if not self._scheduled and not self._closed:
            self._scheduled = True
            self.loop.call_soon(self._wake)

    def send(self, data: bytes | list[bytes]) -> None:
        """Queue ``data``; it leaves, with every other send of this turn of the loop,
        once the current callbacks have run.

        Sending in one burst wakes zmq's I/O thread once for many messages
        instead of once per message. A send that zmq refuses (no peer yet) is
        dropped with a debug line; the request it carried times out.
        """
        _outbox(self.loop).append((self, data))

    def send_now(self, data: bytes | list[bytes]) -> None:
        """Send without blocking, then make sure no incoming message is left unseen."""
        if isinstance(data, list):
            send_parts(self.sock, data)
        else:
            self.sock.send(data, NOBLOCK)
        self.kick()

    def close(self) -> None:
        """Stop reading; the socket itself is closed by its owner."""
        if not self._closed:
            self._closed = True
            self.loop.remove_reader(self._fd)
