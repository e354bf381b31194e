"""Keys at rest: a daemon whose private keys another local user could read refuses to start.

Like ssh with ``~/.ssh``, ``ff-master`` and ``ff-minion`` stop at once,
with one line naming the file or folder, its mode and the ``chmod`` that
fixes it, when ``pki_dir`` or a private key is open to group or others.
Before, an existing ``pki_dir`` of 0755 was silently narrowed by the
master (its keys may have been read already) and kept as it was by the
minion, and a private key was refused with a message that named no fix.
The class of Salt's CVE-2020-17490 (its tls module created private keys
that every local user could read).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from fluxforge.testing import Cluster


def _exit_of(proc: subprocess.Popen[bytes]) -> int:
    """The exit code of a daemon expected to stop by itself at once."""
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError("the daemon kept running") from None


def _master_exit(cluster: Cluster) -> int:
    code = _exit_of(cluster.start_master(wait=False))
    cluster.master = None  # it is gone: nothing for the teardown to stop
    return code


def _minion_exit(cluster: Cluster, minion_id: str) -> int:
    code = _exit_of(cluster.start_minion(minion_id))
    cluster.minions.pop(minion_id)
    return code


def _one_error(text: str) -> str:
    errors = [ln for ln in text.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1, text
    assert "Traceback" not in text, text
    return errors[0]


def _minion_pki(cluster: Cluster, minion_id: str) -> Path:
    return cluster.minion_root(minion_id) / "etc/fluxforge/pki/minion"


def test_master_refuses_a_pki_dir_others_can_read(cluster: Cluster) -> None:
    pki = cluster.pki_dir
    pki.mkdir(parents=True)
    os.chmod(pki, 0o755)
    code = _master_exit(cluster)
    line = _one_error(cluster.log("master"))
    assert code == 2, cluster.log("master")
    assert f"pki_dir {pki} is mode 0755" in line, line
    assert f"run `chmod 700 {pki}`" in line, line
    assert os.stat(pki).st_mode & 0o777 == 0o755  # left for the operator, not hidden
    assert not (pki / "master.key").exists()


@pytest.mark.parametrize("mode", [0o644, 0o620], ids=["0644", "0620"])
def test_master_refuses_a_private_key_others_can_read_or_write(cluster: Cluster, mode: int) -> None:
    cluster.start_master()
    assert cluster.stop_master() == 0
    key = cluster.pki_dir / "master_sign.key"
    os.chmod(key, mode)
    code = _master_exit(cluster)
    line = _one_error(cluster.log("master"))
    assert code == 2, cluster.log("master")
    assert f"private key {key} is mode {mode:04o}" in line, line
    assert f"run `chmod 600 {key}`" in line, line


def test_minion_refuses_a_pki_dir_others_can_read(cluster: Cluster) -> None:
    cluster.start_master()
    pki = _minion_pki(cluster, "web1")
    pki.mkdir(parents=True)
    os.chmod(pki, 0o755)
    code = _minion_exit(cluster, "web1")
    line = _one_error(cluster.log("web1"))
    assert code == 2, cluster.log("web1")
    assert f"pki_dir {pki} is mode 0755" in line, line
    assert f"run `chmod 700 {pki}`" in line, line
    assert not (pki / "minion.key").exists()
    assert cluster.keys()["minions_pre"] == []


def test_minion_refuses_a_private_key_others_can_read(cluster: Cluster) -> None:
    cluster.start_master()
    cluster.start_minion("web1")
    cluster.wait_pending("web1")
    assert cluster.stop_minion("web1") == 0
    key = _minion_pki(cluster, "web1") / "minion.key"
    os.chmod(key, 0o640)
    code = _minion_exit(cluster, "web1")
    line = _one_error(cluster.log("web1"))
    assert code == 2, cluster.log("web1")
    assert f"private key {key} is mode 0640" in line, line
    assert f"run `chmod 600 {key}`" in line, line
