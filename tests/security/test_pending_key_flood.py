"""Pending-key flood: an outsider offers thousands of keys under made-up ids.

Anyone who reaches the request port may offer a key, and each new one used
to become a pending key file and a log line: 20,000 made-up ids took 6.7 s
and left 20,000 files and 20,000 lines. Now one address adds at most
``new_keys_per_source`` new keys a minute, at most ``max_pending_keys``
are kept, a key beyond either is answered ``limited`` and not recorded, and
the log says so a few times, not once per id.

What the operator does then, and what this test does: a real new minion
says in its log that the master did not record its key; the operator
rejects every pending key (``ff-key -R``, as none was expected), the real
minion's next attempt is recorded, and it is accepted by the fingerprint
read on its host.
"""

from __future__ import annotations

import os
import time
from typing import Any

import zmq

from fluxforge.protocol import wire
from fluxforge.protocol.crypto import MinionIdentity, random_bytes
from fluxforge.testing import Cluster
from fluxforge.testing.attack import assert_still_serving, auth_frame

# The second address fills what the first left: the cap is under two bursts.
CAP, PER_SOURCE, FLOOD = 150, 100, 2000


def _flood(cluster: Cluster, source: str, prefix: str) -> dict[str, int]:
    """Offer FLOOD new keys from ``source``; the answers by status, and ``seconds`` it took."""
    ctx: zmq.Context[Any] = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    public = MinionIdentity.generate().box_public  # one key will do: the ids are new
    statuses: dict[str, int] = {}
    started = time.monotonic()
    try:
        sock.connect(f"tcp://{source}:0;127.0.0.1:{cluster.ret_port}")
        for i in range(FLOOD):
            sock.send(auth_frame(f"{prefix}{i}", public, random_bytes(24)))
        for _ in range(FLOOD):
            assert sock.poll(30_000), f"answers stopped after {sum(statuses.values())}"
            _kind, parts = wire.parse_frame(sock.recv(), wire.DEFAULT_MAX_FRAME, {"authrep": 1})
            statuses[parts[0]["status"]] = statuses.get(parts[0]["status"], 0) + 1
    finally:
        sock.close(0)
        ctx.term()
    statuses["seconds"] = int(time.monotonic() - started) + 1
    return statuses


def _minion_finger(cluster: Cluster, minion_id: str) -> str:
    conf = cluster.minion_conf(minion_id)
    res = cluster.run("ff-call", "-c", str(conf), "--local", "key.finger", "--out", "json")
    assert res.returncode == 0, res
    return str(res.json()["local"])


def test_made_up_ids_are_capped_and_limited_per_source(cluster: Cluster) -> None:
    cluster.write_master_conf(max_pending_keys=CAP, new_keys_per_source=PER_SOURCE)
    cluster.start_master()
    cluster.start_minion("web1")
    cluster.accept_and_wait("web1")

    first = _flood(cluster, "127.0.0.1", "flood-a-")
    # One address: its burst (less web1's key, from the same address), and
    # what the bucket refilled while it sent.
    refilled = first["seconds"] * PER_SOURCE // 60 + 1
    assert PER_SOURCE - 1 <= first.get("pending", 0) <= PER_SOURCE + refilled, first
    assert first.get("limited", 0) == FLOOD - first["pending"], first
    second = _flood(cluster, "127.0.0.2", "flood-b-")
    # Another address adds its own, up to the cap over all pending keys.
    assert second.get("pending", 0) == CAP - first["pending"], second

    pending = cluster.keys()["minions_pre"]
    assert len(pending) == CAP
    assert len(os.listdir(cluster.pki_dir / "minions_pre")) == CAP
    lines = [ln for ln in cluster.log("master").splitlines() if "flood-" in ln]
    assert len(lines) <= 20, "\n".join(lines[:40])
    assert any(f"pending keys are at max_pending_keys ({CAP})" in ln for ln in lines), lines
    assert any("127.0.0.1 offers new keys faster than new_keys_per_source" in ln for ln in lines)

    # A real new minion now: not recorded, and its log says why.
    watch = cluster.watch("new1")
    cluster.start_minion("new1")
    watch.wait_for(r"master did not record this minion.s key: it holds too many pending keys", 15)
    assert "new1" not in cluster.keys()["minions_pre"]

    res = cluster.ff_key("-R", "-y")
    assert res.returncode == 0, res
    cluster.wait_pending("new1")
    assert cluster.keys()["minions_pre"] == ["new1"]
    res = cluster.ff_key("-a", "new1", "--finger", _minion_finger(cluster, "new1"), "-y")
    assert res.returncode == 0, res
    cluster.wait_answering("new1")
    assert_still_serving(cluster)
