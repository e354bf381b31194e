"""The audit log: who ran what, and who changed which keys, readable by its owner only.

Without one, a job left no record of its user, target or arguments past
the job cache (which keeps pillar-free returns for ``keep_jobs`` hours and
every argument in clear), and key operations left none at all. Now each
published job and each key operation is one JSON line in ``audit_log``
(mode 0600), with the values of secret-looking keyword arguments masked.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fluxforge.protocol.keyfiles import fingerprint, read_key_file
from fluxforge.testing import Cluster, wait_until

SECRET = "hunter2-audit-5e1f"


def _records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_jobs_and_key_operations_are_recorded_with_secrets_masked(cluster: Cluster) -> None:
    audit = Path(cluster.master_opts["root_dir"]) / "var/log/fluxforge/audit.log"
    cluster.start_master()
    cluster.start_minion("web1")
    cluster.accept_and_wait("web1")
    web1_pub = cluster.pki_dir / "minions" / "web1"
    finger = fingerprint(read_key_file(str(web1_pub), private=False))
    before = len(_records(audit))  # accept_and_wait ran test.ping

    res = cluster.ff(
        "web1", "test.arg", "echo hello", f"password={SECRET}", f"api_token={SECRET}", "n=1"
    )
    assert res.returncode == 0, res
    res = cluster.ff("-L", "web1,db9", "cmd.run", "uptime")
    # db9 has no key: it is not expected, and ff names it (exit 4).
    assert res.returncode == 4 and "No accepted minion with id: db9" in res.stderr, res

    def jobs() -> list[dict[str, Any]] | None:
        found = [r for r in _records(audit)[before:] if r["event"] == "job"]
        return found if len(found) == 2 else None

    first, second = wait_until(jobs, 10, what="two job records in the audit log")
    assert os.stat(audit).st_mode & 0o777 == 0o600
    assert SECRET not in audit.read_text()
    assert first["fun"] == "test.arg" and first["tgt"] == "web1"
    assert first["tgt_type"] == "glob" and first["user"]
    assert first["arg"] == ["echo hello"]
    assert first["kwarg"] == {"password": "********", "api_token": "********", "n": "1"}
    assert first["minions"] == 1 and len(first["jid"]) == 20
    assert second["fun"] == "cmd.run" and second["arg"] == ["uptime"]
    assert second["tgt"] == ["web1", "db9"] and second["tgt_type"] == "list"
    assert second["minions"] == 1
    job = cluster.job(first["jid"])
    assert job is not None and "web1" in job["returns"]

    accepted = [r for r in _records(audit) if r["event"] == "key"]
    assert accepted == [
        {
            "time": accepted[0]["time"],
            "event": "key",
            "op": "accept",
            "pattern": "web1",
            "keys": {"web1": finger},
            "rotated": False,
        }
    ]
    assert cluster.ff_key("-d", "web1", "-y").returncode == 0
    deleted = [r for r in _records(audit) if r["event"] == "key"][-1]
    assert deleted["op"] == "delete" and deleted["keys"] == {"web1": finger}
    assert deleted["rotated"] is True
