"""File states: ``file.managed``, ``file.directory``, ``file.symlink``, ``file.recurse`` ...

Salt's ``file`` states, by the same names and arguments. Every state plans
first and acts second (see "Writing state modules" in ``docs/modules.md``):
it works out its ``changes`` from the arguments and what is on disk and
hands them to :func:`~fluxforge.plugins.stateresult.apply_changes`, which
returns them with ``result: None`` in test mode and otherwise applies
exactly them. So a test run predicts the real run, and a second real run
finds nothing to change.

Change formats, as in Salt:

- content: ``{"diff": "<unified diff>"}``, ``{"diff": "New file"}`` for a
  file that did not exist, ``"Replace binary file"`` when either side is not
  text, ``"<show_changes=False>"`` when hidden;
- attributes: ``{"mode": "0644", "user": "www-data", "group": "www-data"}``,
  only those that differ;
- ``file.directory``: ``{name: "New Dir"}``; with ``recurse`` one entry per
  path changed, ``{path: {"mode": ..., "user": ...}}``; with ``clean``
  ``{"removed": [paths]}``;
- ``file.recurse``: ``{path: {"diff": ..., "mode": ...}}`` per file,
  ``{dir: "New Dir"}`` per folder made, ``{"removed": [paths]}``;
- ``file.absent``: ``{"removed": name}``; ``file.symlink``: ``{"new": name}``,
  ``{"change": name}`` when retargeted, plus ``{"forced": ...}``;
  ``file.touch``: ``{"new": name}`` or ``{"touched": name}``.

``clean`` (of ``directory`` and ``recurse``) is simpler than Salt's, which
keeps files that other states of the run manage: here it removes every entry
inside the folder that is neither wanted by the state itself (the source
files of ``recurse``) nor matched by ``exclude_pat`` (a glob of the relative
path or base name, or ``E@<regex>``).

The states take ``**kwargs`` only to accept Salt's arguments that they do
not act on; ``STRICT_ARGUMENTS`` tells the state compiler that an argument
neither the function nor Salt's state of that name takes (``SALT_ARGUMENTS``)
is a mistake (``sourc:``); one of Salt's it ignores gets a warning.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import time
from typing import Any

from fluxforge.errors import ExecutionError
from fluxforge.files.client import FileClient, split_source
from fluxforge.files.server import DEFAULT_ENV
from fluxforge.highstate import template as tpl
from fluxforge.host import fileops
from fluxforge.plugins.context import JobContext, current
from fluxforge.plugins.stateresult import StateResult, apply_changes, catch_errors, require
from fluxforge.render.renderers import render
from fluxforge.states._salt_arguments import SALT_FILE_ARGUMENTS

STRICT_ARGUMENTS = True
# Salt's file-state arguments: accepted with a warning where ours ignore them.
SALT_ARGUMENTS = SALT_FILE_ARGUMENTS


_ATTRS = ("mode", "user", "group")


def _abs(name: str) -> str:
    path = os.path.expanduser(str(name))
    if not os.path.isabs(path):
        raise ExecutionError(f"Specified file {name} is not an absolute path")
    return os.path.normpath(path)


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _content_diff(old: bytes, new: bytes, show_changes: bool) -> str:
    if not show_changes:
        return "<show_changes=False>"
    try:
        return fileops.diff_text(old.decode(), new.decode())
    except UnicodeDecodeError:
        return "Replace binary file"


def _plan_file(
    path: str, data: bytes | None, user: Any, group: Any, mode: Any, show_changes: bool = True
) -> dict[str, Any]:
    """What writing ``data`` (None: keep the content) with these attributes would change."""
    st = os.stat(path) if os.path.exists(path) else None
    changes: dict[str, Any] = {}
    if data is not None:
        if st is None:
            changes["diff"] = "New file"
        else:
            old = _read_bytes(path)
            if old != data:
                changes["diff"] = _content_diff(old, data, show_changes)
    changes.update(fileops.plan_attrs(st, user, group, mode, fileops.default_mode()))
    return changes


def _apply_file(path: str, data: bytes | None, changes: dict[str, Any]) -> None:
    if data is not None and "diff" in changes:
        fileops.atomic_write(path, data)
    fileops.apply_attrs(path, {k: v for k, v in changes.items() if k in _ATTRS})


def _parent(path: str, makedirs: bool, what: str) -> str | None:
    """The missing parent folder to make, None if it exists; an error without ``makedirs``."""
    parent = os.path.dirname(path)
    if os.path.isdir(parent):
        return None
    # A state earlier in the run (file.directory) may create it: a test run plans on.
    require(makedirs, f"Parent directory {parent} of {what} is not present (see makedirs)")
    return parent if makedirs else None


def _make_parent(parent: str | None, user: Any, group: Any, dir_mode: Any) -> None:
    if parent is not None:
        fileops.make_dirs("makedirs", parent, user, group, dir_mode)


# --- file.managed ---------------------------------------------------------------


def _client(ctx: JobContext, what: str) -> FileClient:
    if ctx.files is None:
        raise ExecutionError(
            f"{what} needs a file client (a running minion, or ff-call --local with file_roots)"
        )
    return ctx.files


def _fetch(ctx: JobContext, source: Any, saltenv: str) -> tuple[str, bytes]:
    """``(source, data)`` of the first of ``source`` (one or a list) that exists."""
    tried = []
    for item in source if isinstance(source, list) else [source]:
        src = next(iter(item)) if isinstance(item, dict) and len(item) == 1 else item
        if not isinstance(src, str) or not src:
            raise ExecutionError(f"source must be text or a list of texts, got {src!r}")
        tried.append(src)
        scheme = src.partition("://")[0] if "://" in src else ""
        if scheme == "file" or (not scheme and os.path.isabs(src)):
            local: str | None = src.removeprefix("file://")
            if local is not None and not os.path.isfile(local):
                local = None
        elif scheme in ("", "ff", "salt"):
            local = _client(ctx, f"source {src}").cache_file(src, saltenv)
        else:
            raise ExecutionError(f"source {src}: only ff://, salt://, file:// and local paths")
        if local is not None:
            return src, _read_bytes(local)
    raise ExecutionError(f"Source file {', '.join(tried)} not found")


def _render(
    ctx: JobContext, text: str, label: str, saltenv: str, template: str, variables: dict[str, Any]
) -> str:
    if template != "jinja":
        raise ExecutionError(f"template {template!r} is not supported; only jinja")
    context = tpl.context(ctx, saltenv)
    context.update(variables)
    loader = tpl.loader_for(ctx.files, saltenv) if ctx.files is not None else None
    rendered: str = render(text, name=label, context=context, default="jinja", loader=loader)
    return rendered


def _lookup(ctx: JobContext, data: Any, key: str, what: str) -> Any:
    if what == "Pillar" and ctx.pillar_error:
        raise ExecutionError(f"the pillar did not compile: {ctx.pillar_error}")
    for part in key.split(":"):
        if not isinstance(data, dict) or part not in data:
            raise ExecutionError(f"{what} {key} does not exist")
        data = data[part]
    return data


def _contents_text(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return value if isinstance(value, str) else str(value)


def _wanted(ctx: JobContext, name: str, saltenv: str, args: dict[str, Any]) -> bytes | None:
    """The bytes ``file.managed`` should write, from its content arguments; None for none."""
    given = [k for k in ("source", "contents", "contents_pillar", "contents_grains") if args[k]]
    given += ["contents"] if args["contents"] == "" else []
    if len(given) > 1:
        raise ExecutionError(
            "Only one of 'contents', 'contents_pillar', 'contents_grains' and 'source' is permitted"
        )
    if not given:
        return None
    variables = {**(args["defaults"] or {}), **(args["context"] or {})}
    if given[0] == "source":
        label, data = _fetch(ctx, args["source"], saltenv)
        if args["source_hash"]:
            hash_name = args["source_hash_name"]
            names = [str(hash_name)] if hash_name else [posixpath.basename(label.split("?")[0])]
            names += [] if hash_name else [os.path.basename(name)]
            form, want = fileops.source_digest(
                "managed",
                str(args["source_hash"]),
                names,
                lambda url: _client(ctx, f"source_hash {url}").cache_file(url, saltenv),
            )
            fileops.check_digest("managed", label, data, form, want)
        if not args["template"]:
            return data
        try:
            text = data.decode()
        except UnicodeDecodeError:
            raise ExecutionError(f"template source {label} is not UTF-8 text")
        return _render(ctx, text, label, saltenv, args["template"], variables).encode()
    if given[0] == "contents_pillar":
        value = _lookup(ctx, ctx.pillar, str(args["contents_pillar"]), "Pillar")
    elif given[0] == "contents_grains":
        value = _lookup(ctx, ctx.grains, str(args["contents_grains"]), "Grain")
    else:
        value = args["contents"]
    text = _contents_text(value)
    if args["template"]:
        text = _render(ctx, text, name, saltenv, args["template"], variables)
    if args["contents_newline"] and not text.endswith("\n"):
        text += "\n"
    return text.encode()


def _backup(ctx: JobContext, path: str) -> str:
    """Copy ``path`` to ``<cachedir>/file_backup/<path>_<timestamp>``; the copy's path."""
    stamp = time.strftime("%Y%m%d_%H%M%S") + f"_{time.time_ns() // 1000 % 1_000_000:06d}"
    dest = os.path.join(ctx.opts.cachedir, "file_backup", path.lstrip("/") + "_" + stamp)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    shutil.copy2(path, dest)
    return dest


