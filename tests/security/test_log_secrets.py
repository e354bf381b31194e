"""Secrets in logs: command lines, job arguments and pillar values never reach a log below debug.

At debug the logs may hold command lines (a minion logs the argv it runs),
so log files are private: 0600, created so and narrowed if they were
wider. Before, they were created 0644, readable by every local user. At
info, neither the master's nor the minion's log holds a ``cmd.run``
argument, a ``password=`` argument, or a pillar value used by a state,
even when the state fails. The class of Salt's CVE-2021-25284 (its cmd
module logged credentials at the info and error levels).
"""

from __future__ import annotations

import os
from pathlib import Path

from fluxforge.testing import Cluster

PILLAR_SECRET = "pillar-s3cret-7f3a"
ARG_SECRET = "arg-s3cret-91b2"
KWARG_SECRET = "kwarg-s3cret-c4d0"

TREE = {
    "top.sls": "base:\n  '*':\n    - secret\n",
    "secret.sls": """
        use_secret:
          cmd.run:
            - name: echo {{ pillar['db_password'] }} > {{ grains['out'] }}/s; exit 3
        """,
}
PILLAR = {
    "top.sls": "base:\n  '*':\n    - db\n",
    "db.sls": f"db_password: {PILLAR_SECRET}\n",
}


def _log_files(cluster: Cluster) -> dict[str, Path]:
    master_root = Path(cluster.master_opts["root_dir"])
    return {
        "master": master_root / "var/log/fluxforge/master.log",
        "web1": cluster.minion_root("web1") / "var/log/fluxforge/minion.log",
    }


def test_logs_at_info_hold_no_arguments_or_pillar_and_are_private(cluster: Cluster) -> None:
    out = cluster.root / "out"
    out.mkdir()
    cluster.write_tree(cluster.file_root, TREE)
    cluster.write_tree(cluster.pillar_root, PILLAR)
    files = _log_files(cluster)
    # A log file left wider by an older version is narrowed at start.
    files["master"].parent.mkdir(parents=True)
    files["master"].touch(mode=0o644)
    os.chmod(files["master"], 0o644)
    cluster.write_master_conf(log_level="info")
    cluster.start_master()
    cluster.start_minion("web1", log_level="info", grains={"out": str(out)})
    cluster.accept_and_wait("web1")

    res = cluster.ff("web1", "cmd.run", f"echo {ARG_SECRET}", "--out", "json")
    assert res.returncode == 0 and res.json() == {"web1": ARG_SECRET}, res
    res = cluster.ff("web1", "test.arg", f"password={KWARG_SECRET}", "--out", "json")
    assert res.returncode == 0, res
    res = cluster.ff("web1", "state.apply", "--out", "json")
    assert res.returncode == 1, res  # the state failed, as meant
    assert (out / "s").read_text().strip() == PILLAR_SECRET

    for name, path in files.items():
        assert os.stat(path).st_mode & 0o777 == 0o600, f"{path} is not private"
        texts = {str(path): path.read_text(), f"{name} output": cluster.log(name)}
        for where, text in texts.items():
            assert "[INFO" in text, where  # the log is really at info, and written
            for secret in (PILLAR_SECRET, ARG_SECRET, KWARG_SECRET):
                assert secret not in text, f"{secret} is in {where}:\n{text}"
