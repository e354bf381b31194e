"""Local user accounts: read with pwd/grp, changed with useradd, usermod and userdel.

Available where ``useradd`` is installed (shadow-utils). Changing accounts
needs root. The returns follow Salt's ``useradd`` module: :func:`info` is
``{name, passwd, uid, gid, home, shell, fullname, roomnumber, workphone,
homephone, other, groups}``, and functions that change something return
True, or raise an error naming the command's complaint.

Passwords follow Salt's ``shadow`` module: :func:`shadow_info` reads the
hash from ``/etc/shadow`` (as root), :func:`set_password` sets a crypt hash
and :func:`gen_password` makes one (``openssl passwd``). As in Salt,
:func:`info`'s ``passwd`` is the ``/etc/passwd`` field (``x``), never the
hash. A password or hash is passed to tools on stdin or through the
environment, never on a logged command line, and never appears in an error.
"""

from __future__ import annotations

import grp
import pwd
import re
import shlex
import shutil
from typing import Any

from fluxforge.errors import ExecutionError
from fluxforge.host.procs import execute, run_checked

TIMEOUT = 120.0
SHADOW = "/etc/shadow"
_SHADOW_FIELDS = ("lstchg", "min", "max", "warn", "inact", "expire")
_ALGORITHMS = {"md5": "-1", "sha256": "-5", "sha512": "-6"}


def __virtual__() -> bool | tuple[bool, str]:
    for tool in ("useradd", "usermod", "userdel"):
        if shutil.which(tool) is None:
            return False, f"{tool} is not installed"
    return True


def _run(fname: str, argv: list[str]) -> None:
    """Run ``argv`` as cmd.run does; raise with its complaint when it fails."""
    run_checked(fname, argv, TIMEOUT)


