"""Errors cross a socket as {type, message} and come back as the same class, never another."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq

from fluxforge import errors, events
from fluxforge.client import LocalClient
from fluxforge.config import MasterConfig
from fluxforge.errors import (
    FluxForgeError,
    InternalError,
    KeyStoreError,
    TargetError,
    UsageError,
)
from fluxforge.protocol import wire
from fluxforge.testing import wait_until

CLASSES = sorted(
    (c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, FluxForgeError)),
    key=lambda c: c.__name__,
)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_error_class_round_trips_with_its_exit_code(cls: type[FluxForgeError]) -> None:
    crossed = wire.unpack(wire.pack(errors.describe(cls("it went wrong"))))
    assert crossed == {"type": cls.__name__, "message": "it went wrong"}
    again = errors.rebuild(crossed)
    assert type(again) is cls and str(again) == "it went wrong"
    assert again.exit_code == cls.exit_code


def test_the_exit_codes_that_matter_survive() -> None:
    for cls, code in ((UsageError, 2), (TargetError, 2), (KeyStoreError, 2), (InternalError, 1)):
        assert errors.rebuild(errors.describe(cls("x"))).exit_code == code


def test_an_error_class_of_another_module_is_named_by_its_base() -> None:
    class Sub(UsageError):
        pass

    assert errors.describe(Sub("no")) == {"type": "UsageError", "message": "no"}


def test_an_unexpected_exception_is_an_internal_error_of_one_line() -> None:
    described = errors.describe(ValueError("bad\nvalue"))
    assert described == {
        "type": "InternalError",
        "message": "internal error: ValueError: bad value",
    }
    assert type(errors.rebuild(described)) is InternalError


@pytest.mark.parametrize(
    "name",
    [
        "SystemExit",
        "Exception",
        "ValueError",
        "builtins.ValueError",
        "os.system",
        "__class__",
        "object",
        "type",
        "",
        42,
        None,
        ["UsageError"],
        {"type": "UsageError"},
        b"UsageError",
    ],
)
def test_a_name_outside_errors_gives_a_plain_fluxforge_error(name: Any) -> None:
    error = errors.rebuild({"type": name, "message": "hello"})
    assert type(error) is FluxForgeError and str(error) == "hello"
    assert errors.by_name(name) is FluxForgeError


@pytest.mark.parametrize(
    "description", [None, "text", 3, [], {"type": "UsageError"}, {"message": 5}, {"message": " "}]
)
def test_a_garbled_description_gives_a_plain_fluxforge_error(description: Any) -> None:
    error = errors.rebuild(description, "the master")
    assert type(error) is FluxForgeError and str(error).startswith("the master ")


# -- through LocalClient.command ----------------------------------------------


class Peer:
    """The master's end of the local socket, answering each request with the next reply given."""

    def __init__(self, sock_dir: str, replies: list[Any]) -> None:
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(events.ipc_address(sock_dir, events.REQ_NAME))
        self.replies = list(replies)
        self.thread = threading.Thread(target=self._serve, name="peer")
        self.thread.start()

    def _serve(self) -> None:
        for reply in self.replies:
            if not self.sock.poll(10_000):
                return
            ident, _ = self.sock.recv_multipart()
            self.sock.send_multipart([ident, wire.pack(reply)])

    def close(self) -> None:
        self.thread.join()
        self.sock.close(0)
        self.ctx.term()


@pytest.fixture
def sock_dir(tmp_path: Path) -> str:
    folder = tmp_path / "sock"
    folder.mkdir()
    (folder / events.PID_NAME).write_text(f"{os.getpid()}\n")
    return str(folder)


@pytest.fixture
def client_of(sock_dir: str) -> Iterator[Any]:
    made: list[tuple[Peer, LocalClient]] = []

    def make(*replies: Any) -> LocalClient:
        peer = Peer(sock_dir, list(replies))
        client = LocalClient(MasterConfig(sock_dir=sock_dir), request_timeout=10)
        made.append((peer, client))
        return client

    before = _fds()
    yield make
    for peer, client in made:
        client.close()
        peer.close()
    # The client's socket lives in zmq's shared context, whose reaper thread
    # closes its descriptors a moment after close(): wait for that.
    wait_until(
        lambda: not _fds() - before,
        timeout=5.0,
        what="zmq's reaper to close the client's descriptors",
    )


def _fds() -> set[str]:
    try:
        return set(os.listdir("/proc/self/fd"))
    except OSError:  # not Linux
        return set()


@pytest.mark.parametrize("cls", [UsageError, TargetError, KeyStoreError, InternalError])
def test_the_client_raises_the_class_the_master_named(client_of: Any, cls: type) -> None:
    client = client_of({"ok": False, "error": {"type": cls.__name__, "message": "refused"}})
    with pytest.raises(FluxForgeError) as raised:
        client.command("ping")
    assert type(raised.value) is cls and str(raised.value) == "refused"


def test_the_client_never_guesses_a_class_from_the_wording(client_of: Any) -> None:
    # Once, text starting "invalid target" was a TargetError and "unknown" a UsageError.
    client = client_of(
        {"ok": False, "error": {"type": "FluxForgeError", "message": "invalid target: x"}},
        {"ok": False, "error": "unknown command 'x'"},
    )
    for _ in range(2):
        with pytest.raises(FluxForgeError) as raised:
            client.command("ping")
        assert type(raised.value) is FluxForgeError


@pytest.mark.parametrize("name", ["SystemExit", "KeyboardInterrupt", "os.system", 7])
def test_the_client_refuses_to_make_a_class_outside_errors(client_of: Any, name: Any) -> None:
    client = client_of({"ok": False, "error": {"type": name, "message": "boom"}})
    with pytest.raises(FluxForgeError) as raised:
        client.command("ping")
    assert type(raised.value) is FluxForgeError and str(raised.value) == "boom"


def test_the_client_returns_a_result(client_of: Any) -> None:
    assert client_of({"ok": True, "result": {"jid": "1"}}).command("prep_jid") == {"jid": "1"}
