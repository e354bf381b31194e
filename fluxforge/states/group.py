"""Group states: ``group.present`` and ``group.absent``, through the ``group`` execution module.

Changes name what was set: ``{"gid": 4242, "members": ["alice", "bob"]}``
(``members`` is the whole new list). A new group's changes are its name
and what the state gave. ``members`` are the users listed in the group, not
those whose primary group it is.
"""

from __future__ import annotations

import pwd
from typing import Any

from fluxforge.plugins.context import current
from fluxforge.plugins.stateresult import StateResult, apply_changes, catch_errors, require, settle


def _as_list(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple):
        value = [value]
    return [str(v).strip() for v in value if str(v).strip()]


def _missing_users(*lists: list[str] | None) -> list[str]:
    missing = []
    for names in lists:
        for user in names or []:
            try:
                pwd.getpwnam(user)
            except KeyError:
                missing.append(user)
    return sorted(set(missing))


def _target_members(
    have: list[str], members: list[str] | None, add: list[str] | None, delete: list[str] | None
) -> list[str] | None:
    """The member list to set, or None when membership is not managed."""
    if members is not None:
        return sorted(set(members))
    if add is None and delete is None:
        return None
    return sorted((set(have) | set(add or [])) - set(delete or []))


@catch_errors
def present(
    name: str,
    gid: int | None = None,
    system: bool = False,
    addusers: Any = None,
    delusers: Any = None,
    members: Any = None,
) -> StateResult:
    """Ensure that the group ``name`` exists, with ``gid`` when given.

    ``members``: exactly these users are listed in it. ``addusers`` /
    ``delusers``: these users are added to / removed from it, others left
    alone; they cannot be combined with ``members``. ``system``: create it
    as a system group.
    """
    funcs = current().funcs
    exact, add, delete = _as_list(members), _as_list(addusers), _as_list(delusers)
    if exact is not None and (add is not None or delete is not None):
        return StateResult(name, False, {}, "members cannot be combined with addusers or delusers")
    if set(add or []) & set(delete or []):
        return StateResult(name, False, {}, "a user cannot be in both addusers and delusers")
    missing = _missing_users(exact, add)
    # A user may come from an earlier state of the run: a test run plans on.
    require(not missing, f"These users do not exist: {', '.join(missing)}")
    info = funcs["group.info"](name)
    target = _target_members(info.get("members", []), exact, add, delete)
    if not info:
        new: dict[str, Any] = {"name": name}
        if gid is not None:
            new["gid"] = int(gid)
        if target:
            new["members"] = target

        def create() -> StateResult:
            funcs["group.add"](name, gid=gid, system=system)
            if target:
                funcs["group.members"](name, target)
            return _verify(name, gid, target, new, f"New group {name} created")

        return settle(StateResult(name, None, new, f"Group {name} set to be added"), create)
    changes: dict[str, Any] = {}
    if gid is not None and info["gid"] != int(gid):
        changes["gid"] = int(gid)
    if target is not None and target != sorted(info["members"]):
        changes["members"] = target

    def update() -> StateResult:
        if "gid" in changes:
            funcs["group.chgid"](name, changes["gid"])
        if "members" in changes:
            funcs["group.members"](name, changes["members"])
        return _verify(name, gid, target, changes, f"Updated group {name}")

    return apply_changes(
        name,
        changes,
        update,
        ok=f"Group {name} is present and up to date",
        predicted=f"Group {name} set to be changed",
    )


def _verify(
    name: str,
    gid: int | None,
    target: list[str] | None,
    changes: dict[str, Any],
    comment: str,
) -> StateResult:
    """Read the group again: report ``changes``, or what still differs as a failure."""
    info = current().funcs["group.info"](name)
    wrong = []
    if not info:
        wrong.append("the group does not exist")
    else:
        if gid is not None and info["gid"] != int(gid):
            wrong.append(f"gid is {info['gid']}")
        if target is not None and sorted(info["members"]) != target:
            wrong.append(f"members are {sorted(info['members'])}")
    if wrong:
        return StateResult(name, False, changes, f"{comment}, but {'; '.join(wrong)}")
    return StateResult(name, True, changes, comment)


@catch_errors
def absent(name: str) -> StateResult:
    """Ensure that the group ``name`` does not exist."""
    funcs = current().funcs

    def remove() -> StateResult | None:
        funcs["group.delete"](name)
        if funcs["group.info"](name):
            return StateResult(name, False, {}, f"Failed to remove group {name}")
        return None

    return apply_changes(
        name,
        {name: ""} if funcs["group.info"](name) else {},
        remove,
        ok=f"Group {name} is not present",
        done=f"Removed group {name}",
        predicted=f"Group {name} set for removal",
    )
