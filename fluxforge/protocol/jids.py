"""Job ids and the shape of job loads and returns."""

from __future__ import annotations

import datetime
import re
import threading

JID_RE = re.compile(r"^[0-9]{20}\Z")


class JidFactory:
    """Makes jids ``YYYYMMDDhhmmssffffff`` (UTC), strictly increasing in this process."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> str:
        """A new jid, later than every jid this factory made before."""
        now = datetime.datetime.now(datetime.UTC)
        value = int(now.strftime("%Y%m%d%H%M%S%f"))
        with self._lock:
            if value <= self._last:
                value = _bump(self._last)
            self._last = value
        return f"{value:020d}"


def _bump(value: int) -> int:
    """The jid one microsecond after ``value``."""
    text = f"{value:020d}"
    moment = datetime.datetime.strptime(text, "%Y%m%d%H%M%S%f")
    moment += datetime.timedelta(microseconds=1)
    return int(moment.strftime("%Y%m%d%H%M%S%f"))


def jid_from_time(timestamp: float) -> str:
    """The jid a master would have made at POSIX time ``timestamp``."""
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
    return moment.strftime("%Y%m%d%H%M%S%f")


def valid_jid(jid: object) -> bool:
    """Whether ``jid`` has the form of a jid."""
    return isinstance(jid, str) and JID_RE.match(jid) is not None
