"""Files and directories on the minion: read, write, edit, hash, own, find.

Salt's ``file`` execution module, by the same names, arguments and return
values. Paths must be absolute (a leading ``~`` is expanded). A call that
cannot do its work raises one line naming the function, the path and the
cause: ``file.read: /x: no such file``.

The work shared with the ``file`` states lives in :mod:`fluxforge.host.fileops`:
the text edits (``replace``, ``line``) are pure functions of the old text
there (:func:`~fluxforge.host.fileops.replace_text`,
:func:`~fluxforge.host.fileops.edit_lines`) so that the states can plan an edit,
show it in test mode, and only then write it; files are rewritten
atomically (:func:`~fluxforge.host.fileops.atomic_write`: a temporary file in the
same folder, then a rename) keeping the old file's mode and owner.
"""

from __future__ import annotations

import fnmatch
import grp
import os
import pwd
import re
import shutil
import stat
import time
from collections.abc import Callable, Iterator
from typing import Any

from fluxforge.errors import ExecutionError
from fluxforge.host import fileops
from fluxforge.plugins.context import current

_TYPES = {
    stat.S_IFREG: ("f", "file"),
    stat.S_IFDIR: ("d", "dir"),
    stat.S_IFLNK: ("l", "link"),
    stat.S_IFCHR: ("c", "char"),
    stat.S_IFBLK: ("b", "block"),
    stat.S_IFIFO: ("p", "pipe"),
    stat.S_IFSOCK: ("s", "socket"),
}
_SIZE_UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_TIME_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _path(fname: str, path: Any) -> str:
    """``path`` expanded and checked absolute, or a one-line error."""
    if not isinstance(path, str) or not path:
        raise ExecutionError(f"file.{fname}: the path must be non-empty text, got {path!r}")
    expanded = os.path.expanduser(path)
    if not os.path.isabs(expanded):
        raise ExecutionError(f"file.{fname}: {path}: path must be absolute")
    return expanded


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


# --- existence and content ---------------------------------------------------------


def exists(path: str) -> bool:
    """Return True if ``path`` exists (a file, a folder, or a link to one).

    CLI example: ``ff '*' file.exists /etc/passwd``
    """
    return os.path.exists(_path("exists", path))


def file_exists(path: str) -> bool:
    """Return True if ``path`` is a regular file (or a link to one).

    CLI example: ``ff '*' file.file_exists /etc/passwd``
    """
    return os.path.isfile(_path("file_exists", path))


def directory_exists(path: str) -> bool:
    """Return True if ``path`` is a directory (or a link to one).

    CLI example: ``ff '*' file.directory_exists /etc``
    """
    return os.path.isdir(_path("directory_exists", path))


def read(path: str, binary: bool = False) -> str | bytes:
    """Return the contents of the file ``path``: UTF-8 text, or bytes with ``binary=True``.

    CLI example: ``ff '*' file.read /etc/hostname``
    """
    path = _path("read", path)
    if not binary:
        return fileops.read_text("read", path)
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise fileops.explain_oserror("read", path, exc)


def write(path: str, *args: str) -> str:
    """Replace the contents of ``path`` with ``args``, one line each; return a summary.

    Returns ``Wrote N lines to "path"``.

    CLI example: ``ff '*' file.write /etc/motd 'Welcome' 'to web1'``
    """
    path = _path("write", path)
    lines = [f"{arg}\n" for arg in args]
    try:
        fileops.atomic_write(path, "".join(lines).encode())
    except OSError as exc:
        raise fileops.explain_oserror("write", path, exc)
    return f'Wrote {len(lines)} lines to "{path}"'


def append(path: str, *args: str) -> str:
    """Append ``args`` to ``path``, one line each, after a newline if it lacks one.

    The file is made if missing. Returns ``Wrote N lines to "path"``.

    CLI example: ``ff '*' file.append /etc/motd 'line one' 'line two'``
    """
    path = _path("append", path)
    try:
        with open(path, "a+b") as fh:
            fh.seek(0, os.SEEK_END)
            lead = b""
            if fh.tell() > 0:
                fh.seek(-1, os.SEEK_END)
                lead = b"" if fh.read(1) == b"\n" else b"\n"
            fh.write(lead + "".join(f"{arg}\n" for arg in args).encode())
    except OSError as exc:
        raise fileops.explain_oserror("append", path, exc)
    return f'Wrote {len(args)} lines to "{path}"'


