"""Manage the minion itself: sync custom plugins, refresh data, look at and stop jobs.

FluxForge's counterpart of Salt's ``saltutil``: the same function names and
return values, for the parts FluxForge has, and every function can be called
by its Salt name too (``saltutil.sync_all`` is ``ffutil.sync_all``). Every function here needs the
minion daemon running the job (it asks the master for files, or the daemon
for its jobs), so none is available under ``ff-call --local``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from typing import Any

from fluxforge.errors import ExecutionError
from fluxforge.files.client import FileClient
from fluxforge.files.server import DEFAULT_ENV
from fluxforge.plugins.context import MinionHooks, current
from fluxforge.plugins.loader import extmods_dir

# The loader also serves these functions as saltutil.*, the names Salt users type.
__aliases__ = ("saltutil",)

# Plugin kinds that can be synced, each from the folder ``_<kind>`` of the file roots.
SYNC_KINDS = ("modules", "grains", "states")


def _hooks(fun: str) -> MinionHooks:
    hooks = current().minion
    if hooks is None:
        raise ExecutionError(
            f"ffutil.{fun} needs a running minion; it is not available with ff-call --local"
        )
    return hooks


def _envs(saltenv: str) -> list[str]:
    """``"base,dev"`` -> ``["base", "dev"]``, as Salt reads a list of environments."""
    return [env.strip() for env in saltenv.split(",") if env.strip()] or [DEFAULT_ENV]


def _same_content(client: FileClient, one: str, other: str) -> bool:
    try:
        return client.hashes.hash_path(one) == client.hashes.hash_path(other)
    except OSError:
        return False


def _install(source: str, dest: str) -> None:
    """Copy ``source`` over ``dest`` atomically, so the loader never reads half a file."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest), prefix=".ff-part-")
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
            shutil.copyfileobj(src, out)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _sync(kind: str, saltenv: str, hooks: MinionHooks) -> list[str]:
    """Make ``extmods/<kind>`` hold exactly the master's ``_<kind>/*.py``; the names changed.

    With several environments the first one that has a file name wins, as
    the first file root does on the master.
    """
    ctx = current()
    client = FileClient(ctx.opts.cachedir, hooks.request)
    wanted: dict[str, str] = {}  # file name -> cached copy
    for env in _envs(saltenv):
        for path in client.list_files(env, f"_{kind}"):
            name = path.rsplit("/", 1)[-1]
            if path.count("/") != 1 or not name.endswith(".py") or name in wanted:
                continue  # the loader reads only the .py files at the top of the folder
            local = client.cache_file(path, env)
            if local is not None:
                wanted[name] = local
    target = extmods_dir(ctx.opts.cachedir, kind)
    os.makedirs(target, mode=0o700, exist_ok=True)
    changed = []
    for name, local in sorted(wanted.items()):
        dest = os.path.join(target, name)
        if not _same_content(client, local, dest):
            _install(local, dest)
            changed.append(f"{kind}.{name[:-3]}")
    for name in os.listdir(target):
        dest = os.path.join(target, name)
        if name not in wanted and (os.path.islink(dest) or os.path.isfile(dest)):
            os.unlink(dest)
    return changed


def sync_modules(saltenv: str = DEFAULT_ENV, refresh: bool = True) -> list[str]:
    """Sync execution modules from ``ff://_modules`` to this minion.

    Copies each ``_modules/*.py`` of the master's file roots into the
    minion's extension folder and removes the ones the master no longer
    has. Returns the names of the modules copied or changed, e.g.
    ``["modules.hello"]`` (removed ones are not listed, as in Salt).
    ``saltenv`` may list several environments, ``base,dev``. With
    ``refresh`` (the default) the minion reloads its modules afterwards,
    even when nothing changed.

    CLI example: ``ff '*' ffutil.sync_modules saltenv=dev``
    """
    hooks = _hooks("sync_modules")
    changed = _sync("modules", saltenv, hooks)
    if refresh:
        hooks.refresh("modules")
    return changed


