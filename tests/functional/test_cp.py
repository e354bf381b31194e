"""The ``cp`` execution module against a real file server (the local file roots)."""

from __future__ import annotations

import hashlib
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
    (root / "web" / "conf" / "sub").mkdir(parents=True)
    (root / "web" / "motd").write_text("hello\n")
    (root / "web" / "conf" / "a.conf").write_text("a\n")
    (root / "web" / "conf" / "sub" / "b.conf").write_text("b\n")
    (root / "Debian.txt").write_text("debian\n")
    dev = tmp_path / "dev"
    dev.mkdir()
    (dev / "only-dev").write_text("dev\n")
    files = local_client(str(tmp_path / "cache"), {"base": [str(root)], "dev": [str(dev)]})
    with job_context(tmp_path / "minion", grains={"os": "Debian"}, files=files) as job:
        yield job


def call(job: JobContext, fun: str, /, *args: object, **kwargs: object) -> object:
    return job.funcs.call(fun, list(args), kwargs)


def test_get_file(ctx: JobContext, tmp_path: Path) -> None:
    dest = tmp_path / "out" / "motd"
    with pytest.raises(ExecutionError, match=r"does not exist; use makedirs=True"):
        call(ctx, "cp.get_file", "ff://web/motd", str(dest))
    assert call(ctx, "cp.get_file", "ff://web/motd", str(dest), makedirs="True") == str(dest)
    assert dest.read_text() == "hello\n"
    # A folder as destination receives the file under its own name; salt:// works too.
    assert call(ctx, "cp.get_file", "salt://web/motd", str(tmp_path / "out")) == str(dest)
    assert call(ctx, "cp.get_file", "ff://web/none", str(tmp_path / "x")) == ""
    assert call(ctx, "cp.get_file", "ff://only-dev", str(tmp_path / "d"), saltenv="dev") == str(
        tmp_path / "d"
    )
    assert call(ctx, "cp.get_file", "ff://only-dev?saltenv=dev", str(tmp_path / "e")) == str(
        tmp_path / "e"
    )
    got = call(
        ctx,
        "cp.get_file",
        "ff://{{ grains.os }}.txt",
        str(tmp_path / "{{ grains.os }}"),
        template="jinja",
    )
    assert got == str(tmp_path / "Debian") and (tmp_path / "Debian").read_text() == "debian\n"
    with pytest.raises(ExecutionError, match=r"only jinja"):
        call(ctx, "cp.get_file", "ff://web/motd", str(tmp_path / "y"), template="mako")
    with pytest.raises(ExecutionError, match=r"must be an absolute path"):
        call(ctx, "cp.get_file", "ff://web/motd", "relative")
    with pytest.raises(ExecutionError, match=r"cp.get_file: .*"):
        call(ctx, "cp.get_file", "ff://../etc/passwd", str(tmp_path / "z"))


def test_get_dir_copies_the_folder_itself(ctx: JobContext, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    written = call(ctx, "cp.get_dir", "ff://web/conf", str(dest))
    assert written == [str(dest / "conf" / "a.conf"), str(dest / "conf" / "sub" / "b.conf")]
    assert (dest / "conf" / "sub" / "b.conf").read_text() == "b\n"
    assert call(ctx, "cp.get_dir", "ff://nothing", str(dest)) == []


def test_list_master_hash_file_cache_file(ctx: JobContext, tmp_path: Path) -> None:
    assert call(ctx, "cp.list_master") == [
        "Debian.txt",
        "web/conf/a.conf",
        "web/conf/sub/b.conf",
        "web/motd",
    ]
    assert call(ctx, "cp.list_master", prefix="web/conf") == [
        "web/conf/a.conf",
        "web/conf/sub/b.conf",
    ]
    assert call(ctx, "cp.list_master", "dev") == ["only-dev"]
    digest = hashlib.sha256(b"hello\n").hexdigest()
    assert call(ctx, "cp.hash_file", "ff://web/motd") == {"hash_type": "sha256", "hsum": digest}
    assert call(ctx, "cp.hash_file", "ff://web/none") == {}
    local = tmp_path / "local"
    local.write_text("hello\n")
    assert call(ctx, "cp.hash_file", str(local)) == {"hash_type": "sha256", "hsum": digest}
    assert call(ctx, "cp.hash_file", str(tmp_path / "none")) == {}
    cached = call(ctx, "cp.cache_file", "ff://web/motd")
    assert isinstance(cached, str) and cached.startswith(str(tmp_path / "cache"))
    assert Path(cached).read_text() == "hello\n"
    assert call(ctx, "cp.cache_file", "ff://web/none") is False


def test_without_a_file_client_every_function_says_so(ctx: JobContext, tmp_path: Path) -> None:
    ctx.files = None
    for fun, args in [
        ("cp.get_file", ["ff://web/motd", str(tmp_path / "x")]),
        ("cp.get_dir", ["ff://web", str(tmp_path)]),
        ("cp.list_master", []),
        ("cp.hash_file", ["ff://web/motd"]),
        ("cp.cache_file", ["ff://web/motd"]),
    ]:
        name = fun.split(".")[1]
        with pytest.raises(ExecutionError, match=rf"^cp.{name} needs a file client \(a running"):
            ctx.funcs.call(fun, args, {})
