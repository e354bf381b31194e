"""Unauthenticated method dispatch: nothing a peer sends before it holds a key reaches a handler.

Mirrors Salt's CVE-2020-11651: the master's ``ClearFuncs`` answered some
methods for callers that had not authenticated, which handed out the root
key and ran commands on every minion. Here the request port knows two clear
kinds (``auth``, and ``req`` whose payload must open as a Box from an
accepted key); the local commands (``publish``, ``keys``, ...) are served
only on the IPC socket in ``sock_dir``, which only the master's own account
can reach. Each attempt below is dropped without an answer, does nothing,
and the daemons keep serving.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from fluxforge.events import PUB_NAME, REQ_NAME
from fluxforge.protocol import commands, wire
from fluxforge.protocol.crypto import random_bytes
from fluxforge.testing import Cluster
from fluxforge.testing.attack import (
    RawPeer,
    assert_still_serving,
    auth_frame,
    raw_peer,
    req_frame,
    request_plain,
    start_web1,
    wait_warning,
)


def local_requests(marker: str) -> dict[str, dict[str, object]]:
    """A local command request of every kind the master serves, as an attacker would send it."""
    load = {
        "jid": "",
        "tgt": "*",
        "tgt_type": "glob",
        "fun": "cmd.run",
        "arg": [f"touch {marker}"],
        "kwarg": {},
        "user": "root",
        "ret": "",
        "timeout": 5,
    }
    out: dict[str, dict[str, object]] = {name: {"cmd": name} for name in commands.COMMANDS}
    out["publish"] = {"cmd": "publish", "load": load}
    out["keys"] = {"cmd": "keys", "op": "accept", "pattern": "*", "include": ["pending"]}
    return out


@pytest.mark.parametrize("wrapping", ["bare", "as-kind", "in-auth", "in-req-clear"])
def test_local_commands_sent_to_the_request_port_do_nothing(
    cluster: Cluster, peers: list[RawPeer], wrapping: str
) -> None:
    start_web1(cluster)
    squatter = raw_peer(peers, cluster, "squatter")
    assert squatter.auth()["status"] == "pending"
    marker = cluster.root / "dispatch-marker"
    peer = raw_peer(peers, cluster, "outsider")
    for name, request in local_requests(str(marker)).items():
        if wrapping == "bare":
            frame = wire.pack(request)
        elif wrapping == "as-kind":
            frame = wire.pack([name, wire.PROTOCOL_VERSION, request])
        elif wrapping == "in-auth":
            frame = wire.frame("auth", request)
        else:  # a request frame for an accepted id whose payload is not a Box
            frame = req_frame("web1", request_plain(name, 1, random_bytes(16), 1, request))
        peer.send(frame)
    peer.assert_dropped()
    wait_warning(cluster, "master", "dropped request")
    # Nothing ran, no key moved, no job was recorded.
    assert "squatter" in cluster.keys()["minions_pre"]
    assert_still_serving(cluster)
    assert not marker.exists()
    client = cluster.client()
    try:
        jobs = client.command("jobs", limit=100)
    finally:
        client.close()
    assert "cmd.run" not in str(jobs), jobs


def test_the_request_port_answers_nothing_but_auth(cluster: Cluster, peers: list[RawPeer]) -> None:
    """A well-formed auth for an unknown id learns only "pending" and the master's public keys."""
    start_web1(cluster)
    peer = raw_peer(peers, cluster, "newcomer")
    body = peer.auth()
    assert body["status"] == "pending" and body["sealed"] is None, body
    # No challenge either: only an accepted key is invited to prove itself.
    assert body["challenge"] is None, body
    assert set(body) == set(wire.AUTH_REPLY_SHAPE)
    peer.send(auth_frame("newcomer", peer.identity.box_public, random_bytes(24)))
    kind, again = peer.next_frame()
    assert kind == "authrep" and again["sealed"] is None
    assert_still_serving(cluster)


def test_local_command_socket_is_closed_to_other_users(cluster: Cluster) -> None:
    """The IPC sockets live in a 0700 ``sock_dir``; another account cannot even connect."""
    start_web1(cluster)
    sock_dir = cluster.sock_dir
    assert stat.S_IMODE(os.stat(sock_dir).st_mode) == 0o700
    for name in (REQ_NAME, PUB_NAME):
        assert stat.S_IMODE(os.stat(os.path.join(sock_dir, name)).st_mode) == 0o600
    if os.geteuid() != 0:
        pytest.skip("needs root to try the socket as another user")
    # As nobody: asking the master for its minions must fail at connect.
    probe = (
        "import sys, zmq\n"
        "ctx = zmq.Context(); s = ctx.socket(zmq.DEALER); s.setsockopt(zmq.LINGER, 0)\n"
        f"s.connect('ipc://{sock_dir}/{REQ_NAME}')\n"
        "s.send(b'\\x81\\xa3cmd\\xa4ping')\n"
        "print('answered' if s.poll(2000) else 'silent')\n"
    )
    env = {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    res = subprocess.run(
        [*nobody, sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert res.stdout.strip() == "silent", res
    assert_still_serving(cluster)