def touch(name: str, atime: int | None = None, mtime: int | None = None) -> bool:
    """Make ``name`` if missing and set its access and modification times; return True.

    Without ``atime``/``mtime`` (seconds since the epoch) both become now.

    CLI example: ``ff '*' file.touch /var/run/flag``
    """
    fileops.touch_path("touch", _path("touch", name), atime, mtime)
    return True


def remove(path: str) -> bool:
    """Remove a file, a link or a whole directory; return True, or False if nothing was there.

    CLI example: ``ff '*' file.remove /tmp/old``
    """
    path = _path("remove", path)
    if os.path.normpath(path) == "/":
        raise ExecutionError("file.remove: refusing to remove /")
    try:
        return fileops.remove_path(path)
    except OSError as exc:
        raise fileops.explain_oserror("remove", path, exc)


# --- directories, copies and links -----------------------------------------------


def mkdir(
    dir_path: str, user: str | None = None, group: str | None = None, mode: Any = None
) -> bool:
    """Make the directory ``dir_path`` and its missing parents; return True.

    ``user``, ``group`` and ``mode`` apply to the folders made.

    CLI example: ``ff '*' file.mkdir /opt/app/logs user=www-data mode=0750``
    """
    fileops.make_dirs("mkdir", _path("mkdir", dir_path), user, group, mode)
    return True


def makedirs(path: str, user: str | None = None, group: str | None = None, mode: Any = None) -> Any:
    """Make the folder that will hold the file ``path`` (``path`` itself if it ends with ``/``).

    Returns True when folders were made, or Salt's ``Directory '<dir>'
    already exists`` when there was nothing to do.

    CLI example: ``ff '*' file.makedirs /opt/app/conf/app.yml``
    """
    folder = os.path.dirname(_path("makedirs", path))
    if os.path.isdir(folder):
        return f"Directory '{folder}' already exists"
    fileops.make_dirs("makedirs", folder, user, group, mode)
    return True


def copy(src: str, dst: str, recurse: bool = False, remove_existing: bool = False) -> bool:
    """Copy the file ``src`` to ``dst`` (into it, if ``dst`` is a folder), keeping mode and times.

    A directory needs ``recurse=True``; its contents are merged into ``dst``
    unless ``remove_existing=True`` empties ``dst`` first. Returns True.

    CLI example: ``ff '*' file.copy /etc/hosts /etc/hosts.orig``
    """
    src, dst = _path("copy", src), _path("copy", dst)
    if not os.path.lexists(src):
        raise ExecutionError(f"file.copy: {src}: no such file")
    try:
        if os.path.isdir(src):
            if not recurse:
                raise ExecutionError(f"file.copy: {src} is a directory; use recurse=True")
            if remove_existing and os.path.isdir(dst):
                shutil.rmtree(dst)
            shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dst)
    except OSError as exc:
        raise fileops.explain_oserror("copy", dst, exc)
    return True


def rename(src: str, dst: str) -> bool:
    """Move ``src`` to ``dst`` (replacing a file there); return True.

    CLI example: ``ff '*' file.rename /tmp/a /tmp/b``
    """
    src, dst = _path("rename", src), _path("rename", dst)
    if not os.path.lexists(src):
        raise ExecutionError(f"file.rename: {src}: no such file")
    try:
        os.rename(src, dst)
    except OSError as exc:
        raise fileops.explain_oserror("rename", dst, exc)
    return True


def symlink(src: str, path: str, force: bool = False) -> bool:
    """Make ``path`` a symbolic link to ``src``; return True.

    An existing file or link at ``path`` is an error unless ``force=True``
    (a directory is never replaced).

    CLI example: ``ff '*' file.symlink /opt/app-2.1 /opt/app force=True``
    """
    path = _path("symlink", path)
    if os.path.islink(path) and os.readlink(path) == src:
        return True
    try:
        if os.path.lexists(path):
            if not force:
                raise ExecutionError(f"file.symlink: {path}: already exists; use force=True")
            if os.path.isdir(path) and not os.path.islink(path):
                raise ExecutionError(f"file.symlink: {path}: is a directory")
            os.remove(path)
        os.symlink(src, path)
    except OSError as exc:
        raise fileops.explain_oserror("symlink", path, exc)
    return True


# --- metadata ---------------------------------------------------------------------