@catch_errors
def managed(
    name: str,
    source: Any = None,
    source_hash: str = "",
    source_hash_name: str | None = None,
    user: str | None = None,
    group: str | None = None,
    mode: Any = None,
    template: str | None = None,
    makedirs: bool = False,
    dir_mode: Any = None,
    context: dict[str, Any] | None = None,
    replace: bool = True,
    defaults: dict[str, Any] | None = None,
    backup: str = "",
    show_changes: bool = True,
    create: bool = True,
    contents: Any = None,
    contents_pillar: str | None = None,
    contents_grains: str | None = None,
    contents_newline: bool = True,
    follow_symlinks: bool = True,
    saltenv: str = DEFAULT_ENV,
    **kwargs: Any,
) -> StateResult:
    """Manage the file ``name``: its content, owner, group and mode.

    The content comes from one of ``source`` (an ``ff://``/``salt://`` URL
    of the file server, a ``file://`` URL or an absolute local path; a list
    means the first that exists), ``contents`` (text, or a list of lines),
    ``contents_pillar``/``contents_grains`` (a ``a:b:c`` key). ``template:
    jinja`` renders it with grains, pillar, ``ff``/``salt`` and ``defaults``
    updated by ``context``. ``source_hash`` (``sha256=<hex>``,
    ``sha256:<hex>`` or a bare digest) must match the source or the state
    fails; it may also be the ``ff://``/``salt://``/``file://`` URL of a
    hash file: a bare digest, or ``sha256sum``/``md5sum`` lines, of which
    the one for the source's base name (else the base name of ``name``; or
    ``source_hash_name`` when given) counts. Without any content argument,
    the file is only made (empty) if missing.

    ``replace: False`` leaves the content of an existing file alone.
    ``create: False`` does nothing when the file is missing. ``makedirs``
    makes missing parent folders (with ``dir_mode``, ``user``, ``group``).
    ``backup: minion`` copies the old file to
    ``<cachedir>/file_backup/<path>_<timestamp>`` before changing it. A link
    at ``name`` is followed unless ``follow_symlinks: False``.
    """
    ctx = current()
    path = _abs(name)
    if follow_symlinks and os.path.islink(path):
        path = os.path.realpath(path)
    if os.path.isdir(path):
        raise ExecutionError(f"Specified target {name} is a directory")
    present = os.path.lexists(path)
    if not present and not create:
        return StateResult(name, comment=f"File {name} is not present and is not set for creation")
    args = {"source": source, "contents": contents, "contents_pillar": contents_pillar}
    args.update(contents_grains=contents_grains, source_hash=source_hash, template=template)
    args.update(source_hash_name=source_hash_name)
    args.update(defaults=defaults, context=context, contents_newline=contents_newline)
    data = _wanted(ctx, name, saltenv, args)
    a_link = os.path.islink(path)  # only when not following links: replaced by a file
    if present and not replace and not a_link:
        data = None
    elif data is None and (not present or a_link):
        data = b""
    parent = _parent(path, makedirs, name)
    if a_link:
        changes = {"diff": "New file"}
        changes.update(fileops.plan_attrs(None, user, group, mode, fileops.default_mode()))
    else:
        changes = _plan_file(path, data, user, group, mode, show_changes)

    def apply() -> None:
        _make_parent(parent, user, group, dir_mode)
        if backup == "minion" and present and not a_link and "diff" in changes:
            _backup(ctx, path)
        if a_link:
            os.unlink(path)
        _apply_file(path, data, changes)

    return apply_changes(
        name, changes, apply, f"File {name} is in the correct state", f"File {name} updated"
    )


