"""Salt's command-line habits through the real CLI, on a real master and minions."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fluxforge.protocol.keyfiles import decode_key, fingerprint
from fluxforge.testing import Cluster


def test_ff_salt_options(cluster: Cluster, tmp_path: Path) -> None:
    cluster.start_master()
    cluster.start_minions("web1", "web2", "db1")
    cluster.accept_and_wait()

    # An unknown option is a usage error, never the function's argument.
    res = cluster.ff("web1", "test.echo", "--statik")
    assert res.returncode == 2 and "no such option: --statik" in res.stderr, res
    res = cluster.ff("web1", "test.echo", "-n", "--out", "json")
    assert res.returncode == 2 and "goes after '--': ff web1 test.echo -- -n" in res.stderr, res
    res = cluster.ff("web1", "test.echo", "--out", "json", "--", "-n")
    assert res.returncode == 0 and res.json() == {"web1": "-n"}, res
    res = cluster.ff("--return", "syslog", "web1", "test.ping")
    assert res.returncode == 2 and "returners are not available yet" in res.stderr, res

    # --static: every return at once (the text is the same as without it).
    res = cluster.ff("web*", "test.echo", "hi", "--static", "--no-color")
    assert res.returncode == 0, res
    assert sorted(re.findall(r"^(web\d):\n    hi$", res.stdout, re.M)) == ["web1", "web2"], res

    # --out-file / --out-file-append: the returns go to the file, not stdout.
    out = tmp_path / "out.json"
    res = cluster.ff("db1", "test.echo", "one", "--out", "json", "--out-file", str(out))
    assert res.returncode == 0 and res.stdout == "", res
    assert json.loads(out.read_text()) == {"db1": "one"}
    res = cluster.ff("db1", "test.echo", "two", "--out-file", str(out), "--out-file-append")
    assert res.returncode == 0 and res.stdout == "", res
    assert out.read_text().endswith("db1:\n    two\n") and '"db1": "one"' in out.read_text()

    # --force-color colours even into a file; --no-color never does.
    coloured = tmp_path / "c.txt"
    cluster.ff("db1", "test.echo", "x", "--out-file", str(coloured), "--force-color")
    assert "\033[" in coloured.read_text()
    res = cluster.ff("db1", "test.echo", "x", "--no-color")
    assert "\033[" not in res.stdout

    # --show-jid: the jid on stderr, and it names the job the master recorded.
    res = cluster.ff("db1", "test.echo", "jid", "--show-jid", "--out", "json")
    found = re.search(r"^jid: (\d{20})$", res.stderr, re.M)
    assert res.returncode == 0 and found, res
    job = cluster.job(found.group(1))
    assert job is not None and job["load"]["arg"] == ["jid"]

    # --subset N: N of the targeted minions that have the function.
    res = cluster.ff("*", "test.echo", "s", "--subset", "2", "--out", "json")
    assert res.returncode == 0, res
    picked = res.json()
    assert len(picked) == 2 and set(picked) <= {"web1", "web2", "db1"}, res
    assert set(picked.values()) == {"s"}
    res = cluster.ff("*", "nosuch.function", "--subset", "1")
    assert res.returncode == 3 and "has nosuch.function" in res.stderr, res

    # -d/--doc: sys.doc on '*' (or the target), for one function or module.
    res = cluster.ff("web1", "-d", "test.echo", "--out", "json")
    assert res.returncode == 0, res
    assert list(res.json()["web1"]) == ["test.echo"]
    res = cluster.ff("*", "-d", "test", "--out", "json")
    assert set(res.json()) == {"web1", "web2", "db1"}, res
    assert "test.ping" in res.json()["db1"] and "cmd.run" not in res.json()["db1"]
    res = cluster.ff("-d", "--out", "json")  # as Salt: the target is '*', everything documented
    assert set(res.json()) == {"web1", "web2", "db1"} and "cmd.run" in res.json()["web2"], res

    # --hide-timeout: no line naming the silent minion; the exit code still says so.
    cluster.stop_minion("db1")
    res = cluster.ff("*", "test.ping", "-t", "2", "--hide-timeout", "--out", "json")
    assert res.returncode == 4, res
    assert "No return from" not in res.stderr and res.json() == {"web1": True, "web2": True}
    res = cluster.ff("*", "test.ping", "-t", "2", "--out", "json")
    assert res.returncode == 4 and "No return from 1 minion(s)" in res.stderr, res


def test_ff_key_list_print_and_the_masters_fingerprint(cluster: Cluster) -> None:
    cluster.start_master()
    cluster.start_minions("k1", "k2", "k3")
    cluster.wait_pending("k1", "k2", "k3")
    assert cluster.ff_key("-a", "k1", "-y").returncode == 0
    assert cluster.ff_key("-r", "k3", "-y").returncode == 0

    for word in ("pre", "un", "unaccepted"):
        res = cluster.ff_key("-l", word)
        assert res.returncode == 0 and res.stdout == "Unaccepted Keys:\nk2\n", res
    for word, text in (
        ("acc", "Accepted Keys:\nk1\n"),
        ("accepted", "Accepted Keys:\nk1\n"),
        ("rej", "Rejected Keys:\nk3\n"),
        ("rejected", "Rejected Keys:\nk3\n"),
        ("den", "Denied Keys:\n"),
        ("denied", "Denied Keys:\n"),
    ):
        res = cluster.ff_key("--list", word)
        assert res.returncode == 0 and res.stdout == text, (word, res)
    assert cluster.ff_key("-l", "all").stdout == cluster.ff_key("-L").stdout
    assert cluster.ff_key("-l", "acc", "--out", "json").json() == {"minions": ["k1"]}
    res = cluster.ff_key("-l", "mine")
    assert res.returncode == 2 and "-l takes acc, pre (or un), rej, den or all" in res.stderr
    res = cluster.ff_key("-l", "acc", "-L")
    assert res.returncode == 2 and "one action at a time" in res.stderr

    # -p/-P: the public keys in their text form: k1's is the key k1 itself holds.
    res = cluster.ff_key("-p", "k1", "--out", "json")
    k1 = res.json()["accepted"]["k1"]
    cluster.wait_answering("k1")
    own = cluster.ff("k1", "key.finger", "--out", "json").json()["k1"]
    assert fingerprint(decode_key(k1, "ff-key -p")) == own
    res = cluster.ff_key("-p", "k1")
    assert res.stdout == f"Accepted Keys:\nk1:  {k1}\n", res
    res = cluster.ff_key("-P", "--out", "json")
    assert set(res.json()["pending"]) == {"k2"} and set(res.json()["rejected"]) == {"k3"}

    # -f master / -F: the master's own fingerprint, the one its minions pinned.
    pinned = cluster.ff("k1", "key.finger_master", "--out", "json").json()["k1"]
    res = cluster.ff_key("-f", "master")
    assert res.returncode == 0 and res.stdout == f"Local Keys:\nmaster.pub:  {pinned}\n", res
    res = cluster.ff_key("-F")
    assert res.stdout.startswith(f"Local Keys:\nmaster.pub:  {pinned}\nAccepted Keys:\nk1:  ")
    assert cluster.ff_key("-F", "--out", "json").json()["local"] == {"master.pub": pinned}
    assert "Local Keys:" not in cluster.ff_key("-f", "k*").stdout


def test_salt_module_names_through_the_cli(cluster: Cluster) -> None:
    cluster.write_tree(
        cluster.file_root,
        {"scripts/hello.sh": '#!/bin/sh\necho "hello $1 from $0" | sed "s|from /.*/|from |"\n'},
    )
    cluster.start_master()
    cluster.start_minions("web1")
    cluster.accept_and_wait()

    # saltutil.* runs ffutil.* on the minion, with the master's files.
    res = cluster.ff("web1", "saltutil.sync_all", "--out", "json")
    assert res.returncode == 0, res
    ours = cluster.ff("web1", "ffutil.sync_all", "--out", "json")
    assert res.json() == ours.json() and set(res.json()["web1"]) >= {"modules", "grains"}
    res = cluster.ff("web1", "saltutil.refresh_pillar", "--out", "json")
    assert res.returncode == 0 and res.json() == {"web1": True}, res

    res = cluster.ff("web1", "cmd.shell", "echo a b | wc -w", "--out", "json")
    assert res.returncode == 0 and res.json()["web1"].strip() == "2", res
    res = cluster.ff("web1", "cmd.script", "salt://scripts/hello.sh", "args=world", "--out", "json")
    assert res.returncode == 0, res
    ret = res.json()["web1"]
    assert (
        ret["stdout"] == "hello world from hello.sh" and ret["retcode"] == 0 and ret["stderr"] == ""
    )
    res = cluster.ff("web1", "cmd.script", "salt://scripts/nope.sh", "--out", "json")
    assert res.returncode == 1 and res.json()["web1"]["cache_error"] is True, res
    res = cluster.ff("web1", "cmd.exec_code", "python3", "print(6 * 7)", "--out", "json")
    assert res.returncode == 0 and res.json() == {"web1": "42"}, res

    res = cluster.ff("web1", "sys.list_state_modules", "--out", "json")
    assert {"file", "pkg", "service"} <= set(res.json()["web1"]), res
    res = cluster.ff("web1", "sys.list_state_functions", "pkg", "--out", "json")
    assert "pkg.installed" in res.json()["web1"], res
    res = cluster.ff("web1", "sys.state_doc", "file.managed", "--out", "json")
    assert list(res.json()["web1"]) == ["file", "file.managed"], res
