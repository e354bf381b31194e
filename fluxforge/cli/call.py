"""``ff-call``: run an execution function on this host.

With ``--local`` nothing talks to a master: the job's context is built here
from the minion configuration. State runs (``state.apply`` ...) read the
state tree from the minion's ``file_roots`` through the same file client a
minion uses with its master, and the pillar is compiled here from the
minion's ``pillar_roots``, as the master would compile it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from fluxforge import config, logs, output
from fluxforge.cli.args import reject_options, split_args
from fluxforge.cli.common import (
    CONTEXT,
    LiteralArgsCommand,
    boundary,
    common_options,
    fail,
    known_options,
    literal_words,
    out_option,
    state_output_option,
)

if TYPE_CHECKING:
    from fluxforge.plugins.context import JobContext

log = logging.getLogger("fluxforge.call")

# The minion id ff-call shows its return under, as salt-call does.
LOCAL_ID = "local"


@click.command(cls=LiteralArgsCommand, context_settings={**CONTEXT, "ignore_unknown_options": True})
@click.option("--local", is_flag=True, help="Run without a master (the only mode so far).")
@out_option(default=None)
@state_output_option
@common_options
@click.argument("function")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@boundary
def main(
    function: str,
    args: tuple[str, ...],
    local: bool,
    out: str | None,
    state_output: str | None,
    config_path: str | None,
    log_level: str | None,
) -> None:
    """Run FUNCTION with ARGs here, with the minion configuration.

    \b
    Examples:
      ff-call --local grains.items
      ff-call --local cmd.run 'df -h' --out json
      ff-call --local state.apply test=True
      ff-call --local state.sls web --state-output changes

    With --local, state runs read the state tree from the minion's
    file_roots and the pillar from its pillar_roots. They are shown with the
    highstate outputter unless --out says otherwise, and each state is
    reported on stderr as it finishes ([3/20] file.managed /etc/motd: changed).

    Exit codes: 0 the function succeeded, 1 it failed (a state run with a
    failed state included), 2 usage or config error.
    """
    reject_options("ff-call --local", [function], args, literal_words(), known_options())
    if not local:
        fail("ff-call needs --local for now: calling through the master comes later")
    cfg = config.load(config_path, require="minion").minion
    logs.setup(log_level or "warning", stderr=True)
    from fluxforge.minion.runner import run_function

    ctx = local_context(cfg, function)
    positional, keywords = split_args(args)
    outcome = run_function(ctx, function, positional, keywords)
    value = outcome["return"]
    out = out or output.default_outputter(function)
    if out == "json":
        click.echo(output.format_all({LOCAL_ID: value}, "json"))
    else:
        color = output.use_color(sys.stdout)
        text = output.format_return(
            LOCAL_ID,
            value,
            out,
            color,
            not outcome["success"],
            state_output=state_output or cfg.state_output,
        )
        sys.stdout.write(text)
    sys.exit(0 if outcome["success"] else 1)


def local_context(cfg: config.MinionConfig, function: str) -> JobContext:
    """The :class:`~fluxforge.plugins.context.JobContext` of a masterless run of ``function``.

    Execution and state modules (built-in and synced ones), the core and
    custom grains, the file client over ``file_roots``, and the pillar
    compiled from ``pillar_roots`` (``{}`` with the reason in
    ``pillar_error`` when it does not compile). A state run's progress is
    printed on stderr, one line per state.
    """
    from fluxforge.files.client import local_client
    from fluxforge.grains.core import all_grains
    from fluxforge.plugins.context import JobContext
    from fluxforge.plugins.loader import execution_functions, state_functions

    grains = all_grains(cfg)
    pillar, pillar_error = local_pillar(cfg, grains)
    ctx = JobContext(
        opts=cfg,
        grains=grains,
        pillar=pillar,
        pillar_error=pillar_error,
        funcs=execution_functions(cfg.cachedir),
        fun=function,
        states=state_functions(cfg.cachedir),
        files=local_client(cfg.cachedir, cfg.file_roots),
    )
    if function in output.STATE_RUN_FUNCTIONS:
        ctx.progress = _print_progress
    return ctx


def local_pillar(cfg: config.MinionConfig, grains: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """``(pillar, error)``: this minion's pillar, compiled from its own ``pillar_roots``.

    Compiled as a master would (top files, includes, merging), with the
    minion's ``nodegroups`` for ``N@`` targets and no ``ext_pillar``. No top
    file gives ``{}``; a compile error gives ``{}`` and its one-line reason,
    which is also logged as a warning.
    """
    folders = [folder for env in cfg.pillar_roots.values() for folder in env]
    if not any(os.path.exists(os.path.join(folder, "top.sls")) for folder in folders):
        # Nothing to compile: spare every call the compiler's imports.
        return {}, ""
    from fluxforge.errors import PillarError
    from fluxforge.pillar import compile_pillar

    master_cfg = dataclasses.replace(
        config.build(config.MasterConfig, {}, "<ff-call --local>", "master"),
        root_dir=cfg.root_dir,
        pillar_roots=cfg.pillar_roots,
        nodegroups=cfg.nodegroups,
    )
    try:
        return compile_pillar(master_cfg, cfg.id, grains), ""
    except PillarError as exc:
        log.warning("the pillar did not compile: %s", exc)
        return {}, str(exc)


def _print_progress(data: dict[str, Any]) -> None:
    line = output.format_progress(data)
    if line is not None:
        click.echo(line, err=True)
