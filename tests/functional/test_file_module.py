"""The ``file`` execution module, called through a real loader and context on real files."""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fluxforge.errors import ExecutionError
from fluxforge.files.client import local_client
from fluxforge.plugins.context import JobContext
from fluxforge.testing import job_context


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[JobContext]:
    root = tmp_path / "srv"
    root.mkdir()
    (root / "served.txt").write_text("a\nb\n")
    files = local_client(str(tmp_path / "cache"), {"base": [str(root)]})
    with job_context(tmp_path / "minion", grains={}, files=files) as job:
        yield job


def call(job: JobContext, fun: str, /, *args: object, **kwargs: object) -> object:
    return job.funcs.call(fun, list(args), kwargs)


def test_exists_family(ctx: JobContext, tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_text("x")
    assert call(ctx, "file.exists", str(f)) is True
    assert call(ctx, "file.exists", str(tmp_path / "nope")) is False
    assert call(ctx, "file.file_exists", str(f)) is True
    assert call(ctx, "file.file_exists", str(tmp_path)) is False
    assert call(ctx, "file.directory_exists", str(tmp_path)) is True
    assert call(ctx, "file.directory_exists", str(f)) is False
    with pytest.raises(ExecutionError, match=r"^file.exists: rel/x: path must be absolute$"):
        call(ctx, "file.exists", "rel/x")


def test_read_write_append(ctx: JobContext, tmp_path: Path) -> None:
    p = str(tmp_path / "w.txt")
    assert call(ctx, "file.write", p, "one", "007") == f'Wrote 2 lines to "{p}"'
    assert call(ctx, "file.read", p) == "one\n007\n"  # str args keep their text
    Path(p).write_text("no newline")
    assert call(ctx, "file.append", p, "two") == f'Wrote 1 lines to "{p}"'
    assert call(ctx, "file.read", p) == "no newline\ntwo\n"
    assert call(ctx, "file.read", p, binary=True) == b"no newline\ntwo\n"
    fresh = str(tmp_path / "fresh")
    call(ctx, "file.append", fresh, "x")
    assert Path(fresh).read_text() == "x\n"
    with pytest.raises(ExecutionError, match=r"^file.read: /nonexistent/x: no such file$"):
        call(ctx, "file.read", "/nonexistent/x")
    (tmp_path / "bin").write_bytes(b"\xff\xfe")
    with pytest.raises(ExecutionError, match=r"not UTF-8"):
        call(ctx, "file.read", str(tmp_path / "bin"))
    with pytest.raises(ExecutionError, match=r"file.write: /nonexistent/x: no such file"):
        call(ctx, "file.write", "/nonexistent/x", "a")


def test_write_keeps_mode(ctx: JobContext, tmp_path: Path) -> None:
    p = tmp_path / "m"
    p.write_text("old")
    p.chmod(0o600)
    call(ctx, "file.write", str(p), "new")
    assert p.read_text() == "new\n" and (p.stat().st_mode & 0o777) == 0o600


def test_touch_and_remove(ctx: JobContext, tmp_path: Path) -> None:
    p = tmp_path / "t"
    assert call(ctx, "file.touch", str(p)) is True and p.exists()
    call(ctx, "file.touch", str(p), atime="1000", mtime="2000")
    assert (p.stat().st_atime, p.stat().st_mtime) == (1000, 2000)
    call(ctx, "file.touch", str(p), mtime="3000")
    assert (p.stat().st_atime, p.stat().st_mtime) == (1000, 3000)
    with pytest.raises(ExecutionError, match=r"must be numbers"):
        call(ctx, "file.touch", str(p), mtime="soon")
    with pytest.raises(ExecutionError, match=r"no such file"):
        call(ctx, "file.touch", "/nonexistent/dir/t")
    d = tmp_path / "d"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "f").write_text("x")
    assert call(ctx, "file.remove", str(d)) is True and not d.exists()
    assert call(ctx, "file.remove", str(p)) is True and not p.exists()
    assert call(ctx, "file.remove", str(p)) is False
    with pytest.raises(ExecutionError, match=r"refusing"):
        call(ctx, "file.remove", "/")


