"""Running one module function for a job, in a worker thread, with its context."""

from __future__ import annotations

import logging
import time
from typing import Any

from fluxforge.errors import FluxForgeError
from fluxforge.plugins.context import JobContext, activate, deactivate
from fluxforge.plugins.results import unwrap
from fluxforge.protocol import wire

log = logging.getLogger("fluxforge.minion")


def run_function(
    ctx: JobContext, fun: str, args: list[Any], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """Call ``fun`` in ``ctx``; returns ``{return, retcode, success, duration}``.

    An error is reported in the return as one line starting ``ERROR:`` with a
    non-zero retcode; the traceback goes to the log at debug level.
    """
    token = activate(ctx)
    start = time.monotonic()
    try:
        value, retcode = unwrap(ctx.funcs.call(fun, args, kwargs))
    except FluxForgeError as exc:
        value, retcode = f"ERROR: {exc}", 1
    except Exception as exc:
        log.debug("%s raised", fun, exc_info=True)
        value, retcode = f"ERROR: {fun} raised {type(exc).__name__}: {exc}", 1
    finally:
        deactivate(token)
    return {
        "return": wire.plain(value),
        "retcode": int(retcode),
        "success": retcode == 0,
        "duration": round(time.monotonic() - start, 6),
    }