def stats(path: str, hash_type: str | None = None, follow_symlinks: bool = True) -> dict[str, Any]:
    """Return what is known of ``path``: inode, uid, gid, user, group, atime, mtime,
    ctime, size, mode (``'0644'``), type (file, dir, link ...), target (the real path),
    and ``sum`` with ``hash_type`` (a file only).

    CLI example: ``ff '*' file.stats /etc/passwd hash_type=sha256``
    """
    path = _path("stats", path)
    try:
        st = os.stat(path) if follow_symlinks else os.lstat(path)
    except OSError as exc:
        raise fileops.explain_oserror("stats", path, exc)
    out: dict[str, Any] = {
        "inode": st.st_ino,
        "uid": st.st_uid,
        "gid": st.st_gid,
        "user": _user_name(st.st_uid),
        "group": _group_name(st.st_gid),
        "atime": st.st_atime,
        "mtime": st.st_mtime,
        "ctime": st.st_ctime,
        "size": st.st_size,
        "mode": f"{stat.S_IMODE(st.st_mode):04o}",
        "type": _TYPES.get(stat.S_IFMT(st.st_mode), ("?", "unknown"))[1],
        "target": os.path.realpath(path),
    }
    if hash_type and stat.S_ISREG(st.st_mode):
        out["sum"] = fileops.hash_file("stats", path, hash_type)
    return out


def get_hash(path: str, form: str = "sha256", chunk_size: int = 65536) -> str:
    """Return the hex digest of the file ``path`` (``form``: sha256, sha512, md5 ...).

    CLI example: ``ff '*' file.get_hash /etc/passwd form=sha512``
    """
    return fileops.hash_file("get_hash", _path("get_hash", path), form, int(chunk_size))


def check_hash(path: str, file_hash: str) -> bool:
    """Return True if the file's hash is ``file_hash``: ``sha256:<hex>``, ``sha256=<hex>``,
    or a bare digest whose type its length tells.

    CLI example: ``ff '*' file.check_hash /etc/motd sha256=e3b0c442...``
    """
    path = _path("check_hash", path)
    form, digest = fileops.split_hash("check_hash", file_hash)
    return fileops.hash_file("check_hash", path, form) == digest


def get_mode(path: str, follow_symlinks: bool = True) -> str:
    """Return the permission bits of ``path`` as four octal digits, such as ``'0644'``.

    CLI example: ``ff '*' file.get_mode /etc/passwd``
    """
    path = _path("get_mode", path)
    try:
        st = os.stat(path) if follow_symlinks else os.lstat(path)
    except OSError as exc:
        raise fileops.explain_oserror("get_mode", path, exc)
    return f"{stat.S_IMODE(st.st_mode):04o}"


def set_mode(path: str, mode: str) -> str:
    """Set the permission bits of ``path`` (``0644``, ``755``); return the new mode.

    CLI example: ``ff '*' file.set_mode /etc/app.conf 0640``
    """
    path = _path("set_mode", path)
    try:
        want = fileops.normalize_mode(mode)
    except ExecutionError as exc:
        raise ExecutionError(f"file.set_mode: {exc}")
    try:
        os.chmod(path, int(want or "0", 8))
    except OSError as exc:
        raise fileops.explain_oserror("set_mode", path, exc)
    return get_mode(path)


def chown(path: str, user: str | None = None, group: str | None = None) -> bool:
    """Set the owner and group of ``path`` (names or numeric ids; None keeps); return True.

    CLI example: ``ff '*' file.chown /srv/www www-data www-data``
    """
    path = _path("chown", path)
    try:
        uid = fileops.lookup_uid(user) if user not in (None, "") else -1
        gid = fileops.lookup_gid(group) if group not in (None, "") else -1
    except ExecutionError as exc:
        raise ExecutionError(f"file.chown: {exc}")
    if not os.path.lexists(path):
        raise ExecutionError(f"file.chown: {path}: no such file")
    try:
        os.chown(path, uid, gid)
    except OSError as exc:
        raise fileops.explain_oserror("chown", path, exc)
    return True


# --- find ---------------------------------------------------------------------------


def _walk(root: str, maxdepth: int | None) -> Iterator[tuple[str, int]]:
    """``(path, depth)`` of ``root`` (depth 0) and everything under it, in path order.

    Links are not followed.
    """
    yield root, 0
    yield from _walk_under(root, 1, maxdepth)


