"""A state module for the engine's tests: records each call in the file named by pillar ``log``.

Nothing is recorded in test mode, so the log lists what a run really did.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from fluxforge.plugin import current


def _log(entry: str) -> None:
    ctx = current()
    if ctx.test:
        return
    with open(ctx.pillar["log"], "a", encoding="utf-8") as fh:
        fh.write(entry + "\n")


def _ret(name: str, result: bool | None, comment: str, changes: Any = None) -> dict[str, Any]:
    return {"name": name, "result": result, "changes": changes or {}, "comment": comment}


def same(name: str) -> dict[str, Any]:
    """Succeed without changes."""
    _log(f"same:{name}")
    return _ret(name, True, "same")


def changed(name: str) -> dict[str, Any]:
    """Succeed with a change (predicted in test mode)."""
    if current().test:
        return _ret(name, None, "would change", {"rec": name})
    _log(f"changed:{name}")
    return _ret(name, True, "changed", {"rec": name})


def fail(name: str) -> dict[str, Any]:
    """Fail without changes."""
    _log(f"fail:{name}")
    return _ret(name, False, "failed on purpose")


def mod_watch(name: str, sfun: str, **kwargs: Any) -> dict[str, Any]:
    """Record that a watch fired for ``sfun``."""
    _log(f"watch:{name}:{sfun}")
    result = None if current().test else True
    return _ret(name, result, f"watch fired for {sfun}", {"watched": sfun})


def args(name: str, **kwargs: Any) -> dict[str, Any]:
    """Succeed; the comment is the JSON of the other arguments received."""
    _log(f"args:{name}")
    return _ret(name, True, json.dumps(kwargs, sort_keys=True))


def strict(name: str, mode: str = "0644", saltenv: str = "") -> dict[str, Any]:
    """Succeed; takes no **kwargs, so only ``mode`` and ``saltenv`` may be passed."""
    _log(f"strict:{name}")
    return _ret(name, True, f"mode={mode} saltenv={saltenv}")


def needs(name: str, required: str) -> dict[str, Any]:
    """Needs an argument the SLS does not give."""
    return _ret(name, True, required)


def boom(name: str) -> dict[str, Any]:
    """Raise."""
    raise RuntimeError("kaboom\nsecond line")


def bad(name: str) -> Any:
    """Return something that is not a state result."""
    return "not a mapping"


def block(name: str) -> dict[str, Any]:
    """Write ``<dir>/started``, then wait (up to 20 s) for ``<dir>/release``."""
    folder = current().pillar["dir"]
    with open(os.path.join(folder, "started"), "w", encoding="utf-8"):
        pass
    deadline = time.monotonic() + 20
    while not os.path.exists(os.path.join(folder, "release")):
        if time.monotonic() > deadline:
            return _ret(name, False, "never released")
        time.sleep(0.01)
    _log(f"block:{name}")
    return _ret(name, True, "released")


def flaky(name: str, fails: int = 0, cancel: bool = False) -> dict[str, Any]:
    """Fail the first ``fails`` calls, then succeed; counts calls in ``<dir>/<name>.count``.

    With ``cancel``, every failing call also cancels the job.
    """
    ctx = current()
    counter = os.path.join(ctx.pillar["dir"], f"{name}.count")
    calls = 1
    if os.path.exists(counter):
        with open(counter, encoding="utf-8") as fh:
            calls += int(fh.read())
    with open(counter, "w", encoding="utf-8") as fh:
        fh.write(str(calls))
    _log(f"flaky:{name}:{calls}")
    if calls <= fails:
        if cancel:
            ctx.cancelled.set()
        return _ret(name, False, f"call {calls} failed")
    return _ret(name, True, f"call {calls} worked")


def write_module(name: str, text: str) -> dict[str, Any]:
    """Write the plugin file ``name`` (a path) with ``text``, and fail on purpose.

    Failing shows that ``reload_modules`` rescans whatever the result.
    """
    os.makedirs(os.path.dirname(name), exist_ok=True)
    with open(name, "w", encoding="utf-8") as fh:
        fh.write(text)
    _log(f"write_module:{os.path.basename(name)}")
    return _ret(name, False, "written, failing on purpose", {"written": name})


def call(name: str, function: str) -> dict[str, Any]:
    """Call the execution function ``function``; the comment is what it returned."""
    return _ret(name, True, str(current().funcs[function]()))
