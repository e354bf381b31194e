"""The ``file`` states on real files: each in test mode, real mode, and run again.

``cycle`` is the contract of docs/modules.md in one helper: a test run
predicts changes and touches nothing, the real run makes exactly those
changes, and a second run (real or test) finds nothing to do.
"""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fluxforge.files.client import local_client
from fluxforge.plugins.context import JobContext
from fluxforge.testing import job_context

ME = pwd.getpwuid(os.geteuid()).pw_name
MYGROUP = grp.getgrgid(os.getegid()).gr_name
ROOT = os.geteuid() == 0
UMASK_FILE = f"{0o666 & ~0o022:04o}"


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[JobContext]:
    srv = tmp_path / "srv"
    (srv / "web" / "conf" / "sub").mkdir(parents=True)
    (srv / "web" / "motd").write_text("hello\n")
    (srv / "web" / "app.conf.j2").write_text(
        "{% from 'web/map.jinja' import port %}"
        "host={{ grains.host }} port={{ port }} user={{ pillar.web.user }} "
        "colour={{ colour }} size={{ size }}\n"
    )
    (srv / "web" / "map.jinja").write_text("{% set port = 8080 %}")
    (srv / "web" / "conf" / "a.conf").write_text("a\n")
    (srv / "web" / "conf" / "sub" / "b.conf").write_text("b={{ grains.host }}\n")
    os.umask(0o022)
    with job_context(
        tmp_path / "minion",
        grains={"host": "web1"},
        pillar={"web": {"user": "www", "motd": "from pillar"}},
        files=local_client(str(tmp_path / "cache"), {"base": [str(srv)]}),
    ) as job:
        yield job


def snapshot(root: Path) -> dict[str, Any]:
    """Everything about the files under ``root``: kind, mode, owner, times, content."""
    seen: dict[str, Any] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in ("cache", "minion", "srv")]  # caches, file roots
        for entry in [*dirs, *files]:
            path = os.path.join(folder, entry)
            st = os.lstat(path)
            body: Any = None
            if stat.S_ISLNK(st.st_mode):
                body = os.readlink(path)
            elif stat.S_ISREG(st.st_mode):
                body = Path(path).read_bytes()
            seen[path] = (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, body)
    return seen


def state(ctx: JobContext, fun: str, **kwargs: Any) -> dict[str, Any]:
    assert ctx.states is not None
    ret: dict[str, Any] = ctx.states[fun](**kwargs)
    assert set(ret) == {"name", "result", "changes", "comment"}
    return ret


def cycle(ctx: JobContext, where: Path, fun: str, **kwargs: Any) -> dict[str, Any]:
    """Run ``fun`` in test mode, for real, then twice more; return the real run's result."""
    before = snapshot(where)
    ctx.test = True
    predicted = state(ctx, fun, **kwargs)
    ctx.test = False
    assert snapshot(where) == before, "test mode changed files"
    real = state(ctx, fun, **kwargs)
    assert real["result"] is True, real["comment"]
    assert predicted["changes"] == real["changes"]
    assert predicted["result"] is (None if real["changes"] else True)
    again = state(ctx, fun, **kwargs)
    assert (again["result"], again["changes"]) == (True, {}), again
    ctx.test = True
    assert (state(ctx, fun, **kwargs)["result"], again["changes"]) == (True, {})
    ctx.test = False
    return real


def mode_of(path: Path) -> str:
    return f"{stat.S_IMODE(os.lstat(path).st_mode):04o}"


# --- file.managed -------------------------------------------------------------


