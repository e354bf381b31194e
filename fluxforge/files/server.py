"""The file server: the files of ``file_roots``, served to minions in chunks.

The master answers three request types with the methods of :class:`FileServer`,
one call per request, in a worker thread::

    file_list  {env, prefix}        -> list_files(env, prefix)   sorted relative paths
    file_hash  {env, path}          -> file_hash(env, path)      {hash, size, mode} or None
    file_fetch {env, path, offset}  -> fetch(env, path, offset)  {data, offset, size, hash, mode}

Every path comes from the network and is treated as hostile. :func:`check_path`
refuses, before anything touches the filesystem, a path that is absolute,
holds a ``.``, ``..`` or empty component, a NUL byte or a backslash, or is too
long. A path that passes is then resolved with :func:`os.path.realpath` and
must stay inside the root it was found in: a symlink within a root is
followed, one leading out of it is refused. Only regular files are served.

An environment's roots are merged in order: the first root that has a file
at a path serves it. Hashes (``sha256:<hex>``) are cached per file and
recomputed when the file's inode, size, mtime or ctime change.

The minion side (:mod:`fluxforge.files.client`) uses :func:`check_path`
and :class:`HashCache` from here too, so both ends apply the same rules.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

from fluxforge.errors import FileServerError

DEFAULT_ENV = "base"
MAX_PATH_BYTES = 4096
MAX_COMPONENT_BYTES = 255
HASH_PREFIX = "sha256:"
_READ_SIZE = 256 * 1024

# A file's identity for the hash cache: any write changes the ctime, which
# (unlike the mtime) cannot be set back by the writer.
Signature = tuple[int, int, int, int, int]


def _shown(text: str) -> str:
    """``text`` quoted and cut short, to name it in a one-line error."""
    return repr(text if len(text) <= 80 else text[:77] + "...")


def check_path(path: Any, *, folder: bool = False) -> str:
    """Return ``path`` as a canonical relative path, or raise :class:`FileServerError`.

    A trailing ``/`` is allowed and dropped. With ``folder`` the empty path
    (meaning the top of the roots) is allowed too.
    """
    if not isinstance(path, str):
        raise FileServerError(f"file path must be text, not {type(path).__name__}")
    try:
        size = len(path.encode("utf-8"))
    except UnicodeEncodeError:
        raise FileServerError(f"file path {_shown(path)} is not valid UTF-8")
    if size > MAX_PATH_BYTES:
        raise FileServerError(f"file path of {size} bytes is over the limit of {MAX_PATH_BYTES}")
    if "\x00" in path:
        raise FileServerError(f"file path {_shown(path)} contains a NUL byte")
    if "\\" in path:
        raise FileServerError(f"file path {_shown(path)} contains a backslash; use '/'")
    if path.startswith("/"):
        raise FileServerError(f"file path {_shown(path)} is absolute; give it relative to the root")
    trimmed = path[:-1] if path.endswith("/") else path
    if not trimmed:
        if folder:
            return ""
        raise FileServerError("file path is empty")
    for part in trimmed.split("/"):
        if part == "":
            raise FileServerError(f"file path {_shown(path)} has an empty component ('//')")
        if part in (".", ".."):
            raise FileServerError(f"file path {_shown(path)} contains a {part!r} component")
        if len(part.encode("utf-8")) > MAX_COMPONENT_BYTES:
            raise FileServerError(
                f"file path {_shown(path)} has a component over {MAX_COMPONENT_BYTES} bytes"
            )
    return trimmed


def check_env(env: Any) -> str:
    """Return ``env`` ("" meaning ``base``) if it can name a folder safely, else raise."""
    if not isinstance(env, str):
        raise FileServerError(f"environment must be text, not {type(env).__name__}")
    if env == "":
        return DEFAULT_ENV
    if "/" in env or env in (".", ".."):
        raise FileServerError(f"environment name {_shown(env)} is not a plain name")
    check_path(env)
    return env


def _signature(st: os.stat_result) -> Signature:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _hash_fd(fd: int) -> str:
    digest = hashlib.sha256()
    offset = 0
    while True:
        block = os.pread(fd, _READ_SIZE, offset)
        if not block:
            return HASH_PREFIX + digest.hexdigest()
        digest.update(block)
        offset += len(block)


class HashCache:
    """``sha256:<hex>`` of files, recomputed only when a file's stat signature changes.

    Keeps at most ``limit`` files (least recently used dropped first); safe
    to share between threads.
    """

    def __init__(self, limit: int = 20_000) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[Signature, str]] = OrderedDict()
        self.computed = 0  # how many times a file was actually read, for tests and stats

    def hash_fd(self, key: str, fd: int) -> str:
        """The hash of the open regular file ``fd``, cached under ``key`` (its real path)."""
        before = _signature(os.fstat(fd))
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] == before:
                self._entries.move_to_end(key)
                return entry[1]
        digest = _hash_fd(fd)
        with self._lock:
            self.computed += 1
            if _signature(os.fstat(fd)) == before:  # not written to while we read it
                self._entries[key] = (before, digest)
                self._entries.move_to_end(key)
                while len(self._entries) > self.limit:
                    self._entries.popitem(last=False)
        return digest

    def hash_path(self, path: str) -> str:
        """The hash of the regular file at ``path`` (OSError if it cannot be read)."""
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise IsADirectoryError(f"{path} is not a regular file")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise IsADirectoryError(f"{path} is not a regular file")
            return self.hash_fd(os.path.realpath(path), fd)
        finally:
            os.close(fd)


def _inside(real: str, real_root: str) -> bool:
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def _listable(name: str) -> bool:
    """Whether a directory entry's name could be asked for again (see :func:`check_path`)."""
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes, surrogate-escaped: msgpack cannot carry it
        return False
    return "\\" not in name and len(encoded) <= MAX_COMPONENT_BYTES


