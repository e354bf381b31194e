"""User states: ``user.present`` and ``user.absent``, through the ``user`` execution module.

Changes name each attribute that was set, with its new value:
``{"shell": "/bin/zsh", "groups": ["adm", "sudo"]}``. A new account's
changes are its name and the attributes the state gave (what ``useradd``
chose by itself, such as a free uid, is not predicted and not reported).
``groups`` are the supplementary groups, never the primary one.

A password that is set (or would be) shows as ``{"password":
"XXX-REDACTED-XXX"}``: no password or hash ever goes into changes,
comments or logs. The hash is read from ``/etc/shadow`` through
``user.shadow_info`` (Salt's ``shadow.info``), so managing passwords needs
root. With ``hash_password`` the clear-text password is hashed again with
the salt of the current hash to compare: a second run changes nothing.
"""

from __future__ import annotations

import grp
import re
from typing import Any

from fluxforge.plugins.context import current
from fluxforge.plugins.loader import Functions
from fluxforge.plugins.stateresult import StateResult, apply_changes, catch_errors, require, settle

REDACTED = "XXX-REDACTED-XXX"
# Hashes of an account without a password; enforce_password: False still sets one there.
_NO_PASSWORD = ("!", "!!", "*", "!*")
# A hash ``gen_password`` can make again from the clear text with the same salt.
_SALTED = re.compile(r"\$(1|5|6)\$([./0-9A-Za-z]{1,16})\$[./0-9A-Za-z]+")
_ALGORITHMS = {"1": "md5", "5": "sha256", "6": "sha512"}


def _gid_of(group: int | str) -> int | None:
    """The gid of a group given by gid or name, or None when there is no such group."""
    try:
        if isinstance(group, int) or str(group).isdigit():
            return grp.getgrgid(int(group)).gr_gid
        return grp.getgrnam(str(group)).gr_gid
    except KeyError:
        return None


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple):
        value = [value]
    return [str(v).strip() for v in value if str(v).strip()]


def _supplementary(name: str, primary_gid: int) -> set[str]:
    return {g.gr_name for g in grp.getgrall() if name in g.gr_mem and g.gr_gid != primary_gid}


def _wanted_groups(groups: Any, optional_groups: Any) -> tuple[set[str] | None, list[str]]:
    """The supplementary groups asked for (None: not managed), and those that do not exist."""
    if groups is None and optional_groups is None:
        return None, []
    wanted, missing = set(), []
    for group in _as_list(groups):
        gid = _gid_of(group)
        if gid is None:
            missing.append(group)
        else:
            wanted.add(_group_name(gid))
    for group in _as_list(optional_groups):
        gid = _gid_of(group)
        if gid is not None:
            wanted.add(_group_name(gid))
    return wanted, missing


def _plan(
    name: str, info: dict[str, Any], want: dict[str, Any], groups: set[str] | None, remove: bool
) -> dict[str, Any]:
    """The attributes of the existing account ``name`` that differ from ``want``."""
    changes = {key: value for key, value in want.items() if info.get(key) != value}
    if groups is not None:
        primary = want.get("gid", info["gid"])
        have = _supplementary(name, primary)
        target = {g for g in groups if _gid_of(g) != primary}
        if not remove:
            target |= have
        if target != have:
            changes["groups"] = sorted(target)
    return changes


def _password_plan(
    funcs: Functions,
    name: str,
    exists: bool,
    password: Any,
    hash_password: bool,
    empty_password: bool,
    enforce_password: bool,
) -> str | None:
    """The hash to set for ``name`` (``""``: an empty password), or None to leave it alone."""
    if not empty_password and (password is None or password == ""):
        return None
    current = funcs["user.shadow_info"](name).get("passwd") if exists else None
    if empty_password:
        return None if current == "" else ""
    if current is not None and not enforce_password and current not in _NO_PASSWORD:
        return None
    if not hash_password:
        return None if current == str(password) else str(password)
    salted = _SALTED.fullmatch(current or "")
    if salted is not None:
        algorithm = _ALGORITHMS[salted.group(1)]
        if funcs["user.gen_password"](str(password), salted.group(2), algorithm) == current:
            return None
    hashed: str = funcs["user.gen_password"](str(password))
    return hashed


