"""Testing helpers: a ready job context for calling modules and states in-process.

:func:`job_context` builds the :class:`~fluxforge.plugins.context.JobContext`
that a minion would give a job, with the real loaders, and ``with`` makes it
current for the block::

    with job_context(tmp_path, grains={"os": "Debian"}) as ctx:
        assert ctx.funcs.call("grains.get", ["os"]) == "Debian"
        assert ctx.states["test.nop"](name="x")["result"] is True

A test that must not run real commands passes its own command runner
(``command_runner=fake``): every command a module starts reaches it as a
checked :class:`~fluxforge.host.procs.Command`.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import tempfile
import weakref
from collections.abc import Mapping
from typing import Any

from fluxforge.config import MinionConfig, build
from fluxforge.grains.core import os_grains, read_os_release
from fluxforge.plugins.context import JobContext
from fluxforge.plugins.loader import execution_functions, state_functions


def _grains(opts: MinionConfig) -> dict[str, Any]:
    """The core grains that cost nothing to compute (no CPU, memory or network probes)."""
    return {
        "id": opts.id,
        "host": socket.gethostname().split(".")[0],
        "kernel": platform.system(),
        "kernelrelease": platform.release(),
        "cpuarch": platform.machine(),
        **os_grains(read_os_release()),
    }


def job_context(
    root: str | os.PathLike[str] | None = None,
    config: Mapping[str, Any] | None = None,
    **overrides: Any,
) -> JobContext:
    """A job context for in-process tests; ``with`` it to make it current.

    The minion's configuration has ``root_dir`` ``root`` (default: a fresh
    temporary folder, removed once the context is garbage) and id ``t1``,
    updated by ``config`` (more minion options). The rest: the core grains
    of this host that are cheap to read (id, host, kernel, cpuarch, os
    ...), an empty pillar, the real execution and state functions of that
    configuration (built-in ones and any synced under its ``cachedir``),
    test mode off, and the real command runner. ``overrides`` replace any
    :class:`~fluxforge.plugins.context.JobContext` field by name
    (``opts``, ``grains``, ``pillar``, ``files``, ``test``,
    ``command_runner`` ...).
    """
    made = None
    if "opts" in overrides:
        opts = overrides.pop("opts")
    else:
        if root is None:
            root = made = tempfile.mkdtemp(prefix="ff-job-")
        opts = build(MinionConfig, {"id": "t1", **(config or {}), "root_dir": os.fspath(root)})
    fields: dict[str, Any] = {
        "opts": opts,
        "grains": _grains(opts),
        "pillar": {},
        "funcs": execution_functions(opts.cachedir),
        "states": state_functions(opts.cachedir),
        "test": False,
    }
    fields.update(overrides)
    ctx = JobContext(**fields)
    if made is not None:
        weakref.finalize(ctx, shutil.rmtree, made, True)
    return ctx
