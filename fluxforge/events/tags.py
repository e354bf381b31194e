"""Event tags: a builder and a parser for every tag FluxForge reserves.

Every tag under ``ff/`` is reserved: the master, the minions and the local
tools fire them, and the reactor, ``ff`` and the event tools read them. They
are built here and nowhere else, so a tag's spelling has one home, and
:func:`parse` turns one back into its parts. The reserved tags::

    ff/auth                          a minion authenticated (or was refused)
    ff/key                           a key changed state (ff-key)
    ff/master/start                  the master started
    ff/minion/<id>/start             a minion connected and is ready
    ff/minion/<id>/<anything>        events a minion fires of its own
    ff/job/<jid>/new                 a job was published
    ff/job/<jid>/ret/<id>            a minion returned
    ff/job/<jid>/prog/<id>           a minion's heartbeat or progress
    ff/job/<jid>/sync                a client's subscription check
    ff/presence/change               minions came or went
    ff/presence/present              the minions present now
    ff/beacon/<id>/<beacon>[/...]    a beacon of minion <id> fired
    ff/reactor/...                   what the reactor did
    ff/run/<jid>/...                 runner jobs on the master
    ff/hook/...                      webhooks received

A minion may fire only its own ``ff/minion/<id>/`` and ``ff/beacon/<id>/``
tags among the reserved ones (:func:`minion_may_fire`); any tag outside
``ff/`` is free.
"""

from __future__ import annotations

from dataclasses import dataclass

RESERVED_PREFIX = "ff/"
MAX_TAG_LENGTH = 512

AUTH = "ff/auth"
KEY = "ff/key"
MASTER_START = "ff/master/start"
PRESENCE_CHANGE = "ff/presence/change"
PRESENCE_PRESENT = "ff/presence/present"
JOB_PREFIX = "ff/job/"

# The second components of reserved tags, for :func:`parse`.
_FAMILIES = (
    "auth",
    "key",
    "master",
    "minion",
    "job",
    "presence",
    "beacon",
    "reactor",
    "run",
    "hook",
)
_JOB_EVENTS_WITH_ID = ("ret", "prog")


def job_prefix(jid: str) -> str:
    """``ff/job/<jid>/``: every event of one job (a listener's subscription)."""
    return f"{JOB_PREFIX}{jid}/"


def job_new(jid: str) -> str:
    """``ff/job/<jid>/new``."""
    return f"{JOB_PREFIX}{jid}/new"


def job_ret(jid: str, minion_id: str) -> str:
    """``ff/job/<jid>/ret/<id>``."""
    return f"{JOB_PREFIX}{jid}/ret/{minion_id}"


def job_prog(jid: str, minion_id: str) -> str:
    """``ff/job/<jid>/prog/<id>``."""
    return f"{JOB_PREFIX}{jid}/prog/{minion_id}"


def job_sync(jid: str) -> str:
    """``ff/job/<jid>/sync``."""
    return f"{JOB_PREFIX}{jid}/sync"


def minion_prefix(minion_id: str) -> str:
    """``ff/minion/<id>/``: the reserved prefix a minion may fire under."""
    return f"ff/minion/{minion_id}/"


def minion_start(minion_id: str) -> str:
    """``ff/minion/<id>/start``."""
    return f"ff/minion/{minion_id}/start"


def beacon_prefix(minion_id: str) -> str:
    """``ff/beacon/<id>/``: the prefix of a minion's beacon events."""
    return f"ff/beacon/{minion_id}/"


def beacon(minion_id: str, name: str, detail: str = "") -> str:
    """``ff/beacon/<id>/<beacon>``, with ``/<detail>`` when given."""
    tag = f"ff/beacon/{minion_id}/{name}"
    return f"{tag}/{detail}" if detail else tag


def reactor(*parts: str) -> str:
    """``ff/reactor/<parts...>``."""
    return "/".join(("ff/reactor", *parts))


def run(jid: str, *parts: str) -> str:
    """``ff/run/<jid>/<parts...>``."""
    return "/".join(("ff/run", jid, *parts))


def hook(*parts: str) -> str:
    """``ff/hook/<parts...>``."""
    return "/".join(("ff/hook", *parts))


def is_reserved(tag: str) -> bool:
    """Whether ``tag`` is under the reserved ``ff/`` prefix."""
    return tag.startswith(RESERVED_PREFIX)


def minion_may_fire(minion_id: str, tag: str) -> bool:
    """Whether minion ``minion_id`` may fire ``tag``: any free tag, or its own reserved ones."""
    if not tag or len(tag) > MAX_TAG_LENGTH:
        return False
    if not is_reserved(tag):
        return True
    return tag.startswith((minion_prefix(minion_id), beacon_prefix(minion_id)))


@dataclass(frozen=True)
class Tag:
    """A reserved tag taken apart.

    ``family`` is the second component (``job``, ``minion``, ``beacon``,
    ...); ``jid`` and ``minion`` are filled where the family has them;
    ``event`` is what happened (``new``, ``ret``, ``prog``, ``sync``,
    ``start``, a beacon's name, ...); ``rest`` holds any further parts.
    """

    family: str
    event: str = ""
    jid: str = ""
    minion: str = ""
    rest: tuple[str, ...] = ()


def parse(tag: str) -> Tag | None:
    """Take a reserved tag apart; None for a free tag or one of no reserved shape."""
    if not is_reserved(tag):
        return None
    parts = tag.split("/")[1:]
    family = parts[0] if parts else ""
    if family not in _FAMILIES or any(not p for p in parts):
        return None
    args = parts[1:]
    if family in ("auth", "key"):
        return Tag(family) if not args else None
    if family == "master":
        return Tag(family, event=args[0], rest=tuple(args[1:])) if args else None
    if family == "job":
        return _parse_job(args)
    if family in ("minion", "beacon"):
        if len(args) < 2:
            return None
        return Tag(family, event=args[1], minion=args[0], rest=tuple(args[2:]))
    if family == "run":
        if not args:
            return None
        return Tag(
            family, jid=args[0], event=args[1] if len(args) > 1 else "", rest=tuple(args[2:])
        )
    # presence, reactor, hook
    return Tag(family, event=args[0], rest=tuple(args[1:])) if args else None


def _parse_job(args: list[str]) -> Tag | None:
    if len(args) < 2:
        return None
    jid, event = args[0], args[1]
    if event in _JOB_EVENTS_WITH_ID:
        return Tag("job", event=event, jid=jid, minion=args[2]) if len(args) == 3 else None
    return Tag("job", event=event, jid=jid, rest=tuple(args[2:]))