# --- folders ---------------------------------------------------------------------


_RECURSE = {"user", "group", "mode", "ignore_files", "ignore_dirs", "silent"}


@catch_errors
def directory(
    name: str,
    user: str | None = None,
    group: str | None = None,
    recurse: list[str] | None = None,
    dir_mode: Any = None,
    file_mode: Any = None,
    makedirs: bool = False,
    clean: bool = False,
    exclude_pat: str | None = None,
    mode: Any = None,
    **kwargs: Any,
) -> StateResult:
    """Ensure the folder ``name`` exists with ``user``, ``group`` and ``dir_mode`` (or ``mode``).

    ``makedirs`` makes missing parents. ``recurse`` (a list of ``user``,
    ``group``, ``mode``, ``ignore_files``, ``ignore_dirs``) applies the
    owner and group, and ``dir_mode``/``file_mode``, to everything inside.
    ``clean: True`` removes everything inside that ``exclude_pat`` (a glob,
    or ``E@<regex>``, of the relative path or base name) does not match.
    """
    path = _abs(name)
    dir_mode = dir_mode if dir_mode is not None else mode
    words = set(recurse or [])
    if not words <= _RECURSE:
        raise ExecutionError(f"recurse: unknown {', '.join(sorted(words - _RECURSE))}")
    if os.path.lexists(path) and not os.path.isdir(path):
        raise ExecutionError(f"Specified location {name} exists and is a file")
    changes: dict[str, Any] = {}
    exists = os.path.isdir(path)
    if not exists:
        if not makedirs and not os.path.isdir(os.path.dirname(path)):
            raise ExecutionError(f"No directory to create {name} in (see makedirs)")
        changes[name] = "New Dir"
    st = os.stat(path) if exists else None
    top = fileops.plan_attrs(st, user, group, dir_mode, fileops.default_mode(folder=True))
    changes.update(top)
    removed = fileops.plan_clean(path, set(), exclude_pat) if clean and exists else []
    inner: dict[str, dict[str, str]] = {}
    if words and exists:
        for entry, is_dir in fileops.list_tree(path, set(removed)):
            if ("ignore_dirs" if is_dir else "ignore_files") in words:
                continue
            want = (dir_mode if is_dir else file_mode) if "mode" in words else None
            entry_changes = fileops.plan_attrs(
                os.stat(entry),
                user if "user" in words else None,
                group if "group" in words else None,
                want,
            )
            if entry_changes:
                inner[entry] = entry_changes
    changes.update(inner)
    if removed:
        changes["removed"] = removed

    def apply() -> None:
        if not exists:
            os.makedirs(path)
        fileops.apply_attrs(path, top)
        for gone in removed:
            fileops.remove_path(gone)
        for entry, entry_changes in inner.items():
            fileops.apply_attrs(entry, entry_changes)

    return apply_changes(
        name,
        changes,
        apply,
        f"The directory {name} is in the correct state",
        f"Directory {name} updated",
    )