def _walk_under(folder: str, depth: int, maxdepth: int | None) -> Iterator[tuple[str, int]]:
    if maxdepth is not None and depth > maxdepth:
        return
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        yield entry.path, depth
        if entry.is_dir(follow_symlinks=False):
            yield from _walk_under(entry.path, depth + 1, maxdepth)


def _number(fname: str, text: Any, units: dict[str, int], default: str) -> tuple[str, int]:
    """``('+'|'-'|'', amount)`` of ``+10m``, ``-2d``, ``5``."""
    match = re.fullmatch(r"([+-]?)(\d+)([a-zA-Z]?)", str(text).strip())
    unit = (match.group(3) or default).lower() if match else ""
    if match is None or unit not in units:
        raise ExecutionError(f"file.find: {fname}={text!r}: want [+-]<number>[{''.join(units)}]")
    return match.group(1), int(match.group(2)) * units[unit]


def _name_search(rx: re.Pattern[str]) -> Callable[[str, os.stat_result], bool]:
    return lambda p, st: rx.search(os.path.basename(p)) is not None


def _find_test(criteria: dict[str, Any]) -> Any:
    """A predicate ``(path, lstat) -> bool`` for the criteria of :func:`find`."""
    checks: list[Callable[[str, os.stat_result], bool]] = []
    name, iname, regex, iregex = (criteria.get(k) for k in ("name", "iname", "regex", "iregex"))
    if name is not None:
        checks.append(lambda p, st: fnmatch.fnmatchcase(os.path.basename(p), str(name)))
    if iname is not None:
        low = str(iname).lower()
        checks.append(lambda p, st: fnmatch.fnmatchcase(os.path.basename(p).lower(), low))
    for pattern, flags in ((regex, 0), (iregex, re.IGNORECASE)):
        if pattern is not None:
            checks.append(_name_search(fileops.compile_regex("find", str(pattern), flags)))
    if criteria.get("type") is not None:
        kinds = set(str(criteria["type"]))
        if not kinds <= {"b", "c", "d", "p", "f", "l", "s"}:
            raise ExecutionError(f"file.find: type={criteria['type']!r}: letters of bcdpfls")
        checks.append(lambda p, st: _TYPES.get(stat.S_IFMT(st.st_mode), ("?",))[0] in kinds)
    if criteria.get("user") is not None:
        uid = fileops.lookup_uid(criteria["user"])
        checks.append(lambda p, st: st.st_uid == uid)
    if criteria.get("group") is not None:
        gid = fileops.lookup_gid(criteria["group"])
        checks.append(lambda p, st: st.st_gid == gid)
    if criteria.get("size") is not None:
        sign, size = _number("size", criteria["size"], _SIZE_UNITS, "b")
        checks.append(
            lambda p, st: (
                st.st_size >= size
                if sign == "+"
                else st.st_size <= size
                if sign == "-"
                else st.st_size == size
            )
        )
    if criteria.get("mtime") is not None:
        sign, age = _number("mtime", criteria["mtime"], _TIME_UNITS, "d")
        now = time.time()
        checks.append(
            lambda p, st: (now - st.st_mtime >= age) if sign == "+" else now - st.st_mtime <= age
        )
    return lambda p, st: all(check(p, st) for check in checks)


_PRINT = {
    "path": lambda p, st: p,
    "name": lambda p, st: os.path.basename(p),
    "type": lambda p, st: _TYPES.get(stat.S_IFMT(st.st_mode), ("?",))[0],
    "size": lambda p, st: st.st_size,
    "mode": lambda p, st: f"{stat.S_IMODE(st.st_mode):04o}",
    "user": lambda p, st: _user_name(st.st_uid),
    "group": lambda p, st: _group_name(st.st_gid),
    "mtime": lambda p, st: int(st.st_mtime),
}


