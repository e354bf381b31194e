"""``ff-call``: run an execution function on this host."""

from __future__ import annotations

import sys

import click

from fluxforge import config, logs, output
from fluxforge.cli.common import CONTEXT, boundary, common_options, fail, out_option
from fluxforge.cliargs import split_args


@click.command(context_settings={**CONTEXT, "ignore_unknown_options": True})
@click.option("--local", is_flag=True, help="Run without a master (the only mode so far).")
@out_option()
@common_options
@click.argument("function")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@boundary
def main(
    function: str,
    args: tuple[str, ...],
    local: bool,
    out: str,
    config_path: str | None,
    log_level: str | None,
) -> None:
    """Run FUNCTION with ARGs here, with the minion configuration.

    \b
    Examples:
      ff-call --local grains.items
      ff-call --local cmd.run 'df -h' --out json
    """
    if not local:
        fail("ff-call needs --local for now: calling through the master comes later")
    cfg = config.load(config_path).minion
    logs.setup(log_level or "warning", stderr=True)
    from fluxforge.context import JobContext
    from fluxforge.grains.core import all_grains
    from fluxforge.loader import execution_functions
    from fluxforge.minion.runner import run_function

    funcs = execution_functions(cfg.cachedir)
    ctx = JobContext(opts=cfg, grains=all_grains(cfg), pillar={}, funcs=funcs, fun=function)
    positional, keywords = split_args(args)
    outcome = run_function(ctx, function, positional, keywords)
    value = outcome["return"]
    if out == "json":
        click.echo(output.format_all({"local": value}, "json"))
    else:
        color = output.use_color(sys.stdout)
        sys.stdout.write(output.format_return("local", value, out, color, not outcome["success"]))
    sys.exit(0 if outcome["success"] else 1)