def test_mkdir_and_makedirs(ctx: JobContext, tmp_path: Path) -> None:
    d = tmp_path / "a" / "b"
    assert call(ctx, "file.mkdir", str(d), mode="0750") is True
    assert (d.stat().st_mode & 0o777) == 0o750 and (
        (tmp_path / "a").stat().st_mode & 0o777
    ) == 0o750
    assert call(ctx, "file.makedirs", str(tmp_path / "x" / "y" / "file.conf")) is True
    assert (tmp_path / "x" / "y").is_dir() and not (tmp_path / "x" / "y" / "file.conf").exists()
    again = call(ctx, "file.makedirs", str(tmp_path / "x" / "y" / "file.conf"))
    assert again == f"Directory '{tmp_path / 'x' / 'y'}' already exists"
    (tmp_path / "afile").write_text("")
    with pytest.raises(ExecutionError, match=r"exists and is not a directory"):
        call(ctx, "file.mkdir", str(tmp_path / "afile" / "sub"))
    with pytest.raises(ExecutionError, match=r"not a file mode"):
        call(ctx, "file.mkdir", str(tmp_path / "m"), mode="rwx")


def test_copy_rename_symlink(ctx: JobContext, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.write_text("data")
    src.chmod(0o640)
    assert call(ctx, "file.copy", str(src), str(tmp_path / "dst")) is True
    assert (tmp_path / "dst").read_text() == "data"
    assert ((tmp_path / "dst").stat().st_mode & 0o777) == 0o640
    tree = tmp_path / "tree"
    (tree / "s").mkdir(parents=True)
    (tree / "s" / "f").write_text("f")
    with pytest.raises(ExecutionError, match=r"recurse=True"):
        call(ctx, "file.copy", str(tree), str(tmp_path / "tree2"))
    (tmp_path / "tree2").mkdir()
    (tmp_path / "tree2" / "old").write_text("")
    call(ctx, "file.copy", str(tree), str(tmp_path / "tree2"), recurse=True, remove_existing=True)
    assert sorted(os.listdir(tmp_path / "tree2")) == ["s"]
    with pytest.raises(ExecutionError, match=r"no such file"):
        call(ctx, "file.copy", str(tmp_path / "nope"), str(tmp_path / "x"))

    assert call(ctx, "file.rename", str(tmp_path / "dst"), str(tmp_path / "moved")) is True
    assert (tmp_path / "moved").read_text() == "data" and not (tmp_path / "dst").exists()
    with pytest.raises(ExecutionError, match=r"file.rename: .*nope: no such file"):
        call(ctx, "file.rename", str(tmp_path / "nope"), str(tmp_path / "x"))

    link = tmp_path / "link"
    assert call(ctx, "file.symlink", str(src), str(link)) is True
    assert os.readlink(link) == str(src)
    assert call(ctx, "file.symlink", str(src), str(link)) is True  # already so
    with pytest.raises(ExecutionError, match=r"already exists; use force=True"):
        call(ctx, "file.symlink", str(tmp_path / "moved"), str(link))
    call(ctx, "file.symlink", str(tmp_path / "moved"), str(link), force=True)
    assert os.readlink(link) == str(tmp_path / "moved")
    with pytest.raises(ExecutionError, match=r"is a directory"):
        call(ctx, "file.symlink", str(src), str(tree), force=True)


def test_stats_hash_mode(ctx: JobContext, tmp_path: Path) -> None:
    p = tmp_path / "h"
    p.write_bytes(b"hello")
    p.chmod(0o644)
    st = call(ctx, "file.stats", str(p), hash_type="sha256")
    assert isinstance(st, dict)
    assert st["mode"] == "0644" and st["type"] == "file" and st["size"] == 5
    assert st["user"] == pwd.getpwuid(os.geteuid()).pw_name
    assert st["group"] == grp.getgrgid(os.getegid()).gr_name
    assert st["sum"] == hashlib.sha256(b"hello").hexdigest()
    assert st["target"] == str(p)
    link = tmp_path / "l"
    link.symlink_to(p)
    linked = call(ctx, "file.stats", str(link), follow_symlinks=False)
    assert isinstance(linked, dict) and linked["type"] == "link"
    with pytest.raises(ExecutionError, match=r"file.stats: .*: no such file"):
        call(ctx, "file.stats", str(tmp_path / "none"))

    assert call(ctx, "file.get_hash", str(p)) == hashlib.sha256(b"hello").hexdigest()
    assert call(ctx, "file.get_hash", str(p), form="md5") == hashlib.md5(b"hello").hexdigest()
    with pytest.raises(ExecutionError, match=r"unknown hash type"):
        call(ctx, "file.get_hash", str(p), form="nohash")
    digest = hashlib.sha256(b"hello").hexdigest()
    assert call(ctx, "file.check_hash", str(p), f"sha256={digest}") is True
    assert call(ctx, "file.check_hash", str(p), f"sha256:{digest}") is True
    assert call(ctx, "file.check_hash", str(p), digest) is True  # type from the length
    assert call(ctx, "file.check_hash", str(p), "md5:" + "0" * 32) is False
    with pytest.raises(ExecutionError, match=r"not <type>:<hex digest>"):
        call(ctx, "file.check_hash", str(p), "sha256:xyz")

    assert call(ctx, "file.get_mode", str(p)) == "0644"
    assert call(ctx, "file.set_mode", str(p), "0600") == "0600"
    assert call(ctx, "file.set_mode", str(p), "755") == "0755"
    assert call(ctx, "file.set_mode", str(p), 644) == "0644"  # YAML's 644
    with pytest.raises(ExecutionError, match=r"file.set_mode: '9' is not a file mode"):
        call(ctx, "file.set_mode", str(p), "9")
    with pytest.raises(ExecutionError, match=r"file.get_mode: .*: no such file"):
        call(ctx, "file.get_mode", str(tmp_path / "none"))


def test_chown(ctx: JobContext, tmp_path: Path) -> None:
    p = tmp_path / "c"
    p.write_text("")
    me = pwd.getpwuid(os.geteuid()).pw_name
    mygroup = grp.getgrgid(os.getegid()).gr_name
    assert call(ctx, "file.chown", str(p), me, mygroup) is True
    assert call(ctx, "file.chown", str(p), str(os.geteuid()), str(os.getegid())) is True
    with pytest.raises(ExecutionError, match=r"file.chown: user 'no-such-user-x' does not exist"):
        call(ctx, "file.chown", str(p), "no-such-user-x")
    with pytest.raises(ExecutionError, match=r"file.chown: .*: no such file"):
        call(ctx, "file.chown", str(tmp_path / "none"), me)
    if os.geteuid() == 0:
        call(ctx, "file.chown", str(p), "nobody", "nogroup")
        assert p.stat().st_uid == pwd.getpwnam("nobody").pw_uid
        assert p.stat().st_gid == grp.getgrnam("nogroup").gr_gid


def test_find(ctx: JobContext, tmp_path: Path) -> None:
    root = tmp_path / "find"
    (root / "sub" / "deep").mkdir(parents=True)
    (root / "a.log").write_text("x" * 2048)
    (root / "B.LOG").write_text("")
    (root / "sub" / "c.txt").write_text("")
    (root / "sub" / "deep" / "d.log").write_text("")
    (root / "link").symlink_to(root / "a.log")
    old = time.time() - 10 * 86400
    os.utime(root / "a.log", (old, old))
    r = str(root)
    assert call(ctx, "file.find", r, name="*.log") == [f"{r}/a.log", f"{r}/sub/deep/d.log"]
    assert call(ctx, "file.find", r, iname="*.log", maxdepth="1") == [f"{r}/B.LOG", f"{r}/a.log"]
    assert call(ctx, "file.find", r, type="d") == [r, f"{r}/sub", f"{r}/sub/deep"]
    assert call(ctx, "file.find", r, type="d", mindepth="1", maxdepth="1") == [f"{r}/sub"]
    assert call(ctx, "file.find", r, type="l") == [f"{r}/link"]
    assert call(ctx, "file.find", r, regex=r"^[a-c]\.", type="f") == [
        f"{r}/a.log",
        f"{r}/sub/c.txt",
    ]
    assert call(ctx, "file.find", r, size="+2k", type="f") == [f"{r}/a.log"]
    assert call(ctx, "file.find", r, mtime="+7", type="f") == [f"{r}/a.log"]
    assert f"{r}/a.log" not in call(ctx, "file.find", r, mtime="-1", type="f")  # type: ignore[operator]
    assert call(ctx, "file.find", r, name="a.log", print="name,size") == [
        {"name": "a.log", "size": 2048}
    ]
    me = pwd.getpwuid(os.geteuid()).pw_name
    assert len(call(ctx, "file.find", r, user=me, type="f")) == 4  # type: ignore[arg-type]
    with pytest.raises(ExecutionError, match=r"unknown criteria colour"):
        call(ctx, "file.find", r, colour="red")
    with pytest.raises(ExecutionError, match=r"type='z'"):
        call(ctx, "file.find", r, type="z")
    with pytest.raises(ExecutionError, match=r"size='big'"):
        call(ctx, "file.find", r, size="big")
    with pytest.raises(ExecutionError, match=r"file.find: .*nope: no such file"):
        call(ctx, "file.find", r + "/nope")


def test_replace_and_search(ctx: JobContext, tmp_path: Path) -> None:
    p = tmp_path / "conf"
    p.write_text("Port 22\n#PermitRootLogin yes\nport 23\n")
    diff = call(ctx, "file.replace", str(p), "^Port .*", "Port 2222", dry_run=True)
    assert isinstance(diff, str) and "-Port 22\n+Port 2222\n" in diff
    assert p.read_text().startswith("Port 22\n") and not (tmp_path / "conf.bak").exists()
    call(ctx, "file.replace", str(p), "^port .*", "Port 2222", flags="[IGNORECASE, MULTILINE]")
    assert p.read_text() == "Port 2222\n#PermitRootLogin yes\nPort 2222\n"
    assert (tmp_path / "conf.bak").read_text() == "Port 22\n#PermitRootLogin yes\nport 23\n"
    assert call(ctx, "file.replace", str(p), "^Port .*", "Port 2222") == ""  # nothing changes
    assert call(ctx, "file.replace", str(p), "Port", "P", count="1", show_changes=False) is True
    assert p.read_text().startswith("P 2222\n#Permit")
    call(ctx, "file.replace", str(p), "^Banner .*", "Banner none", append_if_not_found=True)
    assert p.read_text().endswith("Port 2222\nBanner none\n")
    assert (
        call(ctx, "file.replace", str(p), "^Banner x", "Banner none", append_if_not_found=True)
        == ""
    )
    call(ctx, "file.replace", str(p), "^Top", "Top", prepend_if_not_found=True, backup="False")
    assert p.read_text().startswith("Top\n")
    assert call(ctx, "file.replace", str(p), "Banner", "", search_only=True) is True
    assert (
        call(ctx, "file.replace", str(tmp_path / "none"), "a", "b", ignore_if_missing=True) is False
    )
    with pytest.raises(ExecutionError, match=r"file.replace: .*none: no such file"):
        call(ctx, "file.replace", str(tmp_path / "none"), "a", "b")
    with pytest.raises(ExecutionError, match=r"bad regular expression"):
        call(ctx, "file.replace", str(p), "(", "b")
    with pytest.raises(ExecutionError, match=r"not a regular expression flag"):
        call(ctx, "file.replace", str(p), "a", "b", flags="LOUD")

    assert call(ctx, "file.search", str(p), "^Banner") is True
    assert call(ctx, "file.search", str(p), "^banner") is False
    assert call(ctx, "file.search", str(p), "^banner", flags="IGNORECASE|MULTILINE") is True
    assert call(ctx, "file.search", str(tmp_path / "none"), "x", ignore_if_missing=True) is False
    with pytest.raises(ExecutionError, match=r"file.search: .*none: no such file"):
        call(ctx, "file.search", str(tmp_path / "none"), "x")


LINES = "[main]\n    key = 1\n[other]\nend\n"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"content": "    key = 2", "match": "key =", "mode": "replace"}, LINES.replace("1", "2")),
        ({"content": "key = 2", "match": "key =", "mode": "replace"}, LINES.replace("1", "2")),
        ({"match": "^end", "mode": "delete"}, "[main]\n    key = 1\n[other]\n"),
        ({"content": "top", "mode": "insert", "location": "start"}, "top\n" + LINES),
        ({"content": "tail", "mode": "insert", "location": "end"}, LINES + "tail\n"),
        (
            {"content": "new", "mode": "insert", "after": "key ="},
            LINES.replace("1\n", "1\n    new\n"),
        ),
        (
            {"content": "new", "mode": "insert", "before": r"^\[other"},
            LINES.replace("[o", "new\n[o"),
        ),
        ({"content": "[main]", "mode": "insert", "location": "start"}, LINES),
        (
            {"content": "k = 3", "mode": "ensure", "after": r"^\[other"},
            LINES.replace("]\nend", "]\nk = 3\nend"),
        ),
        ({"content": "end", "mode": "ensure", "after": r"^\[other"}, LINES),
        ({"content": "x", "mode": "ensure", "after": r"^\[main", "before": r"^\[other"}, None),
        ({"content": "mid", "mode": "ensure", "after": r"^\[other", "before": "^end"}, None),
        ({"content": "end", "mode": "ensure"}, LINES),
        ({"content": "extra", "mode": "ensure"}, LINES + "extra\n"),
    ],
)
def test_line_modes(
    ctx: JobContext, tmp_path: Path, kwargs: dict[str, str], expected: str | None
) -> None:
    p = tmp_path / "ini"
    p.write_text(LINES)
    if kwargs.get("before") == r"^\[other" and kwargs.get("after"):
        call(ctx, "file.line", str(p), **kwargs)  # one line between: replaced
        assert p.read_text() == "[main]\n    x\n[other]\nend\n"
        return
    if kwargs.get("before") == "^end":
        call(ctx, "file.line", str(p), **kwargs)  # adjacent: inserted between
        assert p.read_text() == "[main]\n    key = 1\n[other]\nmid\nend\n"
        return
    diff = call(ctx, "file.line", str(p), **kwargs)
    assert p.read_text() == expected
    assert (diff == "") == (expected == LINES)
    assert call(ctx, "file.line", str(p), **kwargs) == ""  # a second call changes nothing


