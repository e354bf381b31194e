"""The minion's side of the file server: a local cache of the master's files.

:class:`FileClient` asks the master for files with blocking requests (it runs
in a job's worker thread) and keeps them under ``<cachedir>/files/<env>/<path>``.
A file is downloaded only when the sha256 of the cached copy differs from the
master's; the download comes in chunks, is checked against the hash the
master sent, and replaces the cached copy atomically (a temporary file, then
:func:`os.replace`), keeping the file's permission bits.

Sources are written ``ff://path/to/file``, ``salt://path/to/file`` (the same,
so Salt state trees work unchanged) or a bare relative path; a URL may name
its environment with ``?saltenv=dev`` or ``?env=dev``. Paths are checked here
with the master's own rules (:func:`fluxforge.files.server.check_path`) before
any local path is built from them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Mapping
from typing import IO, Any

from fluxforge.errors import FileServerError
from fluxforge.files.server import (
    DEFAULT_ENV,
    HASH_PREFIX,
    FileServer,
    HashCache,
    check_env,
    check_path,
)

Request = Callable[[str, dict[str, Any]], Any]

SCHEMES = ("ff", "salt")
ENV_KEYS = ("saltenv", "env")
DOWNLOAD_ATTEMPTS = 3

# Hashes of cached files, shared by every client of this process: a job
# makes its own FileClient, and should not re-read unchanged files.
_LOCAL_HASHES = HashCache()


def split_source(source: str, env: str = DEFAULT_ENV, *, folder: bool = False) -> tuple[str, str]:
    """``(env, relative path)`` of an ``ff://``/``salt://`` URL or a bare relative path.

    An environment named in the URL's query wins over ``env``.
    """
    if not isinstance(source, str):
        raise FileServerError(f"file source must be text, not {type(source).__name__}")
    scheme, sep, rest = source.partition("://")
    if not sep:
        path = source
    elif scheme not in SCHEMES:
        raise FileServerError(
            f"file source {source[:80]!r}: the master serves only ff:// and salt:// URLs"
        )
    else:
        path, _, query = rest.partition("?")
        for item in query.split("&") if query else ():
            key, eq, value = item.partition("=")
            if key not in ENV_KEYS or not eq or not value:
                raise FileServerError(
                    f"file source {source[:80]!r}: unknown query {item[:40]!r}; "
                    "only saltenv=NAME or env=NAME"
                )
            env = value
    return check_env(env), check_path(path, folder=folder)


def _check_hash_reply(reply: Any, what: str) -> dict[str, Any]:
    ok = (
        isinstance(reply, dict)
        and isinstance(reply.get("hash"), str)
        and reply["hash"].startswith(HASH_PREFIX)
        and type(reply.get("size")) is int
        and reply["size"] >= 0
        and type(reply.get("mode")) is int
    )
    if not ok:
        raise FileServerError(f"master sent a malformed answer for {what}")
    checked: dict[str, Any] = reply
    return checked


class _Changed(Exception):
    """The file changed on the master while it was being downloaded."""


class FileClient:
    """Lists, hashes and caches the master's files for one minion."""

    def __init__(self, cachedir: str, request: Request, hashes: HashCache | None = None) -> None:
        self.cachedir = cachedir
        self.root = os.path.join(cachedir, "files")
        self._request = request
        self.hashes = hashes if hashes is not None else _LOCAL_HASHES
        # The folders a local file server reads (ff-call --local); None: the master's.
        self.roots: Mapping[str, list[str]] | None = None

    def searched(self, env: str) -> str:
        """Where the files of ``env`` are looked for, for an error message.

        The folders themselves when they are this host's; a minion names its
        master's ``file_roots`` only, since the master keeps its layout to itself.
        """
        if self.roots is None:
            return f"the master's file_roots of saltenv {env!r}"
        return f"file_roots of saltenv {env!r}: {', '.join(self.roots.get(env, []))}"

    # --- asking the master -------------------------------------------------

    def list_files(self, env: str = DEFAULT_ENV, prefix: str = "") -> list[str]:
        """Sorted relative paths of the master's files under the folder ``prefix``."""
        env = check_env(env)
        prefix = check_path(prefix, folder=True)
        reply = self._request("file_list", {"env": env, "prefix": prefix})
        if not isinstance(reply, list) or not all(isinstance(p, str) for p in reply):
            raise FileServerError(f"master sent a malformed file list for {prefix!r}")
        return [check_path(p) for p in reply]

    def hash_file(self, env: str, path: str) -> dict[str, Any] | None:
        """``{hash, size, mode}`` of the master's file at ``path``, or None if it has none."""
        env = check_env(env)
        path = check_path(path)
        reply = self._request("file_hash", {"env": env, "path": path})
        if reply is None:
            return None
        return _check_hash_reply(reply, path)

    # --- the local cache -------------------------------------------------------

    def local_path(self, env: str, path: str) -> str:
        """Where the cached copy of ``path`` in ``env`` lives (checked, never outside the cache)."""
        return os.path.join(self.root, check_env(env), *check_path(path).split("/"))

    def cache_file(self, path_or_url: str, env: str = DEFAULT_ENV) -> str | None:
        """Bring the cached copy of a master file up to date; its local path, or None if missing.

        Nothing is downloaded when the cached copy already has the master's hash.
        """
        env, path = split_source(path_or_url, env)
        remote = self.hash_file(env, path)
        if remote is None:
            return None
        dest = self.local_path(env, path)
        try:
            if self._matches(dest, remote["hash"]):
                if os.stat(dest).st_mode & 0o7777 != remote["mode"] & 0o777:
                    os.chmod(dest, remote["mode"] & 0o777)
                return dest
            return self._download(env, path, dest)
        except OSError as exc:
            raise FileServerError(f"cannot write the cached copy {dest}: {exc.strerror or exc}")

    def cache_dir(self, prefix: str, env: str = DEFAULT_ENV) -> list[str]:
        """Cache every file under the folder ``prefix`` (a URL or a path); their local paths."""
        env, folder = split_source(prefix, env, folder=True)
        cached = []
        for path in self.list_files(env, folder):
            local = self.cache_file(path, env)
            if local is not None:  # removed on the master since it was listed
                cached.append(local)
        return cached

    def _matches(self, dest: str, digest: str) -> bool:
        try:
            if os.path.islink(dest):
                return False  # we never write links; replace it with the file
            return self.hashes.hash_path(dest) == digest
        except OSError:
            return False

    def _download(self, env: str, path: str, dest: str) -> str:
        folder = os.path.dirname(dest)
        if not os.path.isdir(self.root):
            os.makedirs(self.root, mode=0o700, exist_ok=True)
        os.makedirs(folder, exist_ok=True)
        for _attempt in range(DOWNLOAD_ATTEMPTS):
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".ff-part-")
            try:
                with os.fdopen(fd, "wb") as out:
                    mode = self._fetch_into(out, env, path)
                os.chmod(tmp, mode & 0o777)
                os.replace(tmp, dest)
                return dest
            except _Changed:
                continue
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
        raise FileServerError(
            f"{path!r} kept changing on the master while it was downloaded; try again"
        )

    def _fetch_into(self, out: IO[bytes], env: str, path: str) -> int:
        """Write the master's file to ``out`` chunk by chunk; its mode, once the hash checks out."""
        digest = hashlib.sha256()
        offset = 0
        first: dict[str, Any] | None = None
        while True:
            reply = self._request("file_fetch", {"env": env, "path": path, "offset": offset})
            _check_hash_reply(reply, path)
            data = reply.get("data")
            if not isinstance(data, bytes) or reply.get("offset") != offset:
                raise FileServerError(f"master sent a malformed chunk of {path!r}")
            if first is None:
                first = reply
            elif (reply["hash"], reply["size"]) != (first["hash"], first["size"]):
                raise _Changed()
            size = first["size"]
            if offset + len(data) > size or (not data and offset < size):
                raise FileServerError(f"master sent a chunk of {path!r} that does not fit its size")
            out.write(data)
            digest.update(data)
            offset += len(data)
            if offset == size:
                break
        if HASH_PREFIX + digest.hexdigest() != first["hash"]:
            raise FileServerError(f"downloaded {path!r} does not match the master's hash")
        mode: int = first["mode"]
        return mode


def local_client(cachedir: str, roots: Mapping[str, list[str]]) -> FileClient:
    """A file client served by a :class:`FileServer` in this process (``ff-call --local``).

    Masterless runs read the state tree from the minion's own ``file_roots``
    through the same client (and the same path rules) as a minion that asks
    its master.
    """
    server = FileServer(roots)
    calls: dict[str, Callable[[dict[str, Any]], Any]] = {
        "file_list": lambda b: server.list_files(b["env"], b["prefix"]),
        "file_hash": lambda b: server.file_hash(b["env"], b["path"]),
        "file_fetch": lambda b: server.fetch(b["env"], b["path"], b["offset"]),
    }

    def request(kind: str, body: dict[str, Any]) -> Any:
        return calls[kind](body)

    client = FileClient(cachedir, request)
    client.roots = {env: list(folders) for env, folders in roots.items()}
    return client
