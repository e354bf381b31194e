"""The minion's file cache against a real FileServer.

No mocks: ``Master`` below hands each request to a real :class:`FileServer`
in-process, after checking the body against the wire's request shapes and
passing body and reply through msgpack, as the master's request server would.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from fluxforge.errors import FileServerError
from fluxforge.files.client import FileClient, split_source
from fluxforge.files.server import FileServer
from fluxforge.protocol.wire import REQUEST_TYPES, check, pack, unpack


class Master:
    """Dispatches ``request(kind, body)`` to a real FileServer and counts the calls."""

    def __init__(self, server: FileServer) -> None:
        self.server = server
        self.calls: Counter[str] = Counter()

    def request(self, kind: str, body: dict[str, Any]) -> Any:
        body = check(unpack(pack(body)), REQUEST_TYPES[kind], kind)
        self.calls[kind] += 1
        if kind == "file_list":
            reply: Any = self.server.list_files(body["env"], body["prefix"])
        elif kind == "file_hash":
            reply = self.server.file_hash(body["env"], body["path"])
        elif kind == "file_fetch":
            reply = self.server.fetch(body["env"], body["path"], body["offset"])
        else:
            raise AssertionError(f"unexpected request {kind}")
        return unpack(pack(reply))


@pytest.fixture
def srv(tmp_path: Path) -> Path:
    root = tmp_path / "srv"
    (root / "conf").mkdir(parents=True)
    (root / "conf" / "app.ini").write_bytes(b"[app]\nport = 80\n")
    (root / "conf" / "sub").mkdir()
    (root / "conf" / "sub" / "x.txt").write_bytes(b"x")
    (root / "big.bin").write_bytes(os.urandom(10_000))
    (root / "tool.sh").write_bytes(b"#!/bin/sh\necho hi\n")
    (root / "tool.sh").chmod(0o750)
    return root


@pytest.fixture
def dev(tmp_path: Path) -> Path:
    root = tmp_path / "dev"
    (root / "conf").mkdir(parents=True)
    (root / "conf" / "app.ini").write_bytes(b"[app]\nport = 8080\n")
    return root


@pytest.fixture
def master(srv: Path, dev: Path) -> Master:
    return Master(FileServer({"base": [str(srv)], "dev": [str(dev)]}, chunk_size=1000))


@pytest.fixture
def client(tmp_path: Path, master: Master) -> FileClient:
    return FileClient(str(tmp_path / "cache"), master.request)


def test_cache_file_downloads_in_chunks_and_keeps_the_mode(
    client: FileClient, master: Master, srv: Path, tmp_path: Path
) -> None:
    local = client.cache_file("ff://big.bin")
    assert local == str(tmp_path / "cache" / "files" / "base" / "big.bin")
    assert Path(local).read_bytes() == (srv / "big.bin").read_bytes()
    assert master.calls["file_fetch"] == 10  # 10,000 bytes in chunks of 1,000
    tool = client.cache_file("tool.sh")
    assert tool is not None
    assert os.stat(tool).st_mode & 0o7777 == 0o750
    assert [n for n in os.listdir(os.path.dirname(tool)) if n.startswith(".")] == []


def test_unchanged_files_are_not_fetched_again(
    client: FileClient, master: Master, srv: Path
) -> None:
    local = client.cache_file("ff://conf/app.ini")
    assert master.calls["file_fetch"] == 1
    assert client.cache_file("salt://conf/app.ini") == local
    assert client.cache_file("conf/app.ini") == local
    assert master.calls["file_fetch"] == 1  # the hash matched: only file_hash was asked
    assert master.calls["file_hash"] == 3
    (srv / "conf" / "app.ini").write_bytes(b"[app]\nport = 81\n")
    assert client.cache_file("ff://conf/app.ini") == local
    assert master.calls["file_fetch"] == 2
    assert local is not None
    assert Path(local).read_bytes() == b"[app]\nport = 81\n"


def test_a_corrupted_cached_copy_is_fetched_again(client: FileClient, master: Master) -> None:
    local = client.cache_file("ff://conf/app.ini")
    assert local is not None
    Path(local).write_bytes(b"[app]\nport = 99\n")  # same size, different bytes
    assert client.cache_file("ff://conf/app.ini") == local
    assert Path(local).read_bytes() == b"[app]\nport = 80\n"
    assert master.calls["file_fetch"] == 2


def test_a_fresh_client_reuses_the_cache_on_disk(
    tmp_path: Path, client: FileClient, master: Master
) -> None:
    client.cache_file("big.bin")
    again = FileClient(str(tmp_path / "cache"), master.request)
    again.cache_file("big.bin")
    assert master.calls["file_fetch"] == 10


def test_the_mode_is_fixed_without_a_download(
    client: FileClient, master: Master, srv: Path
) -> None:
    local = client.cache_file("tool.sh")
    assert local is not None
    (srv / "tool.sh").chmod(0o700)
    client.cache_file("tool.sh")
    assert os.stat(local).st_mode & 0o7777 == 0o700
    assert master.calls["file_fetch"] == 1


def test_environments_in_the_url_or_the_argument(
    client: FileClient, tmp_path: Path, master: Master
) -> None:
    files = tmp_path / "cache" / "files"
    assert client.cache_file("salt://conf/app.ini?saltenv=dev") == str(
        files / "dev" / "conf" / "app.ini"
    )
    assert client.cache_file("ff://conf/app.ini?env=dev", env="base") == str(
        files / "dev" / "conf" / "app.ini"
    )
    assert client.cache_file("conf/app.ini", env="dev") == str(files / "dev" / "conf" / "app.ini")
    assert (files / "dev" / "conf" / "app.ini").read_bytes() == b"[app]\nport = 8080\n"
    assert client.cache_file("ff://conf/app.ini", env="") == str(
        files / "base" / "conf" / "app.ini"
    )


def test_split_source_forms_and_refusals() -> None:
    assert split_source("ff://a/b.txt") == ("base", "a/b.txt")
    assert split_source("salt://a/b.txt?saltenv=dev") == ("dev", "a/b.txt")
    assert split_source("a/b.txt", "prod") == ("prod", "a/b.txt")
    assert split_source("salt://_modules/", folder=True) == ("base", "_modules")
    for bad, problem in [
        ("http://example.com/x", "only ff:// and salt://"),
        ("salt://a?foo=bar", "unknown query"),
        ("salt://a?saltenv=", "unknown query"),
        ("ff://../etc/passwd", "'..' component"),
        ("/etc/passwd", "is absolute"),
        ("salt:///etc/passwd", "is absolute"),
        ("ff://a?saltenv=../../x", "not a plain name"),
        ("ff://a?saltenv=..", "not a plain name"),
        ("ff://a\\b", "backslash"),
    ]:
        with pytest.raises(FileServerError, match=re.escape(problem)):
            split_source(bad)


def test_hostile_paths_are_refused_before_asking_the_master(
    client: FileClient, master: Master, tmp_path: Path
) -> None:
    for bad in ("../../outside", "a/../../x", "/etc/passwd", "a\x00b", "x" * 256):
        with pytest.raises(FileServerError):
            client.cache_file(bad)
        with pytest.raises(FileServerError):
            client.hash_file("base", bad)
    with pytest.raises(FileServerError, match="not a plain name"):
        client.cache_file("conf/app.ini", env="../..")
    assert sum(master.calls.values()) == 0
    assert not (tmp_path / "outside").exists()


def test_a_missing_file_is_none(client: FileClient, tmp_path: Path) -> None:
    assert client.cache_file("ff://no/such/file") is None
    assert client.hash_file("base", "no/such/file") is None
    assert not (tmp_path / "cache" / "files" / "base" / "no").exists()


def test_hash_file_and_list_files(client: FileClient, srv: Path) -> None:
    data = (srv / "conf" / "app.ini").read_bytes()
    assert client.hash_file("base", "conf/app.ini") == {
        "hash": "sha256:" + hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "mode": (srv / "conf" / "app.ini").stat().st_mode & 0o7777,
    }
    assert client.list_files("base", "conf") == ["conf/app.ini", "conf/sub/x.txt"]
    assert client.list_files() == ["big.bin", "conf/app.ini", "conf/sub/x.txt", "tool.sh"]


def test_cache_dir_caches_everything_under_a_folder(client: FileClient, tmp_path: Path) -> None:
    files = tmp_path / "cache" / "files" / "base"
    assert client.cache_dir("salt://conf") == [
        str(files / "conf" / "app.ini"),
        str(files / "conf" / "sub" / "x.txt"),
    ]
    assert (files / "conf" / "sub" / "x.txt").read_bytes() == b"x"
    assert client.cache_dir("conf/sub/", env="base") == [str(files / "conf" / "sub" / "x.txt")]
    assert client.cache_dir("nothing-here") == []


def test_unknown_env_is_the_masters_error(client: FileClient) -> None:
    with pytest.raises(FileServerError, match="unknown file server environment 'prod'"):
        client.cache_file("ff://conf/app.ini?saltenv=prod")


def test_a_file_that_changes_between_chunks_is_downloaded_again(tmp_path: Path, srv: Path) -> None:
    master = Master(FileServer({"base": [str(srv)]}, chunk_size=1000))
    rewritten: list[bytes] = []

    def request(kind: str, body: dict[str, Any]) -> Any:
        # After the first chunk, the file on the master is replaced once.
        if kind == "file_fetch" and body["offset"] == 1000 and not rewritten:
            rewritten.append(os.urandom(5000))
            (srv / "big.bin").write_bytes(rewritten[0])
        return master.request(kind, body)

    local = FileClient(str(tmp_path / "cache"), request).cache_file("big.bin")
    assert local is not None
    assert Path(local).read_bytes() == rewritten[0]


def test_a_reply_that_does_not_match_its_hash_is_refused(tmp_path: Path, srv: Path) -> None:
    master = Master(FileServer({"base": [str(srv)]}))

    def request(kind: str, body: dict[str, Any]) -> Any:
        reply = master.request(kind, body)
        if kind == "file_fetch":  # bytes damaged on the way
            reply["data"] = b"X" + reply["data"][1:]
        return reply

    client = FileClient(str(tmp_path / "cache"), request)
    with pytest.raises(FileServerError, match="does not match the master's hash"):
        client.cache_file("conf/app.ini")
    folder = tmp_path / "cache" / "files" / "base" / "conf"
    assert os.listdir(folder) == []  # no partial file left behind
