"""Replayed and forged replies on the request channel (Salt's CVE-2022-22936: replies replayed).

An attacker on the path between a minion and the master's request port
records the master's replies. A reply was a Box between the two long-term
keys carrying only the minion's per-process request id, so after the
minion restarts (its ids start again at 1) an old reply answers a new
request: here, a ``ret`` is answered with a stale "ok" and the return never
reaches the master. Replies now carry the token and sequence of the request
they answer, and the minion refuses any other, logs it and keeps waiting
for the real answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fluxforge.protocol import wire
from fluxforge.protocol.crypto import BoxCache, random_bytes
from fluxforge.protocol.keyfiles import Secret, read_key_file
from fluxforge.testing import Cluster, wait_until
from fluxforge.testing.attack import ReqProxy

REFUSED = r"\[WARNING\].*dropped a reply to request \d+: it answers another request"


class Keys:
    """web1's view of its channel: the Box between its key and the master's."""

    def __init__(self, cluster: Cluster, name: str) -> None:
        pki = cluster.minion_root(name) / "etc/fluxforge/pki/minion"
        secret = read_key_file(str(pki / "minion.key"), private=True)
        self.boxes = BoxCache(Secret(secret))
        self.master_pub = read_key_file(str(cluster.pki_dir / "master.pub"), private=False)

    def open(self, data: bytes, kinds: dict[str, int]) -> dict[str, Any] | None:
        """The plaintext of a request or reply frame, or None for another kind."""
        obj = wire.unpack(data)
        if not isinstance(obj, list) or obj[0] not in kinds:
            return None
        _, parts = wire.parse_frame(data, wire.DEFAULT_MAX_FRAME, kinds)
        plain: dict[str, Any] = wire.unpack(self.boxes.decrypt(self.master_pub, parts[-1]))
        return plain

    def is_ret(self) -> Callable[[bytes], bool]:
        def pick(data: bytes) -> bool:
            req = self.open(data, {"req": 2})
            return req is not None and req["t"] == "ret"

        return pick


def _start(cluster: Cluster) -> ReqProxy:
    cluster.start_master()
    proxy = ReqProxy(f"tcp://127.0.0.1:{cluster.ret_port}")
    cluster.start_minion("web1", ret_port=proxy.port)
    cluster.accept_and_wait("web1")
    return proxy


def _held_ret(cluster: Cluster, proxy: ReqProxy, keys: Keys) -> tuple[str, bytes, dict[str, Any]]:
    """Start a job on web1 whose return the proxy holds back; (jid, peer, request)."""
    proxy.hold(keys.is_ret())
    res = cluster.ff("web1", "test.ping", "--async")
    assert res.returncode == 0, res
    jid = res.stdout.strip()
    held = wait_until(proxy.held_frames, 15, what="web1's return to reach the proxy")
    peer, data = held[0]
    req = keys.open(data, {"req": 2})
    assert req is not None and req["body"]["jid"] == jid, req
    return jid, peer, req


def test_an_old_reply_replayed_after_a_restart_is_refused(cluster: Cluster) -> None:
    proxy = _start(cluster)
    try:
        for _ in range(3):
            res = cluster.ff("web1", "test.ping", "--out", "json")
            assert res.returncode == 0 and res.json() == {"web1": True}, res
        keys = Keys(cluster, "web1")
        old: dict[int, bytes] = {}
        for _peer, data in proxy.replies_to():
            reply = keys.open(data, {"rep": 1})
            if reply is not None:
                old.setdefault(reply["rid"], data)

        watch = cluster.watch("web1")
        assert cluster.stop_minion("web1") == 0
        cluster.start_minion("web1", ret_port=proxy.port)
        watch.wait_for(r"authenticated with master", timeout=20)
        jid, peer, req = _held_ret(cluster, proxy, keys)
        assert req["rid"] in old, (req["rid"], sorted(old))
        proxy.inject(peer, old[req["rid"]])

        watch.wait_for(REFUSED, timeout=10)
        # The stale "ok" did not stand for the return: it is sent again and arrives.
        job = cluster.wait_returns(jid, 1, timeout=30)
        assert job["returns"]["web1"]["return"] is True, job
        assert "Traceback" not in cluster.log("web1")
    finally:
        proxy.close()


def test_a_reply_with_another_token_or_sequence_is_refused(cluster: Cluster) -> None:
    proxy = _start(cluster)
    try:
        keys = Keys(cluster, "web1")
        master = BoxCache(Secret(read_key_file(str(cluster.pki_dir / "master.key"), private=True)))
        minion_pub = read_key_file(str(cluster.pki_dir / "minions" / "web1"), private=False)
        watch = cluster.watch("web1")
        jid, peer, req = _held_ret(cluster, proxy, keys)
        # Made with the master's own key (as a reply to some other request would be),
        # with the request's id but another request's token or sequence.
        for tok, seq in ((req["tok"], req["seq"] + 1), (random_bytes(16), req["seq"])):
            plain = {"rid": req["rid"], "tok": tok, "seq": seq, "ok": True}
            plain |= {"body": None, "error": None}
            sealed = master.encrypt(minion_pub, wire.pack(plain))
            proxy.inject(peer, wire.frame("rep", sealed))
            match = watch.wait_for(REFUSED, timeout=10)
            assert re.search(rf"request {req['rid']}\b", match.string), match.string
        job = cluster.wait_returns(jid, 1, timeout=30)
        assert job["returns"]["web1"]["return"] is True, job
        assert "Traceback" not in cluster.log("web1")
    finally:
        proxy.close()