class _Open:
    """A served file held open: its descriptor, stat and real path."""

    def __init__(self, fd: int, st: os.stat_result, real: str) -> None:
        self.fd, self.st, self.real = fd, st, real

    def __enter__(self) -> _Open:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


class FileServer:
    """The files under each environment's roots, for the ``file_*`` requests."""

    def __init__(self, roots: Mapping[str, list[str]], chunk_size: int = 1024 * 1024) -> None:
        if chunk_size <= 0:
            raise FileServerError(f"file_chunk_size must be positive, not {chunk_size}")
        self.roots = {env: [os.path.abspath(r) for r in folders] for env, folders in roots.items()}
        self.chunk_size = chunk_size
        self.hashes = HashCache()

    def _roots(self, env: str) -> list[str]:
        if not isinstance(env, str):
            raise FileServerError(f"environment must be text, not {type(env).__name__}")
        name = env or DEFAULT_ENV
        try:
            return self.roots[name]
        except KeyError:
            known = ", ".join(sorted(self.roots)) or "none"
            raise FileServerError(f"unknown file server environment {_shown(name)}; known: {known}")

    # --- listing ---------------------------------------------------------

    def list_files(self, env: str, prefix: str = "") -> list[str]:
        """Sorted relative paths of the regular files under the folder ``prefix`` ("" = all)."""
        roots = self._roots(env)
        prefix = check_path(prefix, folder=True)
        found: set[str] = set()
        for root in roots:
            found.update(self._walk(root, prefix))
        return sorted(found)

    def _walk(self, root: str, prefix: str) -> Iterator[str]:
        """Relative paths of the regular files under ``root/prefix`` that stay inside ``root``."""
        real_root = os.path.realpath(root)
        start = os.path.join(root, *prefix.split("/")) if prefix else root
        real_start = os.path.realpath(start)
        if not _inside(real_start, real_root) or not os.path.isdir(real_start):
            return
        # Each folder to walk carries the (device, inode) of the folders above
        # it, so that a link back up (a loop) is not walked again.
        stack: list[tuple[str, str, frozenset[tuple[int, int]]]] = [
            (real_start, prefix + "/" if prefix else "", frozenset())
        ]
        while stack:
            folder, rel_folder, above = stack.pop()
            try:
                folder_st = os.stat(folder)
                entries = list(os.scandir(folder))
            except OSError:
                continue
            here = (folder_st.st_dev, folder_st.st_ino)
            if here in above:
                continue
            above = above | {here}
            for entry in entries:
                if not _listable(entry.name):
                    continue
                rel = rel_folder + entry.name
                if len(rel.encode("utf-8")) > MAX_PATH_BYTES:
                    continue
                try:
                    if entry.is_symlink():
                        real = os.path.realpath(entry.path)
                        if not _inside(real, real_root):
                            continue
                        st = os.stat(real)
                    else:
                        real = entry.path
                        st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    yield rel
                elif stat.S_ISDIR(st.st_mode):
                    stack.append((real, rel + "/", above))

    # --- one file ----------------------------------------------------------

    def _open(self, env: str, path: str) -> _Open | None:
        """Open the file that serves ``path`` in ``env``; None when no root has it.

        A root whose entry leads outside it (or is not a regular file) does not
        have the path; if no later root has it either, an escaping entry is
        refused with an error rather than reported missing.
        """
        roots = self._roots(env)
        parts = check_path(path).split("/")
        escaped = False
        for root in roots:
            real_root = os.path.realpath(root)
            real = os.path.realpath(os.path.join(root, *parts))
            if not _inside(real, real_root):
                escaped = True
                continue
            try:
                if not stat.S_ISREG(os.stat(real).st_mode):
                    continue  # never open a device or a fifo, not even to look
                # O_NOFOLLOW: the resolved path must not have become a link since.
                fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
            except OSError:
                continue
            st = os.fstat(fd)
            if stat.S_ISREG(st.st_mode):
                return _Open(fd, st, real)
            os.close(fd)
        if escaped:
            raise FileServerError(f"file path {_shown(path)} leads outside its file root; refused")
        return None

    def file_hash(self, env: str, path: str) -> dict[str, Any] | None:
        """``{hash, size, mode}`` of the file at ``path``, or None when no root has it."""
        opened = self._open(env, path)
        if opened is None:
            return None
        with opened:
            digest = self.hashes.hash_fd(opened.real, opened.fd)
            return {
                "hash": digest,
                "size": opened.st.st_size,
                "mode": stat.S_IMODE(opened.st.st_mode),
            }

    def fetch(self, env: str, path: str, offset: int) -> dict[str, Any]:
        """Up to ``chunk_size`` bytes of the file at ``path`` from ``offset``, with its hash.

        ``offset`` equal to the size is allowed and returns no data (an empty
        file is fetched with offset 0).
        """
        if not isinstance(offset, int) or isinstance(offset, bool):
            raise FileServerError(f"file offset must be an integer, not {type(offset).__name__}")
        if offset < 0:
            raise FileServerError(f"file offset {offset} is negative")
        opened = self._open(env, path)
        if opened is None:
            raise FileServerError(f"no file {_shown(path)} in environment {_shown(env or 'base')}")
        with opened:
            size = opened.st.st_size
            if offset > size:
                raise FileServerError(
                    f"file offset {offset} is past the end of {_shown(path)} ({size} bytes)"
                )
            digest = self.hashes.hash_fd(opened.real, opened.fd)
            data = os.pread(opened.fd, min(self.chunk_size, size - offset), offset)
            return {
                "data": data,
                "offset": offset,
                "size": size,
                "hash": digest,
                "mode": stat.S_IMODE(opened.st.st_mode),
            }
