"""Configuration: every option declared once, loaded from one YAML file.

The public names of :mod:`fluxforge.config.options`, importable from here.
"""

from fluxforge.config.options import (
    DEFAULT_CONFIG,
    ENV_CONFIG,
    SECTIONS,
    STATE_OUTPUTS,
    Config,
    MasterConfig,
    MinionConfig,
    build,
    config_path,
    describe,
    ensure_dir,
    from_mapping,
    load,
    opt,
    render_sample,
)

__all__ = [
    "DEFAULT_CONFIG",
    "ENV_CONFIG",
    "SECTIONS",
    "STATE_OUTPUTS",
    "Config",
    "MasterConfig",
    "MinionConfig",
    "build",
    "config_path",
    "describe",
    "ensure_dir",
    "from_mapping",
    "load",
    "opt",
    "render_sample",
]