# --- presence, links, times ------------------------------------------------------


@catch_errors
def absent(name: str, **kwargs: Any) -> StateResult:
    """Ensure nothing is at ``name``: a file, a link, or a whole directory is removed."""
    path = _abs(name)
    if path == "/":
        raise ExecutionError("Refusing to remove /")
    kind = "Directory" if os.path.isdir(path) and not os.path.islink(path) else "File"
    changes = {"removed": name} if os.path.lexists(path) else {}
    return apply_changes(
        name,
        changes,
        lambda: fileops.remove_path(path),
        f"File {name} is not present",
        f"{kind} {name} removed",
    )


@catch_errors
def exists(name: str, **kwargs: Any) -> StateResult:
    """Verify that ``name`` exists (a file, a folder or a link); it changes nothing."""
    path = _abs(name)
    if not os.path.lexists(path):
        raise ExecutionError(f"Specified path {name} does not exist")
    return StateResult(name, comment=f"Path {name} exists")


@catch_errors
def missing(name: str, **kwargs: Any) -> StateResult:
    """Verify that nothing is at ``name``; it changes nothing."""
    path = _abs(name)
    if os.path.lexists(path):
        raise ExecutionError(f"Specified path {name} exists")
    return StateResult(name, comment=f"Path {name} is missing")


