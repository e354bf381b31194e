"""``ff-master`` and ``ff-minion``: run a daemon in the foreground."""

from __future__ import annotations

import click

from fluxforge import config, logs
from fluxforge.cli.common import CONTEXT, boundary, common_options


@click.command(context_settings=CONTEXT)
@common_options
@boundary
def master_main(config_path: str | None, log_level: str | None) -> None:
    """Run the FluxForge master in the foreground (SIGTERM stops it)."""
    cfg = config.load(config_path).master
    logs.setup(log_level or cfg.log_level, cfg.log_file)
    from fluxforge.master.daemon import run

    run(cfg)


@click.command(context_settings=CONTEXT)
@common_options
@boundary
def minion_main(config_path: str | None, log_level: str | None) -> None:
    """Run a FluxForge minion in the foreground (SIGTERM stops it)."""
    cfg = config.load(config_path).minion
    logs.setup(log_level or cfg.log_level, cfg.log_file)
    from fluxforge.minion.daemon import run

    run(cfg)
