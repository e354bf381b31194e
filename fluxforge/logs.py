"""Logging set-up for the daemons and commands, and a warner that cannot flood.

Log files are private (0600): at debug they hold command lines and job
arguments, which may carry secrets. Below debug nothing of the kind is
logged (see docs/security.md).
"""

from __future__ import annotations

import logging
import os
import sys
import time

from fluxforge.errors import ConfigError

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "quiet": logging.CRITICAL + 10,
}
FORMAT = "%(asctime)s [%(levelname)-7s] %(name)s: %(message)s"


def level_of(name: str) -> int:
    """The logging level for a level name; unknown names mean ``warning``."""
    return LEVELS.get(name.lower(), logging.WARNING)


def setup(level: str, log_file: str = "", stderr: bool = True) -> None:
    """Send log records at ``level`` and above to ``log_file`` and stderr."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level_of(level))
    formatter = logging.Formatter(FORMAT)
    if log_file:
        open_private(log_file)
        fh = logging.FileHandler(log_file, encoding="utf-8")
        fh.setFormatter(formatter)
        root.addHandler(fh)
    if stderr:
        sh = logging.StreamHandler(sys.stderr)
        sh.setFormatter(formatter)
        root.addHandler(sh)


def open_private(path: str) -> None:
    """Make sure ``path`` exists with mode 0600 (its folder made if missing).

    An existing file with a wider mode is narrowed to 0600; one this process
    cannot narrow (another user's) is a :class:`~fluxforge.errors.ConfigError`
    naming the file, its mode and the fix.
    """
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, mode=0o755, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        mode = os.fstat(fd).st_mode & 0o777
        if mode & 0o077:
            try:
                os.fchmod(fd, 0o600)
            except PermissionError:
                raise ConfigError(
                    f"{path} is mode {mode:04o} and cannot be made private; run `chmod 600 {path}`"
                )
    finally:
        os.close(fd)


class Warner:
    """Logs at most ``burst`` warnings per key per ``interval`` seconds, counting the rest.

    Hostile input is logged, but a peer sending a million bad frames must not
    write a million lines.
    """

    def __init__(
        self,
        logger: logging.Logger,
        interval: float = 10.0,
        burst: int = 5,
        level: int = logging.WARNING,
    ) -> None:
        self.logger = logger
        self.interval = interval
        self.burst = burst
        self.level = level
        # key -> (start of the current interval, lines logged in it, lines suppressed)
        self._state: dict[str, tuple[float, int, int]] = {}

    def warn(self, key: str, message: str) -> None:
        """Log ``message`` unless ``key`` already used its burst in this interval."""
        now = time.monotonic()
        start, logged, suppressed = self._state.get(key, (now, 0, 0))
        if now - start >= self.interval:
            start, logged = now, 0
        if logged >= self.burst:
            self._state[key] = (start, logged, suppressed + 1)
            return
        if suppressed:
            message += f" ({suppressed} more like this suppressed)"
        if len(self._state) > 10_000:
            self._state.clear()
        self._state[key] = (start, logged + 1, 0)
        self.logger.log(self.level, message)
