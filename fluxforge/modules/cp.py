"""Copy files from the master's file server (``ff://``/``salt://``) to the minion.

Salt's ``cp`` execution module. Every function goes through the job's file
client, ``current().files``: the master's file server on a minion, the
local ``file_roots`` under ``ff-call --local``. Files are cached under
``<cachedir>/files/<env>/`` and downloaded only when their sha256 changed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from typing import Any

from fluxforge.errors import ExecutionError, FileServerError
from fluxforge.files.client import split_source
from fluxforge.files.server import DEFAULT_ENV, HASH_PREFIX
from fluxforge.highstate import template as tpl
from fluxforge.plugins.context import current
from fluxforge.render.renderers import render


def _client(fname: str) -> Any:
    files = current().files
    if files is None:
        raise ExecutionError(
            f"cp.{fname} needs a file client (a running minion, or ff-call --local with file_roots)"
        )
    return files


def _render_path(fname: str, text: str, saltenv: str, template: str | None) -> str:
    """A path with Jinja rendered in it, as Salt's ``template=jinja`` does for cp paths."""
    if not template:
        return text
    if template != "jinja":
        raise ExecutionError(f"cp.{fname}: template {template!r} is not supported; only jinja")
    rendered: str = render(
        text, name=text, context=tpl.context(current(), saltenv), default="jinja"
    )
    return rendered.strip()


def _copy_into(fname: str, local: str, dest: str) -> None:
    """Copy the cached ``local`` to ``dest`` atomically, with its mode."""
    folder = os.path.dirname(dest) or "."
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".ff-cp-")
        os.close(fd)
        try:
            shutil.copyfile(local, tmp)
            shutil.copymode(local, tmp)
            os.replace(tmp, dest)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError as exc:
        raise ExecutionError(f"cp.{fname}: cannot write {dest}: {exc.strerror or exc}")


def _cache(fname: str, path: str, saltenv: str) -> str | None:
    try:
        local: str | None = _client(fname).cache_file(path, saltenv)
    except FileServerError as exc:
        raise ExecutionError(f"cp.{fname}: {exc}")
    return local


def get_file(
    path: str,
    dest: str,
    saltenv: str = DEFAULT_ENV,
    makedirs: bool = False,
    template: str | None = None,
) -> str:
    """Copy the file server's ``path`` (``ff://web/motd``) to ``dest`` on the minion.

    A ``dest`` that is a folder receives the file under its own name.
    ``makedirs=True`` makes missing parent folders. ``template=jinja``
    renders Jinja in the two paths (not in the file), as in Salt. Returns
    the path written, or ``""`` when the file server has no such file.

    CLI example: ``ff '*' cp.get_file ff://web/motd /etc/motd``
    """
    path = _render_path("get_file", path, saltenv, template)
    dest = _render_path("get_file", os.path.expanduser(dest), saltenv, template)
    if not os.path.isabs(dest):
        raise ExecutionError(f"cp.get_file: {dest}: the destination must be an absolute path")
    local = _cache("get_file", path, saltenv)
    if local is None:
        return ""
    if os.path.isdir(dest):
        dest = os.path.join(dest, os.path.basename(local))
    folder = os.path.dirname(dest)
    if not os.path.isdir(folder):
        if not makedirs:
            raise ExecutionError(f"cp.get_file: {folder} does not exist; use makedirs=True")
        os.makedirs(folder, exist_ok=True)
    _copy_into("get_file", local, dest)
    return dest


def get_dir(
    path: str, dest: str, saltenv: str = DEFAULT_ENV, template: str | None = None
) -> list[str]:
    """Copy the folder ``path`` of the file server, with everything in it, into ``dest``.

    As in Salt, the folder itself is copied: ``cp.get_dir ff://web/conf
    /srv`` writes ``/srv/conf/...``. Returns the paths written (``[]`` when
    the file server has nothing under ``path``).

    CLI example: ``ff '*' cp.get_dir ff://web/conf /srv``
    """
    path = _render_path("get_dir", path, saltenv, template)
    dest = _render_path("get_dir", os.path.expanduser(dest), saltenv, template)
    if not os.path.isabs(dest):
        raise ExecutionError(f"cp.get_dir: {dest}: the destination must be an absolute path")
    files = _client("get_dir")
    try:
        env, folder = split_source(path, saltenv, folder=True)
        names = files.list_files(env, folder)
    except FileServerError as exc:
        raise ExecutionError(f"cp.get_dir: {exc}")
    parent = folder.rpartition("/")[0]
    written = []
    for name in names:
        local = _cache("get_dir", name, env)
        if local is None:
            continue  # removed on the master since it was listed
        target = os.path.join(dest, *name[len(parent) :].lstrip("/").split("/"))
        try:
            os.makedirs(os.path.dirname(target), exist_ok=True)
        except OSError as exc:
            raise ExecutionError(f"cp.get_dir: cannot make {os.path.dirname(target)}: {exc}")
        _copy_into("get_dir", local, target)
        written.append(target)
    return written


def list_master(saltenv: str = DEFAULT_ENV, prefix: str = "") -> list[str]:
    """Return the sorted paths of the file server's files in ``saltenv`` under ``prefix``.

    CLI example: ``ff '*' cp.list_master prefix=web``
    """
    try:
        names: list[str] = _client("list_master").list_files(saltenv, prefix.strip("/"))
    except FileServerError as exc:
        raise ExecutionError(f"cp.list_master: {exc}")
    return names


def hash_file(path: str, saltenv: str = DEFAULT_ENV) -> dict[str, str]:
    """Return ``{"hash_type": "sha256", "hsum": "<hex>"}`` of a file-server file.

    An absolute path hashes the minion's own file instead. ``{}`` when
    there is no such file.

    CLI example: ``ff '*' cp.hash_file ff://web/motd``
    """
    if os.path.isabs(path):
        try:
            with open(path, "rb") as fh:
                return {
                    "hash_type": "sha256",
                    "hsum": hashlib.file_digest(fh, "sha256").hexdigest(),
                }
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ExecutionError(f"cp.hash_file: {path}: {exc.strerror or exc}")
    files = _client("hash_file")
    try:
        env, rel = split_source(path, saltenv)
        info = files.hash_file(env, rel)
    except FileServerError as exc:
        raise ExecutionError(f"cp.hash_file: {exc}")
    if info is None:
        return {}
    return {"hash_type": "sha256", "hsum": info["hash"].removeprefix(HASH_PREFIX)}


def cache_file(path: str, saltenv: str = DEFAULT_ENV) -> str | bool:
    """Bring a file-server file into the minion's cache; return its local path.

    Returns False (as Salt does) when the file server has no such file.

    CLI example: ``ff '*' cp.cache_file ff://web/motd``
    """
    local = _cache("cache_file", path, saltenv)
    return local if local is not None else False