def _entry(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def _need(fname: str, name: str) -> pwd.struct_passwd:
    entry = _entry(name)
    if entry is None:
        raise ExecutionError(f"{fname}: user {name!r} does not exist")
    return entry


def _names(groups: Any, fname: str) -> list[str]:
    """Group names from a list or a comma-separated text; numbers are gids."""
    if groups is None or groups == "":
        return []
    if isinstance(groups, str):
        groups = groups.split(",")
    if not isinstance(groups, list | tuple):
        groups = [groups]
    names = []
    for group in groups:
        text = str(group).strip()
        if not text:
            continue
        if text.isdigit():
            try:
                text = grp.getgrgid(int(text)).gr_name
            except KeyError:
                raise ExecutionError(f"{fname}: no group with gid {text}")
        names.append(text)
    return sorted(set(names))


def _gecos(fields: str) -> dict[str, str]:
    parts = [*fields.split(",", 4), "", "", "", "", ""][:5]
    keys = ("fullname", "roomnumber", "workphone", "homephone", "other")
    return dict(zip(keys, parts, strict=True))


def _group_names(entry: pwd.struct_passwd) -> list[str]:
    names = {g.gr_name for g in grp.getgrall() if entry.pw_name in g.gr_mem}
    try:
        names.add(grp.getgrgid(entry.pw_gid).gr_name)
    except KeyError:
        pass
    return sorted(names)


def _info(entry: pwd.struct_passwd) -> dict[str, Any]:
    return {
        "name": entry.pw_name,
        "passwd": entry.pw_passwd,
        "uid": entry.pw_uid,
        "gid": entry.pw_gid,
        "home": entry.pw_dir,
        "shell": entry.pw_shell,
        **_gecos(entry.pw_gecos),
        "groups": _group_names(entry),
    }


def info(name: str) -> dict[str, Any]:
    """Return the account ``name`` as Salt does, or ``{}`` when there is none.

    ``groups`` lists every group the user is in, the primary one included.

    CLI example: ``ff '*' user.info root``
    """
    entry = _entry(name)
    return _info(entry) if entry is not None else {}


def getent(refresh: bool = False) -> list[dict[str, Any]]:
    """Return :func:`info` of every account. ``refresh`` is accepted as in Salt and ignored.

    CLI example: ``ff '*' user.getent``
    """
    return [_info(entry) for entry in sorted(pwd.getpwall(), key=lambda e: e.pw_name)]


def list_users() -> list[str]:
    """Return the sorted names of every account.

    CLI example: ``ff '*' user.list_users``
    """
    return sorted({entry.pw_name for entry in pwd.getpwall()})


def list_groups(name: str) -> list[str]:
    """Return the sorted names of the groups of the user ``name``, the primary one included.

    CLI example: ``ff '*' user.list_groups www-data``
    """
    return _group_names(_need("user.list_groups", name))


def primary_group(name: str) -> str:
    """Return the name of the primary group of the user ``name``.

    CLI example: ``ff '*' user.primary_group www-data``
    """
    entry = _need("user.primary_group", name)
    try:
        return grp.getgrgid(entry.pw_gid).gr_name
    except KeyError:
        return str(entry.pw_gid)


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def add(
    name: str,
    uid: int | None = None,
    gid: int | str | None = None,
    groups: Any = None,
    home: str | None = None,
    shell: str | None = None,
    unique: bool = True,
    system: bool = False,
    fullname: str = "",
    createhome: bool = True,
    usergroup: bool | None = None,
) -> bool:
    """Create the account ``name``; True when done.

    ``uid``, ``gid`` (a gid or group name: the primary group), ``groups``
    (supplementary groups: a list or ``a,b``), ``home``, ``shell``,
    ``fullname``: as given, or the system's defaults. ``unique=False``
    allows a uid in use. ``system``: a system account (a low uid).
    ``createhome``: make the home folder. ``usergroup``: True makes a group
    of the same name, False does not; by default the system decides, and an
    existing group of the same name becomes the primary group.

    CLI example: ``ff '*' user.add alice shell=/bin/bash groups=sudo,adm``
    """
    if _entry(name) is not None:
        raise ExecutionError(f"user.add: user {name!r} already exists")
    argv = ["useradd"]
    if uid is not None:
        argv += ["-u", str(uid)]
    if gid is not None and gid != "":
        argv += ["-g", str(gid)]
    elif usergroup is not False and _group_exists(name):
        argv += ["-g", name]
    elif usergroup is True:
        argv.append("-U")
    elif usergroup is False:
        argv.append("-N")
    names = _names(groups, "user.add")
    if names:
        argv += ["-G", ",".join(names)]
    if home:
        argv += ["-d", home]
    if shell:
        argv += ["-s", shell]
    if not unique:
        argv.append("-o")
    if system:
        argv.append("-r")
    if fullname:
        argv += ["-c", fullname]
    argv.append("-m" if createhome else "-M")
    argv.append(name)
    _run("user.add", argv)
    return True


def delete(name: str, remove: bool = False, force: bool = False) -> bool:
    """Delete the account ``name``; True when done.

    ``remove``: delete its home folder and mail spool too. ``force``: even
    while the user is logged in.

    CLI example: ``ff '*' user.delete alice remove=True``
    """
    _need("user.delete", name)
    argv = ["userdel", *(["-r"] if remove else []), *(["-f"] if force else []), name]
    _run("user.delete", argv)
    return True


def _usermod(fname: str, name: str, *words: str) -> bool:
    _need(fname, name)
    _run(fname, ["usermod", *words, name])
    return True


def chshell(name: str, shell: str) -> bool:
    """Set the login shell of the user ``name``; True when done.

    CLI example: ``ff '*' user.chshell alice /bin/zsh``
    """
    if _need("user.chshell", name).pw_shell == shell:
        return True
    return _usermod("user.chshell", name, "-s", shell)


def chhome(name: str, home: str, persist: bool = False) -> bool:
    """Set the home folder of the user ``name``; ``persist`` moves the old one there.

    CLI example: ``ff '*' user.chhome alice /srv/alice persist=True``
    """
    if _need("user.chhome", name).pw_dir == home:
        return True
    return _usermod("user.chhome", name, "-d", home, *(["-m"] if persist else []))


def chuid(name: str, uid: int) -> bool:
    """Set the uid of the user ``name``; True when done.

    CLI example: ``ff '*' user.chuid alice 4242``
    """
    if _need("user.chuid", name).pw_uid == int(uid):
        return True
    return _usermod("user.chuid", name, "-u", str(uid))


def chgid(name: str, gid: int | str) -> bool:
    """Set the primary group (a gid or group name) of the user ``name``; True when done.

    CLI example: ``ff '*' user.chgid alice staff``
    """
    return _usermod("user.chgid", name, "-g", str(gid))


def chfullname(name: str, fullname: str) -> bool:
    """Set the full name (the first GECOS field) of the user ``name``; True when done.

    CLI example: ``ff '*' user.chfullname alice 'Alice Liddell'``
    """
    entry = _need("user.chfullname", name)
    fields = _gecos(entry.pw_gecos)
    if fields["fullname"] == fullname:
        return True
    fields["fullname"] = fullname
    gecos = ",".join(fields.values()).rstrip(",")
    return _usermod("user.chfullname", name, "-c", gecos)


def chgroups(name: str, groups: Any, append: bool = False) -> bool:
    """Set the supplementary groups of the user ``name`` (a list or ``a,b``); True when done.

    ``append=True`` adds them to the user's groups instead of replacing them.

    CLI example: ``ff '*' user.chgroups alice sudo,adm append=True``
    """
    names = _names(groups, "user.chgroups")
    if append and not names:
        return True
    return _usermod("user.chgroups", name, *(["-a"] if append else []), "-G", ",".join(names))


# --- passwords (Salt's shadow module) ---------------------------------------


def shadow_info(name: str) -> dict[str, Any]:
    """Return the ``/etc/shadow`` entry of ``name`` as Salt's ``shadow.info``, or ``{}``.

    ``{name, passwd, lstchg, min, max, warn, inact, expire}``: ``passwd`` is
    the crypt hash (``!`` or ``*``: no password, ``""``: an empty one), the
    others are numbers of days, ``-1`` when empty. Reading needs root.

    CLI example: ``ff '*' user.shadow_info alice``
    """
    try:
        with open(SHADOW, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError as exc:
        raise ExecutionError(f"user.shadow_info: cannot read {SHADOW}: {exc.strerror or exc}")
    for line in lines:
        fields = line.split(":")
        if fields[0] != name or len(fields) < 8:
            continue
        entry: dict[str, Any] = {"name": name, "passwd": fields[1]}
        for key, value in zip(_SHADOW_FIELDS, fields[2:8], strict=True):
            entry[key] = int(value) if value.lstrip("-").isdigit() else -1
        return entry
    return {}


def set_password(name: str, password: str, use_usermod: bool = False) -> bool:
    """Set the crypt hash ``password`` (``$6$...``; ``""`` for an empty password) of ``name``.

    Returns True when ``/etc/shadow`` then holds that hash, as Salt's
    ``shadow.set_password``. The hash goes to ``chpasswd -e`` on stdin;
    ``use_usermod=True`` runs ``usermod -p`` instead, which puts the hash on
    usermod's command line (seen in the process list while it runs).

    CLI example: ``ff '*' user.set_password alice '$6$salt$hash...'``
    """
    _need("user.set_password", name)
    password = str(password)
    if ":" in password or "\n" in password:
        raise ExecutionError("user.set_password: a password hash cannot hold ':' or a line break")
    if use_usermod:
        cmd, stdin = f'usermod -p "$FF_PASSWORD_HASH" -- {shlex.quote(name)}', None
        python_shell = True
    else:
        cmd, stdin, python_shell = "chpasswd -e", f"{name}:{password}\n", False
    env = {"LC_ALL": "C", **({"FF_PASSWORD_HASH": password} if use_usermod else {})}
    out = execute("user.set_password", cmd, "/", env, stdin, TIMEOUT, None, "/bin/sh", python_shell)
    if out.retcode != 0:
        text = (out.stderr or out.stdout).strip().replace("\n", "; ")
        raise ExecutionError(
            f"user.set_password: {cmd.split()[0]} exited {out.retcode}: {text or 'no output'}"
        )
    return bool(shadow_info(name).get("passwd") == password)


def gen_password(password: str, crypt_salt: str | None = None, algorithm: str = "sha512") -> str:
    """Return the crypt hash of the clear-text ``password``, as Salt's ``shadow.gen_password``.

    ``algorithm``: ``sha512`` (the default), ``sha256`` or ``md5``.
    ``crypt_salt``: up to 16 of ``[./0-9A-Za-z]``; random when not given.
    Made by ``openssl passwd``, which reads the password on stdin.

    CLI example: ``ff '*' user.gen_password 'I_am_password' crypt_salt=I_am_salt``
    """
    if algorithm not in _ALGORITHMS:
        raise ExecutionError(
            f"user.gen_password: algorithm must be one of {', '.join(_ALGORITHMS)}"
        )
    if crypt_salt is not None and not re.fullmatch(r"[./0-9A-Za-z]{1,16}", str(crypt_salt)):
        raise ExecutionError("user.gen_password: crypt_salt must be 1 to 16 of [./0-9A-Za-z]")
    password = str(password)
    if "\n" in password or "\r" in password:
        raise ExecutionError("user.gen_password: a password cannot hold a line break")
    if shutil.which("openssl") is None:
        raise ExecutionError("user.gen_password: openssl is not installed")
    argv = ["openssl", "passwd", _ALGORITHMS[algorithm]]
    argv += ["-salt", str(crypt_salt)] if crypt_salt is not None else []
    out = execute(
        "user.gen_password",
        shlex.join([*argv, "-stdin"]),
        "/",
        {"LC_ALL": "C"},
        password + "\n",
        TIMEOUT,
        None,
        "/bin/sh",
        False,
    )
    hashed = out.stdout.strip()
    if out.retcode != 0 or not hashed.startswith("$"):
        raise ExecutionError(f"user.gen_password: openssl passwd exited {out.retcode}")
    return hashed
