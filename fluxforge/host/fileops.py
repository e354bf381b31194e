"""File operations shared by the ``file`` execution module and the ``file`` states.

Both :mod:`fluxforge.modules.file` and :mod:`fluxforge.states.file` use these
helpers, so that a state plans a change exactly as the function makes it:

- the text edits are pure functions of the old text (:func:`replace_text`,
  :func:`edit_lines`, :func:`append_text`), so a state can plan an edit,
  show it in test mode (:func:`diff_text`), and only then write it;
- :func:`plan_attrs` works out which of mode, user and group differ, and
  :func:`apply_attrs` sets them; :func:`normalize_mode` reads a mode as Salt
  writes it;
- :func:`atomic_write` rewrites a file through a temporary file in the same
  folder and a rename, keeping the old file's mode and owner;
- :func:`plan_clean`, :func:`list_tree` and :func:`remove_path` walk and
  clean folders; :func:`make_dirs`, :func:`touch_path`, :func:`read_text`,
  :func:`hash_file`, :func:`split_hash` and :func:`pick_hash` (a hash file
  such as ``sha256sum`` output) do the rest.

This is a library module, not an execution module: the loader does not
expose it. An error is one :class:`~fluxforge.errors.ExecutionError` line
that names the ``file`` function (``fname``), the path and the cause, such
as ``file.read: /x: no such file`` (:func:`explain_oserror`).
"""

from __future__ import annotations

import difflib
import errno
import fnmatch
import grp
import hashlib
import os
import pwd
import re
import shutil
import stat
import tempfile
from collections.abc import Callable
from typing import Any

from fluxforge.errors import ExecutionError

# The hash type of a bare hex digest, by its length.
HASH_LENGTHS = {32: "md5", 40: "sha1", 56: "sha224", 64: "sha256", 96: "sha384", 128: "sha512"}


_LINE_MODES = ("ensure", "replace", "delete", "insert")


# --- errors, reading and writing ------------------------------------------------


def explain_oserror(fname: str, path: str, exc: OSError) -> ExecutionError:
    """One line for an OSError: ``file.read: /x: no such file``."""
    reasons = {
        errno.ENOENT: "no such file",
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted",
        errno.EEXIST: "already exists",
        errno.ENOTDIR: "a parent is not a directory",
        errno.EISDIR: "is a directory",
        errno.ENOTEMPTY: "directory not empty",
    }
    reason = reasons.get(exc.errno or 0, (exc.strerror or str(exc)).lower())
    return ExecutionError(f"file.{fname}: {path}: {reason}")


