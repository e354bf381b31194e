"""Local groups: read with grp, changed with groupadd, groupmod, groupdel and gpasswd.

Available where ``groupadd`` and ``gpasswd`` are installed. Changing groups
needs root. The returns follow Salt's ``groupadd`` module: :func:`info` is
``{name, passwd, gid, members}``, where ``members`` are the users listed
in the group (not those whose primary group it is), and functions that
change something return True, or raise an error naming the command's
complaint.
"""

from __future__ import annotations

import grp
import pwd
import shutil
from typing import Any

from fluxforge.errors import ExecutionError
from fluxforge.host.procs import run_checked

TIMEOUT = 120.0


def __virtual__() -> bool | tuple[bool, str]:
    for tool in ("groupadd", "groupdel", "groupmod", "gpasswd"):
        if shutil.which(tool) is None:
            return False, f"{tool} is not installed"
    return True


def _run(fname: str, argv: list[str]) -> None:
    """Run ``argv`` as cmd.run does; raise with its complaint when it fails."""
    run_checked(fname, argv, TIMEOUT)


def _entry(name: str) -> grp.struct_group | None:
    try:
        return grp.getgrnam(name)
    except KeyError:
        return None


def _need(fname: str, name: str) -> grp.struct_group:
    entry = _entry(name)
    if entry is None:
        raise ExecutionError(f"{fname}: group {name!r} does not exist")
    return entry


def _info(entry: grp.struct_group) -> dict[str, Any]:
    return {
        "name": entry.gr_name,
        "passwd": entry.gr_passwd,
        "gid": entry.gr_gid,
        "members": sorted(entry.gr_mem),
    }


def _users(fname: str, users: Any) -> list[str]:
    """User names from a list or a comma-separated text; each must exist."""
    if users is None or users == "":
        return []
    if isinstance(users, str):
        users = users.split(",")
    names = sorted({str(user).strip() for user in users if str(user).strip()})
    for name in names:
        try:
            pwd.getpwnam(name)
        except KeyError:
            raise ExecutionError(f"{fname}: user {name!r} does not exist")
    return names


def info(name: str) -> dict[str, Any]:
    """Return the group ``name`` as Salt does, or ``{}`` when there is none.

    CLI example: ``ff '*' group.info adm``
    """
    entry = _entry(name)
    return _info(entry) if entry is not None else {}


def getent(refresh: bool = False) -> list[dict[str, Any]]:
    """Return :func:`info` of every group. ``refresh`` is accepted as in Salt and ignored.

    CLI example: ``ff '*' group.getent``
    """
    return [_info(entry) for entry in sorted(grp.getgrall(), key=lambda e: e.gr_name)]


def list_groups() -> list[str]:
    """Return the sorted names of every group.

    CLI example: ``ff '*' group.list_groups``
    """
    return sorted({entry.gr_name for entry in grp.getgrall()})


def add(name: str, gid: int | None = None, system: bool = False) -> bool:
    """Create the group ``name``, with ``gid`` if given; ``system``: a system group.

    CLI example: ``ff '*' group.add web gid=4242``
    """
    if _entry(name) is not None:
        raise ExecutionError(f"group.add: group {name!r} already exists")
    argv = ["groupadd", *(["-g", str(gid)] if gid is not None else [])]
    argv += ["-r"] if system else []
    _run("group.add", [*argv, name])
    return True


def delete(name: str) -> bool:
    """Delete the group ``name``; True when done.

    CLI example: ``ff '*' group.delete web``
    """
    _need("group.delete", name)
    _run("group.delete", ["groupdel", name])
    return True


def chgid(name: str, gid: int) -> bool:
    """Set the gid of the group ``name``; True when done.

    CLI example: ``ff '*' group.chgid web 4243``
    """
    if _need("group.chgid", name).gr_gid == int(gid):
        return True
    _run("group.chgid", ["groupmod", "-g", str(gid), name])
    return True


def adduser(name: str, username: str) -> bool:
    """Add the user ``username`` to the group ``name``; True when done.

    CLI example: ``ff '*' group.adduser web alice``
    """
    _need("group.adduser", name)
    _users("group.adduser", [username])
    _run("group.adduser", ["gpasswd", "-a", username, name])
    return True


def deluser(name: str, username: str) -> bool:
    """Remove the user ``username`` from the group ``name``; True when done (or not a member).

    CLI example: ``ff '*' group.deluser web alice``
    """
    if username not in _need("group.deluser", name).gr_mem:
        return True
    _run("group.deluser", ["gpasswd", "-d", username, name])
    return True


def members(name: str, members_list: Any) -> bool:
    """Make ``members_list`` (a list or ``a,b``) exactly the members of the group ``name``.

    CLI example: ``ff '*' group.members web alice,bob``
    """
    _need("group.members", name)
    users = _users("group.members", members_list)
    _run("group.members", ["gpasswd", "-M", ",".join(users), name])
    return True
