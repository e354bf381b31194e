"""A man in the middle at auth: forged and replayed auth replies are refused, and the minion lives.

Mirrors Salt's CVE-2022-22935 (auth replies were not signed, so a man in the
middle could impersonate the master and make a minion's process stop). Here
the grant in an auth reply is a Box from the master's key, which the minion
pins on first contact (or checks against ``master_finger`` before pinning),
and it echoes the nonce of the minion's own request. A proxy on the request
channel forges replies with its own keys and replays an old genuine one;
the minion refuses each, keeps running and retrying, and is served again as
soon as the real master is back in reach.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from fluxforge.protocol import wire
from fluxforge.protocol.crypto import BoxCache, MasterIdentity
from fluxforge.protocol.keyfiles import fingerprint, read_key_file
from fluxforge.testing import Cluster
from fluxforge.testing.attack import ReqProxy


@pytest.fixture(scope="module")
def attacker(tmp_path_factory: pytest.TempPathFactory) -> MasterIdentity:
    """The keys of a would-be master."""
    return MasterIdentity.load(str(tmp_path_factory.mktemp("attacker")))


@pytest.fixture
def proxy(cluster: Cluster) -> Iterator[ReqProxy]:
    cluster.start_master()
    mitm = ReqProxy(f"tcp://127.0.0.1:{cluster.ret_port}")
    yield mitm
    mitm.close()


def forged_reply(attacker: MasterIdentity, request: bytes, reply: bytes) -> bytes:
    """The master's reply with the attacker's keys, and a grant sealed by them."""
    kind, parts = wire.parse_frame(reply, wire.DEFAULT_MAX_FRAME, {"authrep": 1, "rep": 1})
    if kind != "authrep":
        return reply
    _, (auth,) = wire.parse_frame(request, wire.DEFAULT_MAX_FRAME, {"auth": 1})
    body: dict[str, Any] = parts[0]
    grant = {
        "nonce": auth["nonce"],
        "sign_pub": attacker.sign_public,
        "session": os.urandom(32),
        "gen": 1,
        "token": os.urandom(16),
        "time": 0.0,
    }
    sealed = BoxCache(attacker.box_secret).encrypt(auth["pub"], wire.pack(grant))
    body.update(
        status="accepted",
        master_pub=attacker.box_public,
        master_sign_pub=attacker.sign_public,
        sealed=sealed,
    )
    return wire.frame("authrep", body)


def forge_auth_replies(proxy: ReqProxy, attacker: MasterIdentity) -> None:
    """From now on, answer every auth with the attacker's keys."""
    last: list[bytes] = []

    def on_request(data: bytes) -> bytes:
        last[:] = [data]
        return data

    proxy.on_request = on_request
    proxy.on_reply = lambda data: forged_reply(attacker, last[0], data) if last else data


def restore(proxy: ReqProxy) -> None:
    proxy.on_request = lambda data: data
    proxy.on_reply = lambda data: data


def answers(cluster: Cluster, minion_id: str) -> bool:
    res = cluster.ff(minion_id, "test.ping", "--out", "json", "-t", "5")
    return res.returncode == 0 and res.json() == {minion_id: True}


def test_a_forged_master_is_refused_once_the_key_is_pinned(
    cluster: Cluster, proxy: ReqProxy, attacker: MasterIdentity
) -> None:
    cluster.start_minion("web1", ret_port=proxy.port)
    cluster.accept_and_wait("web1")
    cluster.stop_minion("web1")
    forge_auth_replies(proxy, attacker)
    log = cluster.watch("web1")
    minion = cluster.start_minion("web1", ret_port=proxy.port)
    log.wait_for(r"presented a key .* other than the pinned one", timeout=15)
    assert minion.poll() is None, "the forged master stopped the minion"
    assert not answers(cluster, "web1")
    restore(proxy)
    cluster.wait_answering("web1")
    assert minion.poll() is None


def test_a_replayed_genuine_auth_reply_is_refused(cluster: Cluster, proxy: ReqProxy) -> None:
    cluster.start_minion("web1", ret_port=proxy.port)
    cluster.accept_and_wait("web1")
    genuine = [r for _, r in proxy.replies_to() if wire.unpack(r)[0] == "authrep"]
    assert genuine, "no auth reply passed the proxy"
    old = genuine[-1]
    cluster.stop_minion("web1")
    proxy.on_reply = lambda data: old if wire.unpack(data)[0] == "authrep" else data
    log = cluster.watch("web1")
    minion = cluster.start_minion("web1", ret_port=proxy.port)
    log.wait_for(r"auth reply to no auth request of ours|not bound to our auth request", timeout=15)
    assert minion.poll() is None
    restore(proxy)
    cluster.wait_answering("web1")


def test_master_finger_is_checked_before_anything_is_pinned(
    cluster: Cluster, proxy: ReqProxy, attacker: MasterIdentity
) -> None:
    real = fingerprint(read_key_file(str(cluster.pki_dir / "master.pub"), private=False))
    forge_auth_replies(proxy, attacker)
    log = cluster.watch("web1")
    minion = cluster.start_minion("web1", ret_port=proxy.port, master_finger=real)
    cluster.wait_pending("web1")
    assert cluster.ff_key("-a", "web1", "-y").returncode == 0
    log.wait_for(r"is not master_finger", timeout=15)
    pinned = cluster.minion_root("web1") / "etc/fluxforge/pki/minion/minion_master.pub"
    assert not pinned.exists()
    assert minion.poll() is None
    restore(proxy)
    cluster.wait_answering("web1")
    assert pinned.exists()