def sync_grains(saltenv: str = DEFAULT_ENV, refresh: bool = True) -> list[str]:
    """Sync grains modules from ``ff://_grains`` to this minion.

    Works as :func:`sync_modules` for ``_grains/*.py`` and returns names
    such as ``["grains.rack"]``. With ``refresh`` (the default) the minion
    recomputes its grains and then its pillar, which may target by grains.

    CLI example: ``ff '*' ffutil.sync_grains``
    """
    hooks = _hooks("sync_grains")
    changed = _sync("grains", saltenv, hooks)
    if refresh:
        hooks.refresh("grains")
        hooks.refresh("pillar")
    return changed


def sync_states(saltenv: str = DEFAULT_ENV, refresh: bool = True) -> list[str]:
    """Sync state modules from ``ff://_states`` to this minion.

    Works as :func:`sync_modules` for ``_states/*.py`` (custom states such
    as ``mystate.configured``) and returns names such as
    ``["states.mystate"]``. With ``refresh`` (the default) the minion
    reloads its modules and states.

    CLI example: ``ff '*' ffutil.sync_states``
    """
    hooks = _hooks("sync_states")
    changed = _sync("states", saltenv, hooks)
    if refresh:
        hooks.refresh("modules")
    return changed


def sync_all(saltenv: str = DEFAULT_ENV, refresh: bool = True) -> dict[str, list[str]]:
    """Sync every kind of custom plugin from the file roots to this minion.

    Returns what each kind's sync returned, keyed by kind:
    ``{"grains": [...], "modules": ["modules.hello"], "states": [...]}``. With
    ``refresh`` (the default) grains, pillar, modules and states are reloaded
    afterwards.

    CLI example: ``ff '*' ffutil.sync_all``
    """
    hooks = _hooks("sync_all")
    result = {kind: _sync(kind, saltenv, hooks) for kind in SYNC_KINDS}
    if refresh:
        hooks.refresh("grains")
        hooks.refresh("pillar")
        hooks.refresh("modules")
    return result


def refresh_grains(refresh_pillar: bool = True) -> bool:
    """Recompute this minion's grains and send them to the master; returns True.

    With ``refresh_pillar`` (the default) the pillar is refreshed too, since
    it may target by grains.

    CLI example: ``ff '*' ffutil.refresh_grains``
    """
    hooks = _hooks("refresh_grains")
    hooks.refresh("grains")
    if refresh_pillar:
        hooks.refresh("pillar")
    return True


def refresh_pillar() -> bool:
    """Fetch this minion's pillar from the master again; returns True.

    CLI example: ``ff '*' ffutil.refresh_pillar``
    """
    _hooks("refresh_pillar").refresh("pillar")
    return True


def refresh_modules() -> bool:
    """Reload this minion's execution modules (built-in and synced); returns True.

    CLI example: ``ff '*' ffutil.refresh_modules``
    """
    _hooks("refresh_modules").refresh("modules")
    return True


def _others(hooks: MinionHooks) -> list[dict[str, Any]]:
    """The jobs running on this minion, leaving out the job that asks (as Salt does)."""
    me = current().jid
    return [job for job in hooks.running() if job.get("jid") != me]


def running() -> list[dict[str, Any]]:
    """Return the jobs running on this minion now, other than this one.

    Each is ``{jid, fun, arg, started}``.

    CLI example: ``ff '*' ffutil.running``
    """
    return _others(_hooks("running"))


def find_job(jid: str) -> dict[str, Any]:
    """Return the running job ``jid`` as :func:`running` shows it, or ``{}`` when none runs.

    CLI example: ``ff '*' ffutil.find_job 20260101120000123456``
    """
    for job in _others(_hooks("find_job")):
        if job.get("jid") == jid:
            return job
    return {}


def kill_job(jid: str) -> str:
    """Stop the job ``jid`` running on this minion; returns a line saying what happened.

    A jid that is not running here is not an error (it may just have
    finished, or run elsewhere), so targeting many minions works; the line
    then says so. A job cannot stop itself this way.

    CLI example: ``ff '*' ffutil.kill_job 20260101120000123456``
    """
    hooks = _hooks("kill_job")
    if jid == current().jid:
        return f"Job {jid} is this ffutil.kill_job call; it does not stop itself"
    if hooks.kill(jid):
        return f"Job {jid} was asked to stop"
    return f"No job {jid} is running on this minion"