@catch_errors
def present(
    name: str,
    uid: int | None = None,
    gid: int | str | None = None,
    groups: Any = None,
    optional_groups: Any = None,
    remove_groups: bool = True,
    home: str | None = None,
    createhome: bool = True,
    shell: str | None = None,
    fullname: str | None = None,
    system: bool = False,
    usergroup: bool | None = None,
    unique: bool = True,
    password: str | None = None,
    hash_password: bool = False,
    empty_password: bool = False,
    enforce_password: bool = True,
) -> StateResult:
    """Ensure that the account ``name`` exists with the attributes given.

    ``uid``, ``gid`` (gid or group name of the primary group), ``home``,
    ``shell``, ``fullname``: set when given, left alone otherwise.
    ``groups``: the supplementary groups, which must exist; with
    ``remove_groups: False`` they are added to the account's other groups
    instead of replacing them. ``optional_groups``: added when they exist.
    ``createhome``, ``system``, ``usergroup``, ``unique``: used when the
    account is created (see ``user.add``).

    ``password``: the crypt hash to set (``$6$...``), or with
    ``hash_password: True`` a clear-text password, hashed with SHA-512.
    ``empty_password: True`` sets an empty password (it wins over
    ``password``, as in Salt). ``enforce_password: False`` sets the password
    only on an account without one (a new account, or ``!``/``*``), never
    replacing one that differs.
    """
    funcs = current().funcs
    wanted, missing = _wanted_groups(groups, optional_groups)
    # A group that does not exist yet may come from an earlier state of the
    # run (group.present): a test run plans on, and the real run checks.
    require(not missing, f"These groups do not exist: {', '.join(missing)}")
    if missing and wanted is not None:
        wanted = {*wanted, *missing}
    want: dict[str, Any] = {}
    if gid is not None and gid != "":
        resolved = _gid_of(gid)
        require(resolved is not None, f"The primary group {gid} does not exist")
        want["gid"] = resolved if resolved is not None else gid
    for key, value in (("uid", uid), ("home", home), ("shell", shell), ("fullname", fullname)):
        if value is not None:
            want[key] = int(value) if key == "uid" else value
    info = funcs["user.info"](name)
    pw_args = (password, hash_password, empty_password, enforce_password)
    pw_hash = _password_plan(funcs, name, bool(info), *pw_args)
    asked = (wanted, remove_groups, pw_hash)
    if not info:
        new = {"name": name, **want}
        if wanted:
            new["groups"] = sorted(g for g in wanted if _gid_of(g) != want.get("gid"))
        if pw_hash is not None:
            new["password"] = REDACTED

        def create() -> StateResult:
            funcs["user.add"](
                name,
                uid=want.get("uid"),
                gid=want.get("gid"),
                groups=new.get("groups"),
                home=home,
                shell=shell,
                unique=unique,
                system=system,
                fullname=fullname or "",
                createhome=createhome,
                usergroup=usergroup,
            )
            if pw_hash is not None:
                funcs["user.set_password"](name, pw_hash)
            return _verify(name, want, asked, new, f"New user {name} created")

        return settle(StateResult(name, None, new, f"User {name} set to be added"), create)
    changes = _plan(name, info, want, wanted, remove_groups)
    if pw_hash is not None:
        changes["password"] = REDACTED

    def update() -> StateResult:
        _apply(funcs, name, changes, pw_hash)
        return _verify(name, want, asked, changes, f"Updated user {name}")

    listing = ", ".join(f"{k}: {v}" for k, v in changes.items())
    return apply_changes(
        name,
        changes,
        update,
        ok=f"User {name} is present and up to date",
        predicted=f"User {name} set to be changed: {listing}",
    )


def _apply(funcs: Functions, name: str, changes: dict[str, Any], pw_hash: str | None) -> None:
    """Make the planned ``changes`` of the existing account ``name``."""
    for key, fun in (
        ("uid", "chuid"),
        ("gid", "chgid"),
        ("home", "chhome"),
        ("shell", "chshell"),
        ("fullname", "chfullname"),
    ):
        if key in changes:
            funcs[f"user.{fun}"](name, changes[key])
    if "groups" in changes:
        funcs["user.chgroups"](name, changes["groups"], append=False)
    if pw_hash is not None:
        funcs["user.set_password"](name, pw_hash)


def _verify(
    name: str,
    want: dict[str, Any],
    asked: tuple[set[str] | None, bool, str | None],
    changes: dict[str, Any],
    comment: str,
) -> StateResult:
    """Read the account again: report ``changes``, or what still differs as a failure.

    ``asked`` is ``(groups wanted, remove_groups, the password hash set or None)``.
    """
    funcs = current().funcs
    wanted, remove, pw_hash = asked
    info = funcs["user.info"](name)
    left = _plan(name, info, want, wanted, remove) if info else {"name": name}
    if info and pw_hash is not None and funcs["user.shadow_info"](name).get("passwd") != pw_hash:
        left["password"] = REDACTED
    if left:
        listing = ", ".join(f"{k}: {v}" for k, v in left.items())
        return StateResult(name, False, changes, f"{comment}, but these still differ: {listing}")
    return StateResult(name, True, changes, comment)


@catch_errors
def absent(name: str, purge: bool = False, force: bool = False) -> StateResult:
    """Ensure that the account ``name`` does not exist.

    ``purge``: delete its home folder and mail spool too. ``force``: even
    while the user is logged in.
    """
    funcs = current().funcs

    def remove() -> StateResult | None:
        funcs["user.delete"](name, remove=purge, force=force)
        if funcs["user.info"](name):
            return StateResult(name, False, {}, f"Failed to remove user {name}")
        return None

    return apply_changes(
        name,
        {name: "removed"} if funcs["user.info"](name) else {},
        remove,
        ok=f"User {name} is not present",
        done=f"Removed user {name}",
        predicted=f"User {name} set for removal",
    )