def read_text(fname: str, path: str) -> str:
    """The UTF-8 text of the file ``path``, or a one-line error (``file.<fname>: ...``)."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read()
    except UnicodeDecodeError:
        raise ExecutionError(f"file.{fname}: {path}: not UTF-8 text (a binary file?)")
    except OSError as exc:
        raise explain_oserror(fname, path, exc)


def read_umask() -> int:
    """The process umask, read without changing it (Linux), else the usual 022."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def atomic_write(path: str, data: bytes, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` atomically, keeping an old file's mode and owner.

    A new file gets ``mode``, or ``0666 & ~umask`` as ``open()`` would give it.
    """
    folder = os.path.dirname(path) or "."
    try:
        old: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        old = None
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".ff-write-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            if old is not None:
                os.fchmod(out.fileno(), stat.S_IMODE(old.st_mode))
                if (old.st_uid, old.st_gid) != (os.geteuid(), os.getegid()):
                    try:
                        os.fchown(out.fileno(), old.st_uid, old.st_gid)
                    except PermissionError:
                        pass
            else:
                os.fchmod(out.fileno(), mode if mode is not None else 0o666 & ~read_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def touch_path(fname: str, path: str, atime: float | None, mtime: float | None) -> None:
    """Make ``path`` if missing and set its access and modification times, as ``touch``.

    Without ``atime``/``mtime`` (seconds since the epoch) both become now.
    """
    for value in (atime, mtime):
        if value is not None and not isinstance(value, int | float):
            raise ExecutionError(f"file.{fname}: atime and mtime must be numbers, got {value!r}")
    try:
        with open(path, "a"):
            pass
        if atime is None and mtime is None:
            os.utime(path, None)
        else:
            st = os.stat(path)
            os.utime(
                path,
                (
                    st.st_atime if atime is None else atime,
                    st.st_mtime if mtime is None else mtime,
                ),
            )
    except OSError as exc:
        raise explain_oserror(fname, path, exc)


def diff_text(old: str, new: str, fromfile: str = "", tofile: str = "") -> str:
    """Unified diff of two texts, ``""`` when they are equal; without names, the hunks only."""
    out: list[str] = []
    lines = list(
        difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True), fromfile, tofile
        )
    )
    for line in lines if fromfile or tofile else lines[2:]:
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    return "".join(out)


# --- modes, owners and groups ------------------------------------------------------


def normalize_mode(mode: Any) -> str | None:
    """A mode as Salt writes it, four octal digits (``644``, ``0o644``, ``'0644'`` -> ``'0644'``).

    An int is read by its decimal digits, as Salt does: ``mode: 644`` in YAML
    is 644, not 0o644, and the SLS loader reads an unquoted ``0644`` as 644
    too (Salt's rule for leading zeros), never YAML's octal 420.
    """
    if mode is None or mode == "":
        return None
    text = str(mode).strip().strip("'\"").replace("0o", "").lstrip("0") or "0"
    if not re.fullmatch(r"[0-7]{1,4}", text):
        raise ExecutionError(f"{mode!r} is not a file mode (octal digits, such as 0644)")
    return text.zfill(4)


def default_mode(folder: bool = False) -> int:
    """The mode this process gives a new file (``0666 & ~umask``) or folder (``0777 & ~umask``)."""
    return (0o777 if folder else 0o666) & ~read_umask()


def lookup_uid(user: Any) -> int:
    """A user name or numeric id as a uid."""
    try:
        return pwd.getpwnam(str(user)).pw_uid
    except KeyError:
        if str(user).isdigit():
            return int(user)
        raise ExecutionError(f"user {user!r} does not exist")


def lookup_gid(group: Any) -> int:
    """A group name or numeric id as a gid."""
    try:
        return grp.getgrnam(str(group)).gr_gid
    except KeyError:
        if str(group).isdigit():
            return int(group)
        raise ExecutionError(f"group {group!r} does not exist")


def plan_attrs(
    st: os.stat_result | None, user: Any, group: Any, mode: Any, default_mode: int = 0o644
) -> dict[str, str]:
    """``{mode, user, group}`` that differ between ``st`` and what is wanted.

    ``st`` None stands for a path about to be made by this process: owned by
    its effective user and group, with ``default_mode``.
    """
    uid, gid, perms = (
        (os.geteuid(), os.getegid(), default_mode)
        if st is None
        else (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))
    )
    changes: dict[str, str] = {}
    want = normalize_mode(mode)
    if want is not None and int(want, 8) != perms:
        changes["mode"] = want
    if user not in (None, "") and lookup_uid(user) != uid:
        changes["user"] = str(user)
    if group not in (None, "") and lookup_gid(group) != gid:
        changes["group"] = str(group)
    return changes


def apply_attrs(path: str, changes: dict[str, Any], *, follow: bool = True) -> None:
    """Set the ``mode``/``user``/``group`` of ``changes`` on ``path``."""
    if "user" in changes or "group" in changes:
        uid = lookup_uid(changes["user"]) if "user" in changes else -1
        gid = lookup_gid(changes["group"]) if "group" in changes else -1
        (os.chown if follow else os.lchown)(path, uid, gid)
    if "mode" in changes and (follow or not os.path.islink(path)):
        os.chmod(path, int(changes["mode"], 8))


# --- text edits (pure functions of the old text) --------------------------------


def regex_flags(flags: Any) -> int:
    """Regex flags from an int, a name, ``'IGNORECASE|MULTILINE'`` or a list of names."""
    if isinstance(flags, int):
        return flags
    names = flags if isinstance(flags, list) else re.split(r"[|,\s]+", str(flags))
    value = 0
    for name in names:
        flag = getattr(re, str(name).strip().upper(), None)
        if not isinstance(flag, re.RegexFlag):
            raise ExecutionError(f"{name!r} is not a regular expression flag")
        value |= flag
    return value


def compile_regex(fname: str, pattern: str, flags: int = 0) -> re.Pattern[str]:
    """``pattern`` compiled, or a one-line error naming ``file.<fname>`` and the pattern."""
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise ExecutionError(f"file.{fname}: bad regular expression {pattern!r}: {exc}")


def replace_text(
    text: str,
    pattern: str,
    repl: str,
    count: int = 0,
    flags: Any = 8,
    append_if_not_found: bool = False,
    prepend_if_not_found: bool = False,
    not_found_content: str | None = None,
    backslash_literal: bool = False,
) -> tuple[str, bool]:
    """``(new text, whether pattern matched)`` for ``file.replace`` (the function and state)."""
    regex = compile_regex("replace", pattern, regex_flags(flags))
    if backslash_literal:
        repl = repl.replace("\\", "\\\\")
    new, found = regex.subn(repl, text, count=int(count or 0))
    if found or not (append_if_not_found or prepend_if_not_found):
        return new, bool(found)
    content = repl if not_found_content is None else not_found_content
    if content in text.splitlines():
        return text, False
    if prepend_if_not_found:
        return content + "\n" + text, False
    sep = "" if not text or text.endswith("\n") else "\n"
    return text + sep + content + "\n", False


def _indented(ref: str, body: str, indent: bool) -> str:
    """``body`` with the indentation of the line ``ref`` in place of its own (``indent``)."""
    if not indent:
        return body
    return ref[: len(ref) - len(ref.lstrip())] + body.lstrip()


def _find(lines: list[str], regex: re.Pattern[str] | None, what: str) -> int:
    """Index of the first line matching ``regex``, or a one-line error."""
    for i, line in enumerate(lines):
        if regex is not None and regex.search(line):
            return i
    raise ExecutionError(f"file.line: no line matches {what}={regex.pattern if regex else ''!r}")


def edit_lines(
    text: str,
    content: str | None,
    match: str | None = None,
    mode: str | None = None,
    location: str | None = None,
    before: str | None = None,
    after: str | None = None,
    indent: bool = True,
) -> str:
    """The text after Salt's ``file.line`` edits it; raises on bad arguments."""
    if mode not in _LINE_MODES:
        raise ExecutionError(f"file.line: mode must be one of {', '.join(_LINE_MODES)}")
    if content is None and mode != "delete":
        raise ExecutionError("file.line: content is required unless mode=delete")
    if location not in (None, "start", "end"):
        raise ExecutionError("file.line: location must be start or end")
    body = str(content).rstrip("\r\n") if content is not None else ""
    lines = text.splitlines()
    end = "\n" if not text or text.endswith("\n") else ""
    rx_match = compile_regex("line", match if match is not None else re.escape(body))
    rx_before = compile_regex("line", before) if before else None
    rx_after = compile_regex("line", after) if after else None
    out: list[str]
    if mode == "delete":
        out = [line for line in lines if not rx_match.search(line)]
    elif mode == "replace":
        out = [_indented(line, body, indent) if rx_match.search(line) else line for line in lines]
    elif mode == "insert":
        out = _insert(lines, body, location, rx_before, rx_after, indent)
    else:
        out = _ensure(lines, body, location, rx_before, rx_after, indent)
    if out == lines:
        return text
    return "\n".join(out) + end if out else ""


def _insert(
    lines: list[str],
    body: str,
    location: str | None,
    rx_before: re.Pattern[str] | None,
    rx_after: re.Pattern[str] | None,
    indent: bool,
) -> list[str]:
    """Insert ``body`` at ``location``, or next to the ``before``/``after`` line, unless there."""
    if location or not (rx_before or rx_after):
        if (location or "end") == "start":
            return lines if lines[:1] == [body] else [body, *lines]
        return lines if lines[-1:] == [body] else [*lines, body]
    if rx_after is not None:
        i = _find(lines, rx_after, "after")
        if rx_before is not None:
            j = _find(lines[i + 1 :], rx_before, "before") + i + 1
            if any(line.strip() == body.strip() for line in lines[i + 1 : j]):
                return lines
        elif i + 1 < len(lines) and lines[i + 1].strip() == body.strip():
            return lines
        return [*lines[: i + 1], _indented(lines[i], body, indent), *lines[i + 1 :]]
    assert rx_before is not None
    j = _find(lines, rx_before, "before")
    if j > 0 and lines[j - 1].strip() == body.strip():
        return lines
    return [*lines[:j], _indented(lines[j], body, indent), *lines[j:]]


def _ensure(
    lines: list[str],
    body: str,
    location: str | None,
    rx_before: re.Pattern[str] | None,
    rx_after: re.Pattern[str] | None,
    indent: bool,
) -> list[str]:
    """Salt's ``mode=ensure``: ``body`` just after ``after`` / just before ``before``.

    With both, the one line between them becomes ``body`` (inserted when
    they are adjacent). Without either, ``body`` anywhere in the file will
    do, else it is added at ``location`` (default ``end``): a FluxForge
    extension, Salt requires before or after.
    """
    if not (rx_before or rx_after):
        if any(line.strip() == body.strip() for line in lines):
            return lines
        return _insert(lines, body, location or "end", None, None, indent)
    if rx_before is not None and rx_after is not None:
        i = _find(lines, rx_after, "after")
        j = _find(lines[i + 1 :], rx_before, "before") + i + 1
        between = lines[i + 1 : j]
        new = _indented((between or lines[i : i + 1])[0], body, indent)
        if len(between) == 1 and between[0].strip() == body.strip():
            return lines
        if len(between) > 1:
            raise ExecutionError("file.line: more than one line between after and before")
        return [*lines[: i + 1], new, *lines[j:]]
    if rx_after is not None:
        i = _find(lines, rx_after, "after")
        if i + 1 < len(lines) and lines[i + 1].strip() == body.strip():
            return lines
        return [*lines[: i + 1], _indented(lines[i], body, indent), *lines[i + 1 :]]
    assert rx_before is not None
    j = _find(lines, rx_before, "before")
    if j > 0 and lines[j - 1].strip() == body.strip():
        return lines
    return [*lines[:j], _indented(lines[j], body, indent), *lines[j:]]


def _squash(text: str) -> str:
    return " ".join(text.split())


def append_text(text: str, chunks: Any, ignore_whitespace: bool = True) -> str:
    """``text`` with each of ``chunks`` (text, a list, or None) it does not hold appended.

    Each chunk is added as a line (after a newline if ``text`` lacks one).
    With ``ignore_whitespace`` runs of spaces and line breaks do not count
    when looking for a chunk. This is the ``file.append`` state's edit.
    """
    new = text
    items = chunks if isinstance(chunks, list) else [] if chunks is None else [chunks]
    for chunk in (str(c) for c in items):
        have = _squash(new) if ignore_whitespace else new
        if (_squash(chunk) if ignore_whitespace else chunk) in have:
            continue
        new += ("" if not new or new.endswith("\n") else "\n") + chunk.rstrip("\n") + "\n"
    return new


# --- folders and hashes ------------------------------------------------------------


def matches_pattern(rel: str, pattern: str | None) -> bool:
    """Whether a relative path matches ``exclude_pat``: a glob, or ``E@<regex>``."""
    if not pattern:
        return False
    if pattern.startswith("E@"):
        return re.search(pattern[2:], rel) is not None
    return fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(os.path.basename(rel), pattern)


def plan_clean(root: str, keep: set[str], exclude_pat: str | None) -> list[str]:
    """Paths under ``root`` to remove: not in ``keep`` (relative paths), nor ``exclude_pat``.

    A folder that holds something kept stays; otherwise it goes as a whole
    and only the folder is listed. This is ``clean`` of the ``file.directory``
    and ``file.recurse`` states.
    """

    def visit(folder: str) -> tuple[bool, list[str]]:
        kept_any, removed = False, []
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            rel = os.path.relpath(entry.path, root)
            if matches_pattern(rel, exclude_pat):
                kept_any = True
            elif entry.is_dir(follow_symlinks=False):
                inner_kept, inner = visit(entry.path)
                if inner_kept or rel in keep:
                    kept_any = True
                    removed += inner
                else:
                    removed.append(entry.path)
            elif rel in keep:
                kept_any = True
            else:
                removed.append(entry.path)
        return kept_any, removed

    return visit(root)[1] if os.path.isdir(root) else []


def list_tree(root: str, skip: set[str]) -> list[tuple[str, bool]]:
    """``(path, is_dir)`` of everything under ``root``, links excluded, ``skip`` pruned."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if os.path.join(folder, d) not in skip)
        for d in dirs:
            if not os.path.islink(os.path.join(folder, d)):
                found.append((os.path.join(folder, d), True))
        for f in sorted(files):
            full = os.path.join(folder, f)
            if full not in skip and not os.path.islink(full):
                found.append((full, False))
    return found


def remove_path(path: str) -> bool:
    """Remove a file, a link or a whole directory; False if nothing was there.

    OSErrors go to the caller.
    """
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)
    else:
        return False
    return True


def make_dirs(fname: str, path: str, user: Any, group: Any, mode: Any) -> list[str]:
    """Make ``path`` and its missing parents with these attributes; the folders made."""
    made = []
    current = path
    while not os.path.isdir(current):
        if os.path.lexists(current):
            raise ExecutionError(f"file.{fname}: {current}: exists and is not a directory")
        made.append(current)
        current = os.path.dirname(current)
    want = normalize_mode(mode)
    for folder in reversed(made):
        try:
            os.mkdir(folder)
            changes = {"mode": want} if want else {}
            changes.update({k: v for k, v in (("user", user), ("group", group)) if v})
            apply_attrs(folder, changes)
        except OSError as exc:
            raise explain_oserror(fname, folder, exc)
    return made


def hash_file(fname: str, path: str, form: str, chunk_size: int = 65536) -> str:
    """The hex digest of the file ``path`` by the hash type ``form`` (``sha256`` ...)."""
    try:
        digest = hashlib.new(form)
    except (ValueError, TypeError):
        raise ExecutionError(f"file.{fname}: unknown hash type {form!r}")
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(chunk_size):
                digest.update(chunk)
    except OSError as exc:
        raise explain_oserror(fname, path, exc)
    return digest.hexdigest()


def split_hash(fname: str, file_hash: str) -> tuple[str, str]:
    """``(form, hex)`` of ``sha256:hex``, ``sha256=hex`` or a bare hex digest."""
    text = str(file_hash).strip()
    match = re.fullmatch(r"(?:(\w+)[:=])?([0-9a-fA-F]+)", text)
    if match is None:
        raise ExecutionError(f"file.{fname}: {text[:80]!r} is not <type>:<hex digest>")
    form = match.group(1) or HASH_LENGTHS.get(len(match.group(2)))
    if form is None:
        raise ExecutionError(f"file.{fname}: cannot tell the hash type of {text[:80]!r}")
    return form.lower(), match.group(2).lower()


# ``<hex>  <file>`` (``sha256sum``/``md5sum``; ``*<file>`` in binary mode), a bare
# ``<hex>``/``<type>=<hex>``/``<type>:<hex>``, or BSD's ``SHA256 (<file>) = <hex>``.
_LISTED = re.compile(r"(?:(\w+)[:=])?([0-9a-fA-F]+)(?:\s+\*?(.+?))?\s*")
_BSD = re.compile(r"(\w+) \((.+)\) = ([0-9a-fA-F]+)\s*")


def _same_file(listed: str, name: str) -> bool:
    listed = listed.removeprefix("./")
    name = name.removeprefix("./")
    return listed == name or listed.endswith("/" + name.lstrip("/"))


def pick_hash(fname: str, text: str, names: list[str], where: str) -> tuple[str, str]:
    """``(form, hex)`` from the text of a hash file, for the first of ``names`` it lists.

    The text is a bare digest (``<hex>``, ``<type>=<hex>``, ``<type>:<hex>``),
    or lines of ``sha256sum``/``md5sum`` output (``<hex>  <file>``) or BSD
    style (``SHA256 (<file>) = <hex>``). A listed file matches a name when
    it is the name or ends in ``/<name>``. A file holding one hash and no
    file name gives that hash. The type comes from the prefix, else the
    length of the digest. ``where`` (the hash file's URL) names the file in
    the error when nothing matches.
    """
    entries: list[tuple[str, str, str | None]] = []
    for line in text.splitlines():
        line = line.strip()
        found: tuple[str | None, str, str | None] | None = None
        if (bsd := _BSD.fullmatch(line)) is not None:
            found = (bsd.group(1), bsd.group(3), bsd.group(2))
        elif (plain := _LISTED.fullmatch(line)) is not None:
            found = (plain.group(1), plain.group(2), plain.group(3))
        if found is None:
            continue  # blank lines, comments, anything else
        form = found[0] or HASH_LENGTHS.get(len(found[1]))
        if form is not None:
            entries.append((form.lower(), found[1].lower(), found[2]))
    for name in names:
        for form, digest, listed in entries:
            if listed is not None and _same_file(listed, name):
                return form, digest
    if len(entries) == 1 and entries[0][2] is None:
        return entries[0][0], entries[0][1]
    raise ExecutionError(
        f"file.{fname}: the hash file {where} has no hash for {' or '.join(names)}"
        if entries
        else f"file.{fname}: the hash file {where} holds no hash"
    )


def source_digest(
    fname: str, source_hash: str, names: list[str], cache: Callable[[str], str | None]
) -> tuple[str, str]:
    """``(form, hex)`` of a ``source_hash``: a digest, or the URL of a hash file listing it.

    A ``file://`` URL is read directly; ``ff://`` and ``salt://`` through
    ``cache`` (the file client's ``cache_file``: a local path, None when
    missing). The hash file's hash is the one for the first of ``names``
    (see :func:`pick_hash`).
    """
    url = source_hash.strip()
    scheme = url.partition("://")[0] if "://" in url else ""
    if not scheme:
        return split_hash(fname, url)
    if scheme == "file":
        local: str | None = url.removeprefix("file://")
        local = local if local and os.path.isfile(local) else None
    elif scheme in ("ff", "salt"):
        local = cache(url)
    else:
        raise ExecutionError(f"file.{fname}: source_hash {url}: only ff://, salt:// or file://")
    if local is None:
        raise ExecutionError(f"file.{fname}: the hash file {url} does not exist")
    return pick_hash(fname, read_text(fname, local), list(dict.fromkeys(names)), url)


def check_digest(fname: str, src: str, data: bytes, form: str, want: str) -> None:
    """Raise unless ``data`` (from ``src``) has the ``form`` digest ``want``."""
    try:
        got = hashlib.new(form, data).hexdigest()
    except ValueError:
        raise ExecutionError(f"file.{fname}: unknown hash type {form!r} in source_hash")
    if got != want:
        raise ExecutionError(
            f"Specified {form} checksum for {src} ({want}) does not match actual checksum ({got})"
        )
