"""The audit log's records and its masking of secret-looking arguments."""

from __future__ import annotations

import json
import os
from pathlib import Path

from fluxforge.master.audit import MASK, AuditLog, mask


def test_mask_hides_secret_looking_values_at_any_depth() -> None:
    given = {
        "password": "p",
        "db": {"API_TOKEN": "t", "host": "h", "items": [{"ssh_key": "k"}]},
        "pillar": {"anything": "x"},
        "name": "web",
    }
    assert mask(given) == {
        "password": MASK,
        "db": {"API_TOKEN": MASK, "host": "h", "items": [{"ssh_key": MASK}]},
        "pillar": MASK,
        "name": "web",
    }
    assert mask(["uptime", "passwd=x", "a=b", "x = passwd=y"]) == [
        "uptime",
        f"passwd={MASK}",
        "a=b",
        "x = passwd=y",
    ]
    assert mask(b"raw") == "<3 bytes>"


def test_records_are_json_lines_in_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "log" / "audit.log"
    audit = AuditLog(str(path))
    load = {
        "jid": "20260101000000000000",
        "tgt": "web*",
        "tgt_type": "glob",
        "fun": "cmd.run",
        "arg": ["echo hi"],
        "kwarg": {"password": "s3"},
        "user": "alice",
    }
    audit.job(load, ["web1", "web2"], [])
    audit.keys("accept", "web1", {"web1": "aa:bb"}, False)
    audit.close()
    assert os.stat(path).st_mode & 0o777 == 0o600
    job, key = (json.loads(line) for line in path.read_text().splitlines())
    assert job["user"] == "alice" and job["kwarg"] == {"password": MASK}
    assert job["minions"] == 2 and job["arg"] == ["echo hi"]
    assert key["keys"] == {"web1": "aa:bb"} and key["op"] == "accept"
    assert "s3" not in path.read_text()


def test_no_path_records_nothing() -> None:
    audit = AuditLog("")
    audit.keys("delete", "*", {}, True)
    audit.close()
