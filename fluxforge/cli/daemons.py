"""``ff-master`` and ``ff-minion``: run a daemon in the foreground."""

from __future__ import annotations

import importlib
import os
import sys

import click

from fluxforge import config, logs
from fluxforge.cli.common import CONTEXT, boundary, common_options


def _run(section: str, config_path: str | None, log_level: str | None) -> None:
    """Load the config section, set up logging and run the daemon of that section."""
    cfg = getattr(config.load(config_path, require=section), section)
    logs.setup(log_level or cfg.log_level, cfg.log_file)
    importlib.import_module(f"fluxforge.{section}.daemon").run(cfg)


@click.command(context_settings=CONTEXT)
@common_options
@boundary
def master_main(config_path: str | None, log_level: str | None) -> None:
    """Run the FluxForge master in the foreground (SIGTERM stops it)."""
    _run("master", config_path, log_level)


@click.command(context_settings=CONTEXT)
@click.option("--swarm", type=click.IntRange(1), metavar="N", help="Run N minions in this host.")
@click.option("--id-prefix", default="m", show_default=True, help="Swarm ids: PREFIX0, PREFIX1...")
@click.option(
    "--procs",
    type=click.IntRange(1),
    default=os.cpu_count() or 1,
    show_default="number of cores",
    help="Processes the swarm is spread over.",
)
@click.option("--swarm-range", hidden=True, metavar="PREFIX:START:STOP")
@common_options
@boundary
def minion_main(
    config_path: str | None,
    log_level: str | None,
    swarm: int | None,
    id_prefix: str,
    procs: int,
    swarm_range: str | None,
) -> None:
    """Run a FluxForge minion (or a swarm of them) in the foreground (SIGTERM stops it).

    \b
    Examples:
      ff-minion -c /etc/fluxforge/fluxforge.conf
      ff-minion -c swarm.conf --swarm 1000 --id-prefix m
    """
    if swarm is None and swarm_range is None:
        _run("minion", config_path, log_level)
        return
    from fluxforge.minion import swarm as swarm_mod

    cfg = config.load(config_path, require="minion").minion
    if swarm_range is not None:
        prefix, start, stop = swarm_range.rsplit(":", 2)
        logs.setup(log_level or cfg.log_level, cfg.log_file)
        swarm_mod.serve_slice(cfg, swarm_mod.swarm_ids(prefix, int(start), int(stop)))
        return
    assert swarm is not None
    path, _ = config.config_path(config_path)
    code = swarm_mod.serve_swarm(path, swarm, id_prefix, procs, log_level or cfg.log_level)
    sys.exit(code)
