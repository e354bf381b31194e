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


def _ret(name: str) -> dict[str, Any]:
    return {"name": name, "result": True, "changes": {}, "comment": ""}


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


def present(
    name: str,
    gid: int | None = None,
    system: bool = False,
    addusers: Any = None,
    delusers: Any = None,
    members: Any = None,
) -> dict[str, Any]:
    """Ensure that the group ``name`` exists, with ``gid`` when given.

    ``members``: exactly these users are listed in it. ``addusers`` /
    ``delusers``: these users are added to / removed from it, others left
    alone; they cannot be combined with ``members``. ``system``: create it
    as a system group.
    """
    ctx = current()
    funcs = ctx.funcs
    ret = _ret(name)
    exact, add, delete = _as_list(members), _as_list(addusers), _as_list(delusers)
    if exact is not None and (add is not None or delete is not None):
        ret.update(result=False, comment="members cannot be combined with addusers or delusers")
        return ret
    if set(add or []) & set(delete or []):
        ret.update(result=False, comment="a user cannot be in both addusers and delusers")
        return ret
    missing = _missing_users(exact, add)
    # In test mode a user may come from an earlier state of the run.
    if missing and not ctx.test:
        ret.update(result=False, comment=f"These users do not exist: {', '.join(missing)}")
        return ret
    info = funcs["group.info"](name)
    target = _target_members(info.get("members", []), exact, add, delete)
    if not info:
        changes: dict[str, Any] = {"name": name}
        if gid is not None:
            changes["gid"] = int(gid)
        if target:
            changes["members"] = target
        if ctx.test:
            ret.update(result=None, changes=changes, comment=f"Group {name} set to be added")
            return ret
        funcs["group.add"](name, gid=gid, system=system)
        if target:
            funcs["group.members"](name, target)
        return _verify(ret, name, gid, target, changes, f"New group {name} created")
    changes = {}
    if gid is not None and info["gid"] != int(gid):
        changes["gid"] = int(gid)
    if target is not None and target != sorted(info["members"]):
        changes["members"] = target
    if not changes:
        ret["comment"] = f"Group {name} is present and up to date"
        return ret
    if ctx.test:
        ret.update(result=None, changes=changes, comment=f"Group {name} set to be changed")
        return ret
    if "gid" in changes:
        funcs["group.chgid"](name, changes["gid"])
    if "members" in changes:
        funcs["group.members"](name, changes["members"])
    return _verify(ret, name, gid, target, changes, f"Updated group {name}")


def _verify(
    ret: dict[str, Any],
    name: str,
    gid: int | None,
    target: list[str] | None,
    changes: dict[str, Any],
    comment: str,
) -> dict[str, Any]:
    info = current().funcs["group.info"](name)
    ret["changes"] = changes
    wrong = []
    if not info:
        wrong.append("the group does not exist")
    else:
        if gid is not None and info["gid"] != int(gid):
            wrong.append(f"gid is {info['gid']}")
        if target is not None and sorted(info["members"]) != target:
            wrong.append(f"members are {sorted(info['members'])}")
    if wrong:
        ret.update(result=False, comment=f"{comment}, but {'; '.join(wrong)}")
    else:
        ret["comment"] = comment
    return ret


def absent(name: str) -> dict[str, Any]:
    """Ensure that the group ``name`` does not exist."""
    ctx = current()
    ret = _ret(name)
    if not ctx.funcs["group.info"](name):
        ret["comment"] = f"Group {name} is not present"
        return ret
    if ctx.test:
        ret.update(result=None, changes={name: ""}, comment=f"Group {name} set for removal")
        return ret
    ctx.funcs["group.delete"](name)
    if ctx.funcs["group.info"](name):
        ret.update(result=False, comment=f"Failed to remove group {name}")
        return ret
    ret.update(changes={name: ""}, comment=f"Removed group {name}")
    return ret
