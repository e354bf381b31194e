"""Key squatting: an outsider offers its own key under the id of a minion not yet accepted.

Anyone who reaches the request port can do it before the real minion first
starts, and ``ff-key -a ID`` used to accept whatever key was pending,
showing no fingerprint, so the outsider became that minion (its jobs, its
pillar). Now ``ff-key -a`` shows the fingerprint of each key in its prompt
and its output, and ``--finger FP`` accepts only a key with that
fingerprint, checked by the master in the same step as the accept. The
operator reads the real one on the minion host with ``ff-call --local
key.finger``.
"""

from __future__ import annotations

from fluxforge.protocol.keyfiles import fingerprint
from fluxforge.testing import Cluster, wait_until
from fluxforge.testing.attack import RawPeer, raw_peer


def _minion_finger(cluster: Cluster, minion_id: str) -> str:
    """What the operator reads on the minion host."""
    conf = cluster.minion_conf(minion_id)
    res = cluster.run("ff-call", "-c", str(conf), "--local", "key.finger", "--out", "json")
    assert res.returncode == 0, res
    return str(res.json()["local"])


def test_ff_key_shows_and_checks_the_fingerprint_it_accepts(
    cluster: Cluster, peers: list[RawPeer]
) -> None:
    cluster.start_master()
    squatter = raw_peer(peers, cluster, "web1")
    assert squatter.auth()["status"] == "pending"
    fake = fingerprint(squatter.identity.box_public)
    real = _minion_finger(cluster, "web1")  # made before the minion first starts
    assert real != fake
    cluster.start_minion("web1")
    wait_until(
        lambda: "web1" in cluster.keys()["minions_denied"], 15, what="web1's key to be denied"
    )

    # The prompt names the key about to be accepted by its fingerprint.
    res = cluster.run("ff-key", "-a", "web1", input="n\n")
    assert res.returncode == 1, res
    assert f"web1:  {fake}" in res.stdout, res
    assert "nothing changed" in res.stderr, res

    # With the real fingerprint required, the squatter's key is refused, in one line.
    res = cluster.ff_key("-a", "web1", "--finger", real, "-y")
    assert res.returncode == 2, res
    assert res.stderr.count("\n") == 1, res
    assert f"the key of web1 has fingerprint {fake}, not {real}" in res.stderr, res
    keys = cluster.keys()
    assert keys["minions"] == [] and keys["minions_pre"] == ["web1"], keys
    assert squatter.auth()["status"] == "pending"

    # The operator drops both keys; the real minion offers its own again and
    # is accepted by fingerprint, which the output confirms.
    assert cluster.ff_key("-d", "web1", "-y").returncode == 0
    cluster.wait_pending("web1")
    res = cluster.ff_key("-a", "web1", "--finger", real, "-y")
    assert res.returncode == 0, res
    assert f"Key for minion web1 accepted (fingerprint {real})." in res.stdout, res
    cluster.wait_answering("web1")
    assert squatter.auth()["status"] == "denied"


def test_a_glob_accept_checks_the_fingerprints_it_showed(
    cluster: Cluster, peers: list[RawPeer]
) -> None:
    cluster.start_master()
    cluster.start_minion("web1")
    cluster.wait_pending("web1")
    real = _minion_finger(cluster, "web1")
    res = cluster.run("ff-key", "-A", input="y\n")
    assert res.returncode == 0, res
    assert f"web1:  {real}" in res.stdout, res
    assert f"Key for minion web1 accepted (fingerprint {real})." in res.stdout, res
    cluster.wait_answering("web1")
    # --finger takes one id: a glob would leave open which key it vouches for.
    res = cluster.ff_key("-a", "web*", "--finger", real, "-y")
    assert res.returncode == 2, res
    assert "--finger with -a takes one minion id" in res.stderr, res