def test_line_errors_backup_and_dry_run(ctx: JobContext, tmp_path: Path) -> None:
    p = tmp_path / "ini"
    p.write_text(LINES)
    with pytest.raises(ExecutionError, match=r"mode must be one of"):
        call(ctx, "file.line", str(p), "x")
    with pytest.raises(ExecutionError, match=r"content is required"):
        call(ctx, "file.line", str(p), mode="insert")
    with pytest.raises(ExecutionError, match=r"no line matches after="):
        call(ctx, "file.line", str(p), "x", mode="insert", after="^nomatch")
    with pytest.raises(ExecutionError, match=r"file.line: .*none: no such file"):
        call(ctx, "file.line", str(tmp_path / "none"), "x", mode="insert")
    p.write_text("[a]\nx\ny\n[b]\n")
    with pytest.raises(ExecutionError, match=r"more than one line"):
        call(ctx, "file.line", str(p), "z", mode="ensure", after=r"^\[a", before=r"^\[b")
    assert call(ctx, "file.line", str(p), "x", mode="delete", dry_run=True) == (
        "@@ -1,4 +1,3 @@\n [a]\n-x\n y\n [b]\n"
    )
    assert p.read_text() == "[a]\nx\ny\n[b]\n"
    assert call(ctx, "file.line", str(p), "x", mode="delete", backup=True, show_changes=False)
    assert p.read_text() == "[a]\ny\n[b]\n"
    assert (tmp_path / "ini.bak").read_text() == "[a]\nx\ny\n[b]\n"


def test_get_diff(ctx: JobContext, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("1\n2\n")
    b.write_text("1\n3\n")
    assert call(ctx, "file.get_diff", str(a), str(b)) == (
        f"--- {a}\n+++ {b}\n@@ -1,2 +1,2 @@\n 1\n-2\n+3\n"
    )
    assert call(ctx, "file.get_diff", str(a), str(a)) == ""
    assert str(call(ctx, "file.get_diff", str(a), str(b), show_filenames=False)).startswith("@@")
    assert call(ctx, "file.get_diff", "ff://served.txt", str(a)) == (
        "--- ff://served.txt\n+++ " + str(a) + "\n@@ -1,2 +1,2 @@\n-a\n-b\n+1\n+2\n"
    )
    (tmp_path / "bin").write_bytes(b"\xff")
    assert call(ctx, "file.get_diff", str(a), str(tmp_path / "bin")) == (
        "Replace text file with binary file"
    )
    with pytest.raises(ExecutionError, match=r"file.get_diff: .*none: no such file"):
        call(ctx, "file.get_diff", str(a), str(tmp_path / "none"))
    with pytest.raises(ExecutionError, match=r"no such file on the file server"):
        call(ctx, "file.get_diff", "ff://missing.txt", str(a))
