"""Configuration: every option declared once (:mod:`.schema`), loaded from one YAML file
(:mod:`.loading`); the sample file is made from the declarations (:mod:`.sample`).
"""

from fluxforge.config.loading import (
    DEFAULT_CONFIG,
    ENV_CONFIG,
    build,
    config_path,
    ensure_dir,
    ensure_private_dir,
    from_mapping,
    load,
    load_master,
)
from fluxforge.config.sample import render_sample
from fluxforge.config.schema import (
    SECTIONS,
    STATE_OUTPUTS,
    Config,
    MasterConfig,
    MinionConfig,
    describe,
    opt,
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
    "ensure_private_dir",
    "from_mapping",
    "load",
    "load_master",
    "opt",
    "render_sample",
]