def find(
    path: str,
    name: str | None = None,
    iname: str | None = None,
    regex: str | None = None,
    iregex: str | None = None,
    type: str | None = None,
    user: str | None = None,
    group: str | None = None,
    size: str | None = None,
    mtime: str | None = None,
    mindepth: int | None = None,
    maxdepth: int | None = None,
    **kwargs: Any,
) -> list[Any]:
    """Return what is under ``path`` (itself at depth 0) matching every criterion given.

    - ``name``/``iname``: a glob of the base name (``iname`` ignores case);
      ``regex``/``iregex``: a regular expression searched in the base name.
    - ``type``: letters of ``f`` file, ``d`` dir, ``l`` link, ``p`` pipe,
      ``s`` socket, ``b``/``c`` devices, such as ``fl``.
    - ``user``/``group``: owner, a name or id.
    - ``size``: ``+N`` at least, ``-N`` at most, ``N`` exactly; units b
      (default), k, m, g, t.
    - ``mtime``: ``+N`` modified at least N ago, ``N``/``-N`` at most N ago;
      units s, m, h, d (default), w.
    - ``mindepth``/``maxdepth``: levels below ``path``.
    - ``print``: what to return of each match, comma-separated among path
      (default), name, type, size, mode, user, group, mtime. One field gives
      a list of values, several a list of dicts.

    Links are not followed. CLI example: ``ff '*' file.find /var/log name='*.gz' mtime=+7``
    """
    root = _path("find", path)
    fields = [f.strip() for f in str(kwargs.pop("print", "path")).split(",") if f.strip()]
    if kwargs:
        raise ExecutionError(f"file.find: unknown criteria {', '.join(sorted(kwargs))}")
    if bad := [f for f in fields if f not in _PRINT]:
        raise ExecutionError(f"file.find: print={','.join(bad)}: not among {', '.join(_PRINT)}")
    if not os.path.lexists(root):
        raise ExecutionError(f"file.find: {root}: no such file")
    criteria = {"name": name, "iname": iname, "regex": regex, "iregex": iregex, "type": type}
    criteria.update({"user": user, "group": group, "size": size, "mtime": mtime})
    try:
        test = _find_test(criteria)
    except ExecutionError as exc:
        raise exc if str(exc).startswith("file.") else ExecutionError(f"file.find: {exc}")
    found: list[Any] = []
    for found_path, depth in _walk(root, None if maxdepth is None else int(maxdepth)):
        if mindepth is not None and depth < int(mindepth):
            continue
        try:
            st = os.lstat(found_path)
        except OSError:
            continue
        if test(found_path, st):
            values = {f: _PRINT[f](found_path, st) for f in fields}
            found.append(values[fields[0]] if len(fields) == 1 else values)
    return found


# --- edits ------------------------------------------------------------------------------


def _backup_copy(path: str, suffix: str) -> None:
    try:
        shutil.copy2(path, path + suffix)
    except OSError as exc:
        raise fileops.explain_oserror("replace", path + suffix, exc)


def replace(
    path: str,
    pattern: str,
    repl: str,
    count: int = 0,
    flags: Any = 8,
    bufsize: Any = 1,
    append_if_not_found: bool = False,
    prepend_if_not_found: bool = False,
    not_found_content: str | None = None,
    backup: Any = ".bak",
    dry_run: bool = False,
    search_only: bool = False,
    show_changes: bool = True,
    ignore_if_missing: bool = False,
    backslash_literal: bool = False,
) -> str | bool:
    """Replace the matches of the regular expression ``pattern`` with ``repl`` in ``path``.

    ``count`` 0 replaces all. ``flags`` is an int, a flag name or a list of
    names (default 8, MULTILINE). When nothing matches,
    ``append_if_not_found``/``prepend_if_not_found`` add ``not_found_content``
    (default ``repl``) as a line, unless that line is already there. A
    changed file is first copied to ``path + backup`` (``backup=False``
    keeps no copy). ``dry_run`` changes nothing. Returns the unified diff
    (``""`` when nothing changes), or with ``show_changes=False`` whether
    the file changed; ``search_only`` returns whether ``pattern`` matches.
    ``bufsize`` is accepted for Salt compatibility; the whole file is read.

    CLI example: ``ff '*' file.replace /etc/ssh/sshd_config '^#?Port .*' 'Port 2222'``
    """
    path = _path("replace", path)
    if not os.path.isfile(path):
        if ignore_if_missing and not os.path.lexists(path):
            return False
        raise ExecutionError(f"file.replace: {path}: no such file")
    old = fileops.read_text("replace", path)
    new, found = fileops.replace_text(
        old,
        pattern,
        repl,
        count,
        flags,
        append_if_not_found and not search_only,
        prepend_if_not_found and not search_only,
        not_found_content,
        backslash_literal,
    )
    if search_only:
        return found
    if new != old and not dry_run:
        if backup:
            _backup_copy(path, str(backup))
        try:
            fileops.atomic_write(path, new.encode())
        except OSError as exc:
            raise fileops.explain_oserror("replace", path, exc)
    return fileops.diff_text(old, new) if show_changes else new != old