@catch_errors
def symlink(
    name: str,
    target: str,
    force: bool = False,
    makedirs: bool = False,
    user: str | None = None,
    group: str | None = None,
    **kwargs: Any,
) -> StateResult:
    """Ensure ``name`` is a symbolic link to ``target`` (owned by ``user``/``group``).

    A file or folder in the way fails the state unless ``force: True``
    removes it. ``makedirs`` makes missing parent folders.
    """
    path = _abs(name)
    changes: dict[str, Any] = {}
    is_link = os.path.islink(path)
    if is_link and os.readlink(path) == target:
        st: os.stat_result | None = os.lstat(path)
    elif is_link:
        st = None
        changes["change"] = name
    elif os.path.lexists(path):
        if not force:
            raise ExecutionError(f"File exists where the symlink {name} should be (see force)")
        st = None
        changes.update(forced="Symlink was forcibly replaced", new=name)
    else:
        st = None
        changes["new"] = name
    parent = _parent(path, makedirs, f"symlink {name}")
    owner = fileops.plan_attrs(st, user, group, None)
    changes.update(owner)

    def apply() -> None:
        _make_parent(parent, user, group, None)
        if st is None:
            fileops.remove_path(path)
            os.symlink(target, path)
        fileops.apply_attrs(path, owner, follow=False)

    return apply_changes(
        name,
        changes,
        apply,
        f"Symlink {name} is present",
        f"Created new symlink {name} -> {target}",
    )


@catch_errors
def touch(
    name: str,
    atime: int | None = None,
    mtime: int | None = None,
    makedirs: bool = False,
    **kwargs: Any,
) -> StateResult:
    """Make ``name`` if missing and set its access and modification times, as ``touch``.

    Like Salt, every run of an existing file changes its times and reports
    ``{"touched": name}``; a new file reports ``{"new": name}``.
    """
    path = _abs(name)
    parent = _parent(path, makedirs, name)
    changes = {"touched": name} if os.path.exists(path) else {"new": name}

    def apply() -> None:
        _make_parent(parent, None, None, None)
        fileops.touch_path("touch", path, atime, mtime)

    return apply_changes(
        name,
        changes,
        apply,
        "",
        f"Updated times of {name}" if "touched" in changes else f"Created empty file {name}",
    )


# --- edits -----------------------------------------------------------------------