def test_managed_from_source_then_changed(ctx: JobContext, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    motd = out / "motd"
    ret = cycle(ctx, out, "file.managed", name=str(motd), source="salt://web/motd")
    assert ret["changes"] == {"diff": "New file"}
    assert motd.read_text() == "hello\n" and mode_of(motd) == UMASK_FILE
    (tmp_path / "srv" / "web" / "motd").write_text("hello\nworld\n")
    ret = cycle(ctx, out, "file.managed", name=str(motd), source="ff://web/motd", mode="0600")
    assert ret["changes"] == {"diff": "@@ -1 +1,2 @@\n hello\n+world\n", "mode": "0600"}
    assert motd.read_text() == "hello\nworld\n" and mode_of(motd) == "0600"


def test_managed_source_list_takes_the_first_that_exists(ctx: JobContext, tmp_path: Path) -> None:
    dest = tmp_path / "m"
    local = tmp_path / "local.txt"
    local.write_text("local\n")
    sources = ["ff://web/none", "ff://web/motd", str(local)]
    cycle(ctx, tmp_path, "file.managed", name=str(dest), source=sources)
    assert dest.read_text() == "hello\n"
    cycle(ctx, tmp_path, "file.managed", name=str(dest), source=["ff://no", f"file://{local}"])
    assert dest.read_text() == "local\n"
    ret = state(ctx, "file.managed", name=str(dest), source=["ff://a", "ff://b"])
    assert ret["result"] is False and ret["comment"] == "Source file ff://a, ff://b not found"


def test_managed_template_with_pillar_grains_context_defaults(
    ctx: JobContext, tmp_path: Path
) -> None:
    dest = tmp_path / "app.conf"
    kwargs: dict[str, Any] = {
        "name": str(dest),
        "source": "ff://web/app.conf.j2",
        "template": "jinja",
        "defaults": {"colour": "red", "size": 1},
        "context": {"size": 2},
    }
    cycle(ctx, tmp_path, "file.managed", **kwargs)
    assert dest.read_text() == "host=web1 port=8080 user=www colour=red size=2\n"
    ctx.pillar = {"web": {"user": "nginx"}}
    ret = cycle(ctx, tmp_path, "file.managed", **kwargs)
    assert ret["changes"]["diff"].endswith("+host=web1 port=8080 user=nginx colour=red size=2\n")
    ret = state(ctx, "file.managed", **{**kwargs, "defaults": {}})
    assert ret["result"] is False and "ff://web/app.conf.j2" in ret["comment"]
    assert "colour" in ret["comment"]
    ret = state(ctx, "file.managed", **{**kwargs, "template": "mako"})
    assert ret["result"] is False and "only jinja" in ret["comment"]


def test_managed_contents_pillar_and_contents(ctx: JobContext, tmp_path: Path) -> None:
    dest = tmp_path / "c"
    cycle(ctx, tmp_path, "file.managed", name=str(dest), contents_pillar="web:motd")
    assert dest.read_text() == "from pillar\n"
    ret = state(ctx, "file.managed", name=str(dest), contents_pillar="web:nope")
    assert ret == {
        "name": str(dest),
        "result": False,
        "changes": {},
        "comment": "Pillar web:nope does not exist",
    }
    ctx.pillar_error = "pillar/base/web.sls, line 3: bad"
    ret = state(ctx, "file.managed", name=str(dest), contents_pillar="web:motd")
    assert ret["result"] is False and "did not compile" in ret["comment"]
    ctx.pillar_error = ""
    cycle(ctx, tmp_path, "file.managed", name=str(dest), contents=["a", "b"])
    assert dest.read_text() == "a\nb\n"
    cycle(ctx, tmp_path, "file.managed", name=str(dest), contents="x", contents_newline=False)
    assert dest.read_text() == "x"
    cycle(
        ctx,
        tmp_path,
        "file.managed",
        name=str(dest),
        contents="{{ grains.host }}",
        template="jinja",
    )
    assert dest.read_text() == "web1\n"
    ret = state(ctx, "file.managed", name=str(dest), contents="a", source="ff://web/motd")
    assert ret["result"] is False and "Only one of" in ret["comment"]


def test_managed_makedirs_and_errors(ctx: JobContext, tmp_path: Path) -> None:
    dest = tmp_path / "deep" / "er" / "f"
    ret = state(ctx, "file.managed", name=str(dest), contents="x")
    assert ret["result"] is False and "Parent directory" in ret["comment"]
    cycle(
        ctx, tmp_path, "file.managed", name=str(dest), contents="x", makedirs=True, dir_mode="0750"
    )
    assert dest.read_text() == "x\n" and mode_of(tmp_path / "deep") == "0750"
    ret = state(ctx, "file.managed", name=str(tmp_path), contents="x")
    assert ret["result"] is False and "is a directory" in ret["comment"]
    ret = state(ctx, "file.managed", name="relative/f", contents="x")
    assert ret["result"] is False and "not an absolute path" in ret["comment"]
    ctx.files = None
    ret = state(ctx, "file.managed", name=str(dest), source="ff://web/motd")
    assert ret["result"] is False and "needs a file client" in ret["comment"]


def test_managed_without_content_makes_an_empty_file(ctx: JobContext, tmp_path: Path) -> None:
    dest = tmp_path / "empty"
    ret = cycle(ctx, tmp_path, "file.managed", name=str(dest), mode="0640")
    assert ret["changes"] == {"diff": "New file", "mode": "0640"} and dest.read_bytes() == b""
    ret = state(ctx, "file.managed", name=str(tmp_path / "nope"), contents="x", create=False)
    assert ret["result"] is True and ret["changes"] == {} and not (tmp_path / "nope").exists()


def test_managed_user_group_mode(ctx: JobContext, tmp_path: Path) -> None:
    dest = tmp_path / "owned"
    dest.write_text("x\n")
    dest.chmod(0o644)
    ret = state(ctx, "file.managed", name=str(dest), contents="x", user=ME, group=MYGROUP)
    assert ret["changes"] == {} and ret["result"] is True
    ret = cycle(ctx, tmp_path, "file.managed", name=str(dest), contents="x", mode=600)
    assert ret["changes"] == {"mode": "0600"}
    ret = state(ctx, "file.managed", name=str(dest), contents="x", user="no-such-user-x")
    assert ret["result"] is False and "no-such-user-x" in ret["comment"]
    if not ROOT:
        return
    ret = cycle(
        ctx, tmp_path, "file.managed", name=str(dest), contents="x", user="nobody", group="nogroup"
    )
    assert ret["changes"] == {"user": "nobody", "group": "nogroup"}
    assert dest.stat().st_uid == pwd.getpwnam("nobody").pw_uid
    assert dest.stat().st_gid == grp.getgrnam("nogroup").gr_gid
    # Content rewritten later keeps the owner.
    cycle(ctx, tmp_path, "file.managed", name=str(dest), contents="y", user="nobody")
    assert dest.stat().st_uid == pwd.getpwnam("nobody").pw_uid and dest.read_text() == "y\n"


def test_managed_backup_replace_false_and_source_hash(ctx: JobContext, tmp_path: Path) -> None:
    dest = tmp_path / "b" / "conf"
    dest.parent.mkdir()
    dest.write_text("old\n")
    ret = cycle(ctx, dest.parent, "file.managed", name=str(dest), contents="new", backup="minion")
    assert ret["changes"] == {"diff": "@@ -1 +1 @@\n-old\n+new\n"}
    backups = list((Path(ctx.opts.cachedir) / "file_backup").rglob("conf_*"))
    assert len(backups) == 1 and backups[0].read_text() == "old\n"
    assert str(backups[0]).startswith(os.path.join(ctx.opts.cachedir, "file_backup", str(dest)[1:]))

    ret = cycle(
        ctx,
        dest.parent,
        "file.managed",
        name=str(dest),
        contents="other",
        replace=False,
        mode="0600",
    )
    assert ret["changes"] == {"mode": "0600"} and dest.read_text() == "new\n"

    digest = hashlib.sha256(b"hello\n").hexdigest()
    target = tmp_path / "hashed"
    cycle(
        ctx,
        tmp_path,
        "file.managed",
        name=str(target),
        source="ff://web/motd",
        source_hash=f"sha256={digest}",
    )
    assert target.read_text() == "hello\n"
    ret = state(
        ctx,
        "file.managed",
        name=str(tmp_path / "bad"),
        source="ff://web/motd",
        source_hash="0" * 64,
    )
    assert ret["result"] is False and not (tmp_path / "bad").exists()
    assert ret["comment"] == (
        f"Specified sha256 checksum for ff://web/motd ({'0' * 64}) "
        f"does not match actual checksum ({digest})"
    )


def test_managed_source_hash_from_a_hash_file(ctx: JobContext, tmp_path: Path) -> None:
    srv = tmp_path / "srv" / "web"
    sha = hashlib.sha256(b"hello\n").hexdigest()
    md5 = hashlib.md5(b"hello\n").hexdigest()
    other = hashlib.sha256(b"other\n").hexdigest()
    (srv / "motd.sha256").write_text(f"{sha}\n")  # a bare digest
    (srv / "motd.typed").write_text(f"sha256:{sha}\n")
    # sha256sum output: several files, paths, binary mode; the line for the source wins.
    (srv / "SHA256SUMS").write_text(
        f"{other}  ./conf/motd.old\n{other}  motd.bak\n{sha} *./dir/motd\n{other}  other/x\n"
    )
    (srv / "MD5SUMS").write_text(f"# md5sum output\n{'0' * 32}  app.conf\n{md5}  motd\n")
    (srv / "WRONG").write_text(f"{other}  motd\n{sha}  elsewhere/motd.txt\n")
    out = tmp_path / "out"
    out.mkdir()
    for i, url in enumerate(["web/motd.sha256", "web/motd.typed", "web/SHA256SUMS", "web/MD5SUMS"]):
        target = out / f"motd{i}"
        ret = cycle(
            ctx,
            out,
            "file.managed",
            name=str(target),
            source="ff://web/motd",
            source_hash=f"salt://{url}",
        )
        assert ret["changes"] == {"diff": "New file"} and target.read_text() == "hello\n"

    # The line for the source's name has the wrong hash: the state fails, in test mode too.
    for test in (True, False):
        ctx.test = test
        ret = state(
            ctx,
            "file.managed",
            name=str(out / "bad"),
            source="ff://web/motd",
            source_hash="ff://web/WRONG",
        )
        assert ret["result"] is False and not (out / "bad").exists()
        assert ret["comment"] == (
            f"Specified sha256 checksum for ff://web/motd ({other}) "
            f"does not match actual checksum ({sha})"
        )
    ctx.test = False
    # source_hash_name picks another line.
    cycle(
        ctx,
        out,
        "file.managed",
        name=str(out / "named"),
        source="ff://web/motd",
        source_hash="ff://web/WRONG",
        source_hash_name="elsewhere/motd.txt",
    )
    ret = state(
        ctx,
        "file.managed",
        name=str(out / "named2"),
        source="ff://web/motd",
        source_hash="ff://web/SHA256SUMS",
        source_hash_name="motd.bak",
    )
    assert ret["result"] is False and "does not match" in ret["comment"]
    # Without a line for the source (or the managed file), or a missing hash file: a clear failure.
    ret = state(
        ctx,
        "file.managed",
        name=str(out / "none"),
        source="ff://web/motd",
        source_hash="ff://web/SHA256SUMS",
        source_hash_name="nothing.txt",
    )
    assert ret["result"] is False
    assert (
        ret["comment"]
        == "file.managed: the hash file ff://web/SHA256SUMS has no hash for nothing.txt"
    )
    ret = state(
        ctx,
        "file.managed",
        name=str(out / "none"),
        source="ff://web/app.conf.j2",
        source_hash="ff://web/MD5SUMS",
    )
    assert ret["comment"] == (
        "file.managed: the hash file ff://web/MD5SUMS has no hash for app.conf.j2 or none"
    )
    ret = state(
        ctx,
        "file.managed",
        name=str(out / "none"),
        source="ff://web/motd",
        source_hash="ff://web/missing.sha256",
    )
    assert ret["result"] is False
    assert ret["comment"] == "file.managed: the hash file ff://web/missing.sha256 does not exist"
    assert not (out / "none").exists()
    # The managed file's own base name matches too, as in Salt.
    (srv / "BYNAME").write_text(f"{other}  x\n{sha}  renamed\n")
    cycle(
        ctx,
        out,
        "file.managed",
        name=str(out / "renamed"),
        source="ff://web/motd",
        source_hash="ff://web/BYNAME",
    )


def test_managed_follows_links_and_binary(ctx: JobContext, tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.write_text("a\n")
    link = tmp_path / "link"
    link.symlink_to(real)
    cycle(ctx, tmp_path, "file.managed", name=str(link), contents="b")
    assert link.is_symlink() and real.read_text() == "b\n"
    ret = cycle(ctx, tmp_path, "file.managed", name=str(link), contents="b", follow_symlinks=False)
    assert ret["changes"] == {"diff": "New file"} and not link.is_symlink()
    binary = tmp_path / "bin"
    binary.write_bytes(b"\xff\x00")
    ret = cycle(ctx, tmp_path, "file.managed", name=str(binary), contents="text")
    assert ret["changes"] == {"diff": "Replace binary file"}
    ret = cycle(ctx, tmp_path, "file.managed", name=str(binary), contents="t2", show_changes=False)
    assert ret["changes"] == {"diff": "<show_changes=False>"}


# --- file.directory ---------------------------------------------------------------


def test_directory_new_mode_and_makedirs(ctx: JobContext, tmp_path: Path) -> None:
    d = tmp_path / "d"
    ret = cycle(ctx, tmp_path, "file.directory", name=str(d), dir_mode="0700")
    assert ret["changes"] == {str(d): "New Dir", "mode": "0700"} and mode_of(d) == "0700"
    ret = cycle(ctx, tmp_path, "file.directory", name=str(d), mode="755", user=ME)
    assert ret["changes"] == {"mode": "0755"}
    deep = tmp_path / "x" / "y"
    ret = state(ctx, "file.directory", name=str(deep))
    assert ret["result"] is False and "No directory to create" in ret["comment"]
    cycle(ctx, tmp_path, "file.directory", name=str(deep), makedirs=True)
    assert deep.is_dir()
    (tmp_path / "f").write_text("")
    ret = state(ctx, "file.directory", name=str(tmp_path / "f"))
    assert ret["result"] is False and "exists and is a file" in ret["comment"]


def test_directory_recurse_and_clean(ctx: JobContext, tmp_path: Path) -> None:
    d = tmp_path / "tree"
    (d / "sub" / "keep").mkdir(parents=True)
    (d / "a.txt").write_text("")
    (d / "sub" / "b.log").write_text("")
    (d / "sub" / "keep" / "c.txt").write_text("")
    (d / "gone").mkdir()
    (d / "gone" / "x").write_text("")
    for p in (d, d / "sub", d / "sub" / "keep", d / "gone"):
        p.chmod(0o755)
    for p in (d / "a.txt", d / "sub" / "b.log", d / "sub" / "keep" / "c.txt", d / "gone" / "x"):
        p.chmod(0o644)
    ret = cycle(
        ctx,
        tmp_path,
        "file.directory",
        name=str(d),
        recurse=["mode"],
        dir_mode="0750",
        file_mode="0600",
        clean=True,
        exclude_pat="*.txt",
    )
    assert ret["changes"] == {
        "mode": "0750",
        str(d / "a.txt"): {"mode": "0600"},
        str(d / "sub"): {"mode": "0750"},
        str(d / "sub" / "keep"): {"mode": "0750"},
        str(d / "sub" / "keep" / "c.txt"): {"mode": "0600"},
        "removed": [str(d / "gone"), str(d / "sub" / "b.log")],
    }
    assert sorted(str(p.relative_to(d)) for p in d.rglob("*")) == [
        "a.txt",
        "sub",
        "sub/keep",
        "sub/keep/c.txt",
    ]
    ret = cycle(ctx, tmp_path, "file.directory", name=str(d), clean=True, exclude_pat="E@^sub/")
    assert ret["changes"] == {"removed": [str(d / "a.txt")]}
    ret = state(ctx, "file.directory", name=str(d), recurse=["colour"])
    assert ret["result"] is False and "unknown colour" in ret["comment"]
    if ROOT:
        ret = cycle(
            ctx,
            tmp_path,
            "file.directory",
            name=str(d),
            user="nobody",
            recurse=["user", "ignore_files"],
        )
        uid = pwd.getpwnam("nobody").pw_uid
        assert ret["changes"] == {
            "user": "nobody",
            str(d / "sub"): {"user": "nobody"},
            str(d / "sub" / "keep"): {"user": "nobody"},
        }
        assert (d / "sub").stat().st_uid == uid and (
            d / "sub" / "keep" / "c.txt"
        ).stat().st_uid == 0


# --- absent, exists, missing, symlink, touch ------------------------------------


def test_absent_exists_missing(ctx: JobContext, tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_text("")
    assert state(ctx, "file.exists", name=str(f))["result"] is True
    assert state(ctx, "file.missing", name=str(f))["result"] is False
    ret = cycle(ctx, tmp_path, "file.absent", name=str(f))
    assert ret["changes"] == {"removed": str(f)} and not f.exists()
    assert state(ctx, "file.exists", name=str(f)) == {
        "name": str(f),
        "result": False,
        "changes": {},
        "comment": f"Specified path {f} does not exist",
    }
    assert state(ctx, "file.missing", name=str(f))["result"] is True
    d = tmp_path / "d"
    (d / "s").mkdir(parents=True)
    ret = cycle(ctx, tmp_path, "file.absent", name=str(d))
    assert ret["comment"] == f"Directory {d} removed" and not d.exists()
    assert state(ctx, "file.absent", name="/")["result"] is False


def test_symlink(ctx: JobContext, tmp_path: Path) -> None:
    link = tmp_path / "ln"
    ret = cycle(ctx, tmp_path, "file.symlink", name=str(link), target="/etc/hostname")
    assert ret["changes"] == {"new": str(link)} and os.readlink(link) == "/etc/hostname"
    ret = cycle(ctx, tmp_path, "file.symlink", name=str(link), target="/etc/hosts")
    assert ret["changes"] == {"change": str(link)} and os.readlink(link) == "/etc/hosts"
    f = tmp_path / "file"
    f.write_text("")
    ret = state(ctx, "file.symlink", name=str(f), target="/etc/hosts")
    assert ret["result"] is False and "File exists where the symlink" in ret["comment"]
    ret = cycle(ctx, tmp_path, "file.symlink", name=str(f), target="/etc/hosts", force=True)
    assert ret["changes"] == {"forced": "Symlink was forcibly replaced", "new": str(f)}
    assert os.readlink(f) == "/etc/hosts"
    deep = tmp_path / "a" / "ln"
    assert state(ctx, "file.symlink", name=str(deep), target="x")["result"] is False
    cycle(ctx, tmp_path, "file.symlink", name=str(deep), target="x", makedirs=True)
    assert os.readlink(deep) == "x"
    if ROOT:
        ret = cycle(
            ctx, tmp_path, "file.symlink", name=str(link), target="/etc/hosts", user="nobody"
        )
        assert ret["changes"] == {"user": "nobody"}
        assert os.lstat(link).st_uid == pwd.getpwnam("nobody").pw_uid
        assert os.stat("/etc/hosts").st_uid == 0


def test_touch_reports_every_run_like_salt(ctx: JobContext, tmp_path: Path) -> None:
    f = tmp_path / "t"
    ctx.test = True
    assert state(ctx, "file.touch", name=str(f))["changes"] == {"new": str(f)}
    assert not f.exists()
    ctx.test = False
    assert state(ctx, "file.touch", name=str(f))["changes"] == {"new": str(f)}
    ret = state(ctx, "file.touch", name=str(f), atime=1000, mtime=2000)
    assert ret["changes"] == {"touched": str(f)} and f.stat().st_mtime == 2000
    assert state(ctx, "file.touch", name=str(tmp_path / "a" / "t"))["result"] is False
    assert state(ctx, "file.touch", name=str(tmp_path / "a" / "t"), makedirs=True)["result"]


# --- edits ---------------------------------------------------------------------------


def test_append(ctx: JobContext, tmp_path: Path) -> None:
    f = tmp_path / "ap"
    f.write_text("one\ntwo  three")
    ret = cycle(ctx, tmp_path, "file.append", name=str(f), text=["two three", "four"])
    assert ret["changes"] == {
        "diff": "@@ -1,2 +1,3 @@\n one\n-two  three\n\\ No newline at end of file\n"
        "+two  three\n+four\n"
    }
    assert f.read_text() == "one\ntwo  three\nfour\n"
    new = tmp_path / "new"
    ret = cycle(ctx, tmp_path, "file.append", name=str(new), text="hello")
    assert ret["changes"] == {"diff": "@@ -0,0 +1 @@\n+hello\n"} and new.read_text() == "hello\n"
    cycle(ctx, tmp_path, "file.append", name=str(new), text="  hello  ", ignore_whitespace=False)
    assert new.read_text() == "hello\n  hello  \n"


def test_replace(ctx: JobContext, tmp_path: Path) -> None:
    f = tmp_path / "sshd"
    f.write_text("Port 22\nX 1\n")
    ret = cycle(ctx, tmp_path, "file.replace", name=str(f), pattern="^Port .*", repl="Port 2222")
    assert ret["changes"] == {"diff": "@@ -1,2 +1,2 @@\n-Port 22\n+Port 2222\n X 1\n"}
    assert (tmp_path / "sshd.bak").read_text() == "Port 22\nX 1\n"
    ret = cycle(
        ctx,
        tmp_path,
        "file.replace",
        name=str(f),
        pattern="^Banner .*",
        repl="Banner none",
        append_if_not_found=True,
        backup=False,
    )
    assert f.read_text() == "Port 2222\nX 1\nBanner none\n"
    ret = state(ctx, "file.replace", name=str(tmp_path / "no"), pattern="a", repl="b")
    assert ret["result"] is False
    ret = state(
        ctx,
        "file.replace",
        name=str(tmp_path / "no"),
        pattern="a",
        repl="b",
        ignore_if_missing=True,
    )
    assert ret["result"] is True and ret["changes"] == {}


def test_line(ctx: JobContext, tmp_path: Path) -> None:
    f = tmp_path / "hosts"
    f.write_text("127.0.0.1 localhost\n")
    ret = cycle(
        ctx, tmp_path, "file.line", name=str(f), content="10.0.0.5 db", mode="ensure", after="^127"
    )
    assert ret["changes"] == {"diff": "@@ -1 +1,2 @@\n 127.0.0.1 localhost\n+10.0.0.5 db\n"}
    cycle(
        ctx, tmp_path, "file.line", name=str(f), content="10.0.0.6 db", match=r"db$", mode="replace"
    )
    assert f.read_text() == "127.0.0.1 localhost\n10.0.0.6 db\n"
    cycle(ctx, tmp_path, "file.line", name=str(f), match=r"db$", mode="delete")
    assert f.read_text() == "127.0.0.1 localhost\n"
    ret = state(ctx, "file.line", name=str(f), content="x", mode="sideways")
    assert ret["result"] is False and "mode must be one of" in ret["comment"]
    new = tmp_path / "created"
    assert state(ctx, "file.line", name=str(new), content="x", mode="insert")["result"] is False
    ret = cycle(
        ctx,
        tmp_path,
        "file.line",
        name=str(new),
        content="x",
        mode="insert",
        create=True,
        file_mode="0600",
    )
    assert ret["changes"] == {"diff": "@@ -0,0 +1 @@\n+x\n", "mode": "0600"}
    assert new.read_text() == "x\n" and mode_of(new) == "0600"


# --- file.recurse ---------------------------------------------------------------------


def test_recurse_from_the_file_server(ctx: JobContext, tmp_path: Path) -> None:
    dest = tmp_path / "etc" / "web"
    (tmp_path / "etc").mkdir()
    ret = cycle(ctx, tmp_path / "etc", "file.recurse", name=str(dest), source="ff://web/conf")
    assert ret["changes"] == {
        str(dest): "New Dir",
        str(dest / "sub"): "New Dir",
        str(dest / "a.conf"): {"diff": "New file"},
        str(dest / "sub" / "b.conf"): {"diff": "New file"},
    }
    assert (dest / "sub" / "b.conf").read_text() == "b={{ grains.host }}\n"
    (dest / "stray").write_text("")
    (dest / "sub" / "stray.d").mkdir()
    (dest / "keep.local").write_text("")
    (tmp_path / "srv" / "web" / "conf" / "a.conf").write_text("a2\n")
    ret = cycle(
        ctx,
        tmp_path / "etc",
        "file.recurse",
        name=str(dest),
        source="salt://web/conf",
        template="jinja",
        clean=True,
        exclude_pat="*.local",
        file_mode="0640",
        dir_mode="0750",
    )
    assert ret["changes"] == {
        str(dest): {"mode": "0750"},
        str(dest / "sub"): {"mode": "0750"},
        str(dest / "a.conf"): {"diff": "@@ -1 +1 @@\n-a\n+a2\n", "mode": "0640"},
        str(dest / "sub" / "b.conf"): {
            "diff": "@@ -1 +1 @@\n-b={{ grains.host }}\n+b=web1\n",
            "mode": "0640",
        },
        "removed": [str(dest / "stray"), str(dest / "sub" / "stray.d")],
    }
    assert (dest / "keep.local").exists() and (dest / "sub" / "b.conf").read_text() == "b=web1\n"
    ret = cycle(
        ctx,
        tmp_path / "etc",
        "file.recurse",
        name=str(dest),
        source="ff://web/conf",
        exclude_pat="b.conf",
    )
    assert ret["changes"] == {}  # b.conf, excluded, keeps its rendered text
    assert (dest / "sub" / "b.conf").read_text() == "b=web1\n"
    ret = state(ctx, "file.recurse", name=str(dest), source="ff://nothing/here")
    assert ret["result"] is False and "no files under" in ret["comment"]
    ret = state(ctx, "file.recurse", name=str(tmp_path / "a" / "b"), source="ff://web/conf")
    assert ret["result"] is False and "Parent directory" in ret["comment"]
    ctx.files = None
    ret = state(ctx, "file.recurse", name=str(dest), source="ff://web/conf")
    assert ret["result"] is False and "needs a file client" in ret["comment"]
