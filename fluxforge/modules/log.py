"""Write to the minion's log from a template: ``{% do salt['log.info']('picked ' ~ pkg) %}``.

Lines go to the ``fluxforge.minion.template`` logger, so the minion's
``log_level`` decides which are kept, as Salt's ``log`` module does. Each
function returns True (Salt's value, so ``{{ salt.log.info(...) }}``
prints the same).
"""

from __future__ import annotations

import logging

from fluxforge.plugins.loader import inline

_log = logging.getLogger("fluxforge.minion.template")


def _write(level: int, message: str) -> bool:
    _log.log(level, "%s", " ".join(str(message).splitlines()) or "")
    return True


@inline
def debug(message: str) -> bool:
    """Log ``message`` at debug level.

    CLI example: ``ff '*' log.debug 'checking web'``
    """
    return _write(logging.DEBUG, message)


@inline
def info(message: str) -> bool:
    """Log ``message`` at info level.

    CLI example: ``ff '*' log.info 'checking web'``
    """
    return _write(logging.INFO, message)


@inline
def warning(message: str) -> bool:
    """Log ``message`` at warning level.

    CLI example: ``ff '*' log.warning 'web is not set up'``
    """
    return _write(logging.WARNING, message)


@inline
def error(message: str) -> bool:
    """Log ``message`` at error level.

    CLI example: ``ff '*' log.error 'web failed'``
    """
    return _write(logging.ERROR, message)


@inline
def critical(message: str) -> bool:
    """Log ``message`` at critical level.

    CLI example: ``ff '*' log.critical 'disk full'``
    """
    return _write(logging.CRITICAL, message)


@inline
def exception(message: str) -> bool:
    """Log ``message`` at error level (there is no exception in a template to add).

    CLI example: ``ff '*' log.exception 'web failed'``
    """
    return _write(logging.ERROR, message)