@catch_errors
def append(
    name: str,
    text: Any = None,
    makedirs: bool = False,
    ignore_whitespace: bool = True,
    **kwargs: Any,
) -> StateResult:
    """Append each chunk of ``text`` (text, or a list) that the file does not already hold.

    With ``ignore_whitespace`` (the default) runs of spaces and line breaks
    do not count when looking for a chunk. A missing file is made.
    """
    path = _abs(name)
    parent = _parent(path, makedirs, name)
    present = os.path.exists(path)
    old = fileops.read_text("append", path) if present else ""
    new = fileops.append_text(old, text, ignore_whitespace)
    changes = (
        {"diff": fileops.diff_text(old, new) or "New file"} if new != old or not present else {}
    )

    def apply() -> None:
        _make_parent(parent, None, None, None)
        fileops.atomic_write(path, new.encode())

    return apply_changes(
        name, changes, apply, f"File {name} is in the correct state", f"Appended to {name}"
    )


@catch_errors
def replace(
    name: str,
    pattern: str,
    repl: str,
    count: int = 0,
    flags: Any = 8,
    bufsize: Any = 1,
    append_if_not_found: bool = False,
    prepend_if_not_found: bool = False,
    not_found_content: str | None = None,
    backup: Any = ".bak",
    show_changes: bool = True,
    ignore_if_missing: bool = False,
    backslash_literal: bool = False,
    **kwargs: Any,
) -> StateResult:
    """Replace the matches of ``pattern`` with ``repl`` in the file ``name``.

    The arguments are those of the ``file.replace`` function: ``count``,
    ``flags``, ``append_if_not_found``/``prepend_if_not_found`` with
    ``not_found_content``, ``backup`` (a suffix, or False), and
    ``ignore_if_missing``.
    """
    path = _abs(name)
    if not os.path.isfile(path):
        if ignore_if_missing and not os.path.lexists(path):
            return StateResult(name, comment=f"{name} is missing")
        raise ExecutionError(f"{name}: no such file")
    old = fileops.read_text("replace", path)
    new, _found = fileops.replace_text(
        old,
        pattern,
        repl,
        count,
        flags,
        append_if_not_found,
        prepend_if_not_found,
        not_found_content,
        backslash_literal,
    )
    changes = {"diff": fileops.diff_text(old, new) if show_changes else "<show_changes=False>"}

    def apply() -> None:
        if backup:
            shutil.copy2(path, path + str(backup))
        fileops.atomic_write(path, new.encode())

    return apply_changes(
        name,
        changes if new != old else {},
        apply,
        "No changes needed to be made",
        f"Changes were made to {name}",
    )


@catch_errors
def line(
    name: str,
    content: str | None = None,
    match: str | None = None,
    mode: str | None = None,
    location: str | None = None,
    before: str | None = None,
    after: str | None = None,
    show_changes: bool = True,
    backup: Any = False,
    quiet: bool = False,
    indent: bool = True,
    create: bool = False,
    user: str | None = None,
    group: str | None = None,
    file_mode: Any = None,
    **kwargs: Any,
) -> StateResult:
    """Edit one line of the file ``name``, as the ``file.line`` function does.

    ``mode`` is ``ensure``, ``replace``, ``delete`` or ``insert`` (see
    ``file.line``). ``create: True`` makes a missing file first, with
    ``user``, ``group`` and ``file_mode``.
    """
    path = _abs(name)
    present = os.path.isfile(path)
    if not present and not create:
        raise ExecutionError(f"{name}: no such file (see create)")
    old = fileops.read_text("line", path) if present else ""
    new = fileops.edit_lines(old, content, match, mode, location, before, after, indent)
    changes: dict[str, Any] = {}
    if new != old:
        changes["diff"] = fileops.diff_text(old, new) if show_changes else "<show_changes=False>"
    elif not present:
        changes["diff"] = "New file"
    if not present:
        changes.update(fileops.plan_attrs(None, user, group, file_mode, fileops.default_mode()))

    def apply() -> None:
        if backup and present:
            shutil.copy2(path, path + (".bak" if backup is True else str(backup)))
        fileops.atomic_write(path, new.encode())
        fileops.apply_attrs(path, {k: v for k, v in changes.items() if k in _ATTRS})

    return apply_changes(
        name, changes, apply, "No changes needed to be made", f"Changes were made to {name}"
    )


# --- file.recurse ------------------------------------------------------------------


