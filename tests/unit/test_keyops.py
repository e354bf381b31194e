"""``ff-key`` without a running master works on the key store, and never makes one up."""

from __future__ import annotations

from pathlib import Path

import pytest

from fluxforge.cli.keyops import KeyOps
from fluxforge.config import MasterConfig, build
from fluxforge.errors import KeyStoreError


def _cfg(root: Path) -> MasterConfig:
    cfg: MasterConfig = build(MasterConfig, {"root_dir": str(root)}, section="master")
    return cfg


def test_no_config_found_and_no_key_store_is_an_error_that_creates_nothing(
    tmp_path: Path,
) -> None:
    cfg = _cfg(tmp_path / "root")
    with pytest.raises(KeyStoreError) as info:
        KeyOps(cfg, config_file=None)
    assert str(info.value) == (
        "no config file found (/etc/fluxforge/fluxforge.conf does not exist) and no key "
        f"store at the default pki_dir {cfg.pki_dir}; pass -c PATH or set "
        "FLUXFORGE_CONFIG to the master's config"
    )
    assert not (tmp_path / "root").exists()


def test_a_config_whose_master_never_ran_is_an_error_naming_the_file(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    with pytest.raises(KeyStoreError) as info:
        KeyOps(cfg, config_file="/srv/ff/master.conf")
    assert str(info.value) == (
        f"no master has run with /srv/ff/master.conf: its pki_dir {cfg.pki_dir} does not "
        "exist; start ff-master first, or pass -c PATH to the master's config"
    )
    assert not Path(cfg.pki_dir).exists()


def test_an_existing_key_store_is_read_without_a_master(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    Path(cfg.pki_dir).mkdir(parents=True, mode=0o700)
    assert KeyOps(cfg, config_file=None).run("list") == {
        "accepted": [],
        "pending": [],
        "rejected": [],
        "denied": [],
    }
