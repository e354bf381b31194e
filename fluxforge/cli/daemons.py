"""``ff-master`` and ``ff-minion``: run a daemon in the foreground."""

from __future__ import annotations

import importlib

import click

from fluxforge import config, logs
from fluxforge.cli.common import CONTEXT, boundary, common_options


def _run(section: str, config_path: str | None, log_level: str | None) -> None:
    """Load the config section, set up logging and run the daemon of that section."""
    cfg = getattr(config.load(config_path), section)
    logs.setup(log_level or cfg.log_level, cfg.log_file)
    importlib.import_module(f"fluxforge.{section}.daemon").run(cfg)


@click.command(context_settings=CONTEXT)
@common_options
@boundary
def master_main(config_path: str | None, log_level: str | None) -> None:
    """Run the FluxForge master in the foreground (SIGTERM stops it)."""
    _run("master", config_path, log_level)


@click.command(context_settings=CONTEXT)
@common_options
@boundary
def minion_main(config_path: str | None, log_level: str | None) -> None:
    """Run a FluxForge minion in the foreground (SIGTERM stops it)."""
    _run("minion", config_path, log_level)