def search(
    path: str,
    pattern: str,
    flags: Any = 8,
    bufsize: Any = 1,
    ignore_if_missing: bool = False,
    multiline: bool = False,
) -> bool:
    """Return True if the regular expression ``pattern`` matches in the file ``path``.

    ``multiline=True`` adds the MULTILINE flag.

    CLI example: ``ff '*' file.search /etc/hosts 'localhost'``
    """
    _path("search", path)
    value = fileops.regex_flags(flags) | (re.MULTILINE if multiline else 0)
    found = replace(path, pattern, "", flags=value, search_only=True, ignore_if_missing=True)
    if not found and not ignore_if_missing and not os.path.isfile(_path("search", path)):
        raise ExecutionError(f"file.search: {path}: no such file")
    return bool(found)


def line(
    path: str,
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
    dry_run: bool = False,
) -> str | bool:
    """Edit the line ``content`` of a file, as Salt's ``file.line``.

    ``mode``:

    - ``replace``: every line that matches ``match`` (a regular expression;
      default: ``content`` itself) becomes ``content``;
    - ``delete``: lines matching ``match`` (or ``content``) are removed;
    - ``insert``: ``content`` is added at ``location`` (``start``/``end``),
      or after the first line matching ``after`` / before the first matching
      ``before``, unless it is already there;
    - ``ensure``: ``content`` is the line just after ``after`` and/or just
      before ``before`` (with both, the single line between them); without
      either, it must appear anywhere (else it is added at ``location``).

    ``indent`` keeps the indentation of the neighbouring line. ``backup``
    (a suffix, or True for ``.bak``) keeps a copy of a changed file;
    ``dry_run`` changes nothing (a FluxForge addition). Returns the unified
    diff (``""`` when nothing changes), or with ``show_changes=False``
    whether the file changed.

    CLI example: ``ff '*' file.line /etc/hosts '10.0.0.5 db' mode=ensure after='^127'``
    """
    path = _path("line", path)
    if not os.path.isfile(path):
        raise ExecutionError(f"file.line: {path}: no such file")
    old = fileops.read_text("line", path)
    new = fileops.edit_lines(old, content, match, mode, location, before, after, indent)
    if new != old and not dry_run:
        if backup:
            _backup_copy(path, ".bak" if backup is True else str(backup))
        try:
            fileops.atomic_write(path, new.encode())
        except OSError as exc:
            raise fileops.explain_oserror("line", path, exc)
    return fileops.diff_text(old, new) if show_changes else new != old


def get_diff(file1: str, file2: str, saltenv: str = "base", show_filenames: bool = True) -> str:
    """Return the unified diff that turns ``file1`` into ``file2`` (``""`` when equal).

    Either may be an ``ff://``/``salt://`` URL, fetched from the file server
    of ``saltenv``. A binary file gives a one-line note instead of a diff.

    CLI example: ``ff '*' file.get_diff /etc/hosts /etc/hosts.orig``
    """
    texts: list[str | None] = []
    locals_: list[str] = []
    for name in (file1, file2):
        local = name
        if "://" in name:
            files = current().files
            if files is None:
                raise ExecutionError("file.get_diff: an ff:// URL needs a file client")
            local = files.cache_file(name, saltenv)
            if local is None:
                raise ExecutionError(f"file.get_diff: {name}: no such file on the file server")
        local = _path("get_diff", local)
        locals_.append(local)
        try:
            with open(local, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise fileops.explain_oserror("get_diff", local, exc)
        try:
            texts.append(data.decode())
        except UnicodeDecodeError:
            texts.append(None)
    old, new = texts
    if old is None or new is None:
        if old is None and new is None:
            same = fileops.hash_file("get_diff", locals_[0], "sha256") == fileops.hash_file(
                "get_diff", locals_[1], "sha256"
            )
            return "" if same else "Replace binary file"
        if old is None:
            return "Replace binary file with text file"
        return "Replace text file with binary file"
    return (
        fileops.diff_text(old, new, file1, file2) if show_filenames else fileops.diff_text(old, new)
    )
