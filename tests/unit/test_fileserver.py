"""The master's file server on real folders: confinement, merging, hashes, chunks."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest

from fluxforge.errors import FileServerError
from fluxforge.files.server import FileServer, check_path


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "first", tmp_path / "second"
    (first / "top").mkdir(parents=True)
    (second / "top" / "deep").mkdir(parents=True)
    (first / "top" / "shared.txt").write_bytes(b"from first")
    (second / "top" / "shared.txt").write_bytes(b"from second")
    (first / "top" / "only1.txt").write_bytes(b"one")
    (second / "top" / "deep" / "only2.txt").write_bytes(b"two")
    (second / "root.sls").write_bytes(b"root")
    return first, second


@pytest.fixture
def server(roots: tuple[Path, Path]) -> FileServer:
    first, second = roots
    return FileServer({"base": [str(first), str(second)], "dev": [str(second)]}, chunk_size=1000)


# --- confinement -------------------------------------------------------------

ATTACKS = [
    ("../x", "'..' component"),
    ("a/../../x", "'..' component"),
    ("top/..", "'..' component"),
    ("./top/shared.txt", "'.' component"),
    ("/etc/passwd", "is absolute"),
    ("a\x00b", "NUL byte"),
    ("top\\shared.txt", "backslash"),
    ("..\\..\\etc\\passwd", "backslash"),
    ("top//shared.txt", "empty component"),
    ("x" * 256, "component over 255 bytes"),
    ("é" * 128, "component over 255 bytes"),  # 256 bytes in UTF-8, 128 characters
    ("/".join(["a" * 200] * 21), "over the limit of 4096"),
]


@pytest.mark.parametrize(("path", "problem"), ATTACKS)
def test_hostile_paths_are_refused_by_every_method(
    server: FileServer, path: str, problem: str
) -> None:
    for call in (
        lambda: server.file_hash("base", path),
        lambda: server.fetch("base", path, 0),
        lambda: server.list_files("base", path),
    ):
        with pytest.raises(FileServerError, match=re.escape(problem)):
            call()


def test_limits_are_inclusive() -> None:
    assert check_path("x" * 255) == "x" * 255
    head = "/".join(["a" * 200] * 20) + "/"
    long = head + "b" * (4096 - len(head))
    assert len(long.encode()) == 4096
    assert check_path(long) == long


def test_trailing_slash_and_empty_prefix(server: FileServer) -> None:
    assert check_path("top/") == "top"
    assert server.list_files("base", "top/") == server.list_files("base", "top")
    with pytest.raises(FileServerError, match="empty"):
        server.file_hash("base", "")
    with pytest.raises(FileServerError, match="is absolute"):
        server.list_files("base", "/")


def test_unknown_env_names_the_known_ones(server: FileServer) -> None:
    for call in (
        lambda: server.list_files("prod"),
        lambda: server.file_hash("prod", "root.sls"),
        lambda: server.fetch("prod", "root.sls", 0),
    ):
        with pytest.raises(FileServerError, match=r"unknown .*'prod'; known: base, dev$"):
            call()


def test_empty_env_means_base(server: FileServer) -> None:
    assert server.list_files("") == server.list_files("base")
    assert server.file_hash("", "root.sls") == server.file_hash("base", "root.sls")


def test_bad_offsets(server: FileServer) -> None:
    with pytest.raises(FileServerError, match="negative"):
        server.fetch("base", "root.sls", -1)
    with pytest.raises(FileServerError, match="past the end"):
        server.fetch("base", "root.sls", 5)
    with pytest.raises(FileServerError, match="must be an integer"):
        server.fetch("base", "root.sls", True)
    assert server.fetch("base", "root.sls", 4)["data"] == b""  # offset == size: the end


def test_symlink_out_of_the_root_is_refused_and_not_listed(
    tmp_path: Path, roots: tuple[Path, Path]
) -> None:
    first, _ = roots
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"top secret")
    outside_dir = tmp_path / "outside"
    outside_dir.mkdir()
    (outside_dir / "inner.txt").write_bytes(b"also secret")
    (first / "top" / "leak.txt").symlink_to(secret)
    (first / "top" / "leakdir").symlink_to(outside_dir)
    (first / "rel-leak").symlink_to("../secret.txt")
    server = FileServer({"base": [str(first)]})
    for path in ("top/leak.txt", "top/leakdir/inner.txt", "rel-leak"):
        with pytest.raises(FileServerError, match="leads outside its file root"):
            server.file_hash("base", path)
        with pytest.raises(FileServerError, match="leads outside its file root"):
            server.fetch("base", path, 0)
    listed = server.list_files("base")
    assert listed == ["top/only1.txt", "top/shared.txt"]
    assert server.list_files("base", "top/leakdir") == []


def test_symlinks_inside_the_root_are_served(roots: tuple[Path, Path]) -> None:
    first, _ = roots
    (first / "alias.txt").symlink_to("top/only1.txt")
    (first / "linked").symlink_to(first / "top")
    (first / "top" / "loop").symlink_to(first)  # a loop back to the root: listed once
    server = FileServer({"base": [str(first)]})
    assert server.fetch("base", "alias.txt", 0)["data"] == b"one"
    assert server.file_hash("base", "linked/shared.txt") == {
        "hash": sha(b"from first"),
        "size": 10,
        "mode": (first / "top" / "shared.txt").stat().st_mode & 0o7777,
    }
    assert server.list_files("base") == [
        "alias.txt",
        "linked/only1.txt",
        "linked/shared.txt",
        "top/only1.txt",
        "top/shared.txt",
    ]


def test_a_root_that_is_itself_a_symlink_works(tmp_path: Path, roots: tuple[Path, Path]) -> None:
    first, _ = roots
    link = tmp_path / "root-link"
    link.symlink_to(first)
    server = FileServer({"base": [str(link)]})
    assert server.fetch("base", "top/only1.txt", 0)["data"] == b"one"
    assert server.list_files("base") == ["top/only1.txt", "top/shared.txt"]


def test_only_regular_files_are_served(roots: tuple[Path, Path]) -> None:
    first, second = roots
    os.mkfifo(first / "pipe")
    server = FileServer({"base": [str(first), str(second)]})
    assert server.file_hash("base", "top") is None  # a folder
    assert server.file_hash("base", "pipe") is None  # never opened, so never blocks
    with pytest.raises(FileServerError, match="no file 'pipe'"):
        server.fetch("base", "pipe", 0)
    assert "pipe" not in server.list_files("base")


# --- listing -------------------------------------------------------------------


def test_listing_merges_roots_and_the_first_root_wins(server: FileServer) -> None:
    assert server.list_files("base") == [
        "root.sls",
        "top/deep/only2.txt",
        "top/only1.txt",
        "top/shared.txt",
    ]
    assert server.list_files("base", "top/deep") == ["top/deep/only2.txt"]
    assert server.list_files("base", "missing") == []
    assert server.list_files("base", "root.sls") == []  # a prefix is a folder
    assert server.fetch("base", "top/shared.txt", 0)["data"] == b"from first"
    assert server.fetch("dev", "top/shared.txt", 0)["data"] == b"from second"
    assert server.list_files("dev") == ["root.sls", "top/deep/only2.txt", "top/shared.txt"]


def test_missing_roots_are_skipped(tmp_path: Path, roots: tuple[Path, Path]) -> None:
    server = FileServer({"base": [str(tmp_path / "nope"), str(roots[1])]})
    assert server.list_files("base") == ["root.sls", "top/deep/only2.txt", "top/shared.txt"]
    assert server.file_hash("base", "top/only1.txt") is None


def test_a_folder_in_the_first_root_does_not_hide_a_file_in_the_second(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    (one / "name").mkdir(parents=True)
    two.mkdir()
    (two / "name").write_bytes(b"file")
    server = FileServer({"base": [str(one), str(two)]})
    assert server.fetch("base", "name", 0)["data"] == b"file"
    assert server.list_files("base") == ["name"]


# --- hashes --------------------------------------------------------------------


def test_hash_size_and_mode(server: FileServer, roots: tuple[Path, Path]) -> None:
    first, _ = roots
    (first / "top" / "only1.txt").chmod(0o750)
    assert server.file_hash("base", "top/only1.txt") == {
        "hash": sha(b"one"),
        "size": 3,
        "mode": 0o750,
    }
    assert server.file_hash("base", "top/nothing.txt") is None


def test_hashes_are_cached_and_recomputed_when_the_file_changes(
    server: FileServer, roots: tuple[Path, Path]
) -> None:
    first, _ = roots
    target = first / "top" / "only1.txt"
    assert server.file_hash("base", "top/only1.txt")["hash"] == sha(b"one")  # type: ignore[index]
    computed = server.hashes.computed
    for _ in range(5):
        server.file_hash("base", "top/only1.txt")
        server.fetch("base", "top/only1.txt", 0)
    assert server.hashes.computed == computed  # served from the cache
    stat = target.stat()
    target.write_bytes(b"two")  # same size...
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # ...and the same mtime
    assert server.file_hash("base", "top/only1.txt")["hash"] == sha(b"two")  # type: ignore[index]
    assert server.hashes.computed == computed + 1
    target.write_bytes(b"longer now")
    assert server.fetch("base", "top/only1.txt", 0)["hash"] == sha(b"longer now")


# --- fetching ------------------------------------------------------------------


def test_chunked_fetch_matches_byte_for_byte(server: FileServer, roots: tuple[Path, Path]) -> None:
    first, _ = roots
    payload = os.urandom(10_000) + b"tail"
    (first / "big.bin").write_bytes(payload)
    got = b""
    offsets = []
    while True:
        reply = server.fetch("base", "big.bin", len(got))
        assert len(reply["data"]) <= 1000
        assert reply["size"] == len(payload)
        assert reply["hash"] == sha(payload)
        offsets.append(reply["offset"])
        got += reply["data"]
        if len(got) == reply["size"]:
            break
    assert got == payload
    assert offsets == list(range(0, 10_001, 1000))  # 11 chunks, the last one 4 bytes


def test_fetch_of_an_empty_file_and_a_missing_one(
    server: FileServer, roots: tuple[Path, Path]
) -> None:
    first, _ = roots
    (first / "empty").write_bytes(b"")
    assert server.fetch("base", "empty", 0) == {
        "data": b"",
        "offset": 0,
        "size": 0,
        "hash": sha(b""),
        "mode": (first / "empty").stat().st_mode & 0o7777,
    }
    with pytest.raises(FileServerError, match="no file 'nothing' in environment 'base'"):
        server.fetch("base", "nothing", 0)


def test_replies_are_plain_wire_values(server: FileServer) -> None:
    from fluxforge.protocol.wire import pack, unpack

    for value in (
        server.list_files("base"),
        server.file_hash("base", "root.sls"),
        server.fetch("base", "root.sls", 0),
    ):
        assert unpack(pack(value)) == value


def test_listing_leaves_out_names_that_could_not_be_asked_for(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "ok.txt").write_bytes(b"ok")
    (root / "back\\slash").write_bytes(b"x")
    with open(os.path.join(os.fsencode(root), b"bad-\xff-utf8"), "wb") as out:
        out.write(b"x")  # msgpack could not carry this name
    assert FileServer({"base": [str(root)]}).list_files("base") == ["ok.txt"]


def test_an_escaping_link_in_the_first_root_falls_through_to_the_second(
    tmp_path: Path, roots: tuple[Path, Path]
) -> None:
    first, second = roots
    (tmp_path / "secret.txt").write_bytes(b"secret")
    (first / "root.sls").symlink_to(tmp_path / "secret.txt")  # second has a real root.sls
    server = FileServer({"base": [str(first), str(second)]})
    assert server.fetch("base", "root.sls", 0)["data"] == b"root"
    assert "root.sls" in server.list_files("base")