@catch_errors
def recurse(
    name: str,
    source: str,
    clean: bool = False,
    user: str | None = None,
    group: str | None = None,
    dir_mode: Any = None,
    file_mode: Any = None,
    makedirs: bool = False,
    exclude_pat: str | None = None,
    template: str | None = None,
    context: dict[str, Any] | None = None,
    defaults: dict[str, Any] | None = None,
    show_changes: bool = True,
    saltenv: str = DEFAULT_ENV,
    **kwargs: Any,
) -> StateResult:
    """Copy the folder ``source`` of the file server (``ff://web/conf``) to the folder ``name``.

    Every file under it is written below ``name`` at the same relative
    path, rendered with ``template: jinja`` if given, with ``user``,
    ``group`` and ``file_mode``; folders get ``dir_mode``. ``exclude_pat``
    (a glob or ``E@<regex>`` of the relative path) skips source files and,
    with ``clean: True``, protects local ones: everything else inside
    ``name`` that the source does not have is removed.
    """
    ctx = current()
    path = _abs(name)
    files = _client(ctx, "file.recurse")
    env, prefix = split_source(source, saltenv, folder=True)
    rels = {}
    for remote in files.list_files(env, prefix):
        rel = remote[len(prefix) :].lstrip("/") if prefix else remote
        if not fileops.matches_pattern(rel, exclude_pat):
            rels[rel] = remote
    if not rels:
        raise ExecutionError(f"Recurse failed: the file server has no files under {source}")
    if os.path.lexists(path) and not os.path.isdir(path):
        raise ExecutionError(f"Specified location {name} exists and is not a directory")
    parent = None if os.path.isdir(path) else _parent(path, makedirs, name)
    folders = sorted({os.path.dirname(rel) for rel in rels} | {""})
    folders = sorted({"/".join(f.split("/")[:i]) for f in folders for i in range(f.count("/") + 2)})
    changes: dict[str, Any] = {}
    dir_changes: dict[str, dict[str, str]] = {}
    for folder in folders:
        local = os.path.join(path, folder) if folder else path
        if not os.path.lexists(local):
            changes[local] = "New Dir"
        elif not os.path.isdir(local):
            raise ExecutionError(f"{local} is in the way of a folder of {source}")
        else:
            found = fileops.plan_attrs(os.stat(local), user, group, dir_mode)
            if found:
                changes[local] = dir_changes[local] = found
    variables = {**(defaults or {}), **(context or {})}
    planned: list[tuple[str, bytes, dict[str, Any]]] = []
    for rel, remote in sorted(rels.items()):
        cached = files.cache_file(remote, env)
        if cached is None:
            continue  # removed on the master since it was listed
        data = _read_bytes(cached)
        if template:
            data = _render(ctx, data.decode(), f"{source}/{rel}", env, template, variables).encode()
        dest = os.path.join(path, *rel.split("/"))
        if os.path.isdir(dest):
            raise ExecutionError(f"{dest} is a directory where {source}/{rel} should go")
        file_changes = _plan_file(dest, data, user, group, file_mode, show_changes)
        if file_changes:
            changes[dest] = file_changes
        planned.append((dest, data, file_changes))
    keep = set(rels) | {f for f in folders if f}
    removed = fileops.plan_clean(path, keep, exclude_pat) if clean else []
    if removed:
        changes["removed"] = removed

    def apply() -> None:
        _make_parent(parent, user, group, dir_mode)
        for folder in folders:
            local = os.path.join(path, folder) if folder else path
            if not os.path.isdir(local):
                os.mkdir(local)
                fileops.apply_attrs(
                    local, fileops.plan_attrs(os.stat(local), user, group, dir_mode)
                )
            elif local in dir_changes:
                fileops.apply_attrs(local, dir_changes[local])
        for dest, data, file_changes in planned:
            _apply_file(dest, data, file_changes)
        for gone in removed:
            fileops.remove_path(gone)

    return apply_changes(
        name,
        changes,
        apply,
        f"The directory {name} is in the correct state",
        f"Recursed {source} into {name}",
    )
