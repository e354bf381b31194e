"""Configuration: defaults, validation errors, file lookup and path resolution."""

from __future__ import annotations

import dataclasses
import os
import socket
from pathlib import Path

import pytest

from fluxforge import config
from fluxforge.config import (
    ENV_CONFIG,
    Config,
    MasterConfig,
    MinionConfig,
    build,
    from_mapping,
    load,
)
from fluxforge.errors import ConfigError

MASTER_PATHS = ("pki_dir", "cachedir", "sock_dir", "log_file")
MINION_PATHS = ("pki_dir", "cachedir", "log_file")


def _write(folder: Path, text: str, name: str = "fluxforge.conf") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_CONFIG, raising=False)


# -- defaults -------------------------------------------------------------


def test_master_defaults() -> None:
    cfg = from_mapping({})
    m = cfg.master
    assert m.root_dir == "/"
    assert m.interface == "0.0.0.0"
    assert m.publish_port == 4505
    assert m.ret_port == 4506
    assert m.pki_dir == "/etc/fluxforge/pki/master"
    assert m.cachedir == "/var/cache/fluxforge/master"
    assert m.sock_dir == "/var/run/fluxforge/master"
    assert m.log_file == "/var/log/fluxforge/master.log"
    assert m.log_level == "info"
    assert m.auto_accept is False
    assert m.autosign_file == ""
    assert m.timeout == 5.0 and isinstance(m.timeout, float)
    assert m.max_frame_size == 16 * 1024 * 1024
    assert m.keep_jobs == 24
    assert m.worker_threads == 2


def test_minion_defaults() -> None:
    n = from_mapping({}).minion
    assert n.root_dir == "/"
    assert n.master == "127.0.0.1"
    assert n.publish_port == 4505
    assert n.ret_port == 4506
    assert n.pki_dir == "/etc/fluxforge/pki/minion"
    assert n.cachedir == "/var/cache/fluxforge/minion"
    assert n.log_file == "/var/log/fluxforge/minion.log"
    assert n.grains == {}
    assert n.acceptance_wait_time == 10.0
    assert n.master_finger == ""
    assert n.auth_timeout == 5.0
    assert n.max_frame_size == 16 * 1024 * 1024
    assert n.worker_threads == 8
    assert n.heartbeat_interval == 1.0


def test_configs_are_frozen() -> None:
    cfg = from_mapping({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.master.publish_port = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.minion.id = "x"  # type: ignore[misc]


def test_mutable_defaults_are_not_shared() -> None:
    a = build(MinionConfig, {"id": "a"})
    b = build(MinionConfig, {"id": "b"})
    a.grains["x"] = 1
    assert b.grains == {}
    assert MinionConfig().grains == {}


def test_empty_sections_take_defaults(tmp_path: Path) -> None:
    path = _write(tmp_path, "master:\nminion:\n")
    cfg = load(str(path))
    assert cfg.master.publish_port == 4505
    assert cfg.minion.worker_threads == 8


def test_empty_file_takes_defaults(tmp_path: Path) -> None:
    path = _write(tmp_path, "")
    cfg = load(str(path))
    assert cfg.path == str(path)
    assert cfg.master.keep_jobs == 24


def test_values_are_read(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "master:\n  publish_port: 5505\n  auto_accept: true\n  log_level: debug\n"
        "minion:\n  id: web1\n  master: 10.0.0.1\n  grains: {roles: [web]}\n",
    )
    cfg = load(str(path))
    assert isinstance(cfg, Config)
    assert cfg.master.publish_port == 5505
    assert cfg.master.auto_accept is True
    assert cfg.master.log_level == "debug"
    assert cfg.master.ret_port == 4506
    assert cfg.minion.id == "web1"
    assert cfg.minion.master == "10.0.0.1"
    assert cfg.minion.grains == {"roles": ["web"]}


# -- errors ---------------------------------------------------------------


def test_unknown_master_key_names_file_section_key_and_suggestion(tmp_path: Path) -> None:
    path = _write(tmp_path, "master:\n  publsh_port: 4505\n")
    with pytest.raises(ConfigError) as info:
        load(str(path))
    msg = str(info.value)
    assert str(path) in msg
    assert "master" in msg
    assert "publsh_port" in msg
    assert "did you mean 'publish_port'" in msg
    assert info.value.exit_code == 2


def test_unknown_minion_key_without_close_match(tmp_path: Path) -> None:
    path = _write(tmp_path, "minion:\n  zzzzqqqq: 1\n")
    with pytest.raises(ConfigError) as info:
        load(str(path))
    msg = str(info.value)
    assert str(path) in msg and "minion" in msg and "zzzzqqqq" in msg
    assert "did you mean" not in msg


def test_master_only_option_in_minion_section_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "minion:\n  sock_dir: x\n")
    with pytest.raises(ConfigError, match=r"minion: unknown option 'sock_dir'"):
        load(str(path))


@pytest.mark.parametrize(
    ("text", "option", "expected"),
    [
        ('master:\n  publish_port: "abc"\n', "publish_port", "an integer"),
        ("master:\n  auto_accept: 1\n", "auto_accept", "true or false"),
        ("master:\n  publish_port: true\n", "publish_port", "an integer"),
        ("master:\n  publish_port: 4505.5\n", "publish_port", "an integer"),
        ("master:\n  timeout: fast\n", "timeout", "a number"),
        ("master:\n  timeout: true\n", "timeout", "a number"),
        ("master:\n  interface: 10\n", "interface", "a string"),
        ("minion:\n  grains: [a, b]\n", "grains", "a mapping"),
        ("minion:\n  id: null\n", "id", "a string"),
    ],
)
def test_wrong_type_names_option_and_expected_type(
    tmp_path: Path, text: str, option: str, expected: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load(str(path))
    msg = str(info.value)
    assert str(path) in msg
    assert repr(option) in msg
    assert f"must be {expected}" in msg


def test_unknown_section_with_suggestion(tmp_path: Path) -> None:
    path = _write(tmp_path, "minon:\n  id: x\n")
    with pytest.raises(ConfigError) as info:
        load(str(path))
    msg = str(info.value)
    assert str(path) in msg
    assert "unknown section 'minon'" in msg
    assert "did you mean 'minion'" in msg


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = _write(tmp_path, "- master\n- minion\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load(str(path))


def test_section_must_be_a_mapping(tmp_path: Path) -> None:
    path = _write(tmp_path, "master:\n  - publish_port\n")
    with pytest.raises(ConfigError, match="section master: must be a mapping"):
        load(str(path))


def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "master:\n  publish_port: 4505\n  ret_port: [4506\n")
    with pytest.raises(ConfigError) as info:
        load(str(path))
    msg = str(info.value)
    assert msg.startswith(f"{path}: line 4: ")
    assert "expected ',' or ']'" in msg


def test_invalid_yaml_line_number_is_exact(tmp_path: Path) -> None:
    path = _write(tmp_path, "master:\n  a: 1\n   b: 2\n")
    with pytest.raises(ConfigError) as info:
        load(str(path))
    assert f"{path}: line 3:" in str(info.value)


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.conf"
    with pytest.raises(ConfigError) as info:
        load(str(missing))
    msg = str(info.value)
    assert str(missing) in msg
    assert "no such config file" in msg


def test_unreadable_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load(str(tmp_path))  # a directory


def test_missing_default_path_gives_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(config.loading, "DEFAULT_CONFIG", str(tmp_path / "absent.conf"))
    cfg = load()
    assert cfg.path == str(tmp_path / "absent.conf")
    assert cfg.master == build(MasterConfig, {})
    assert cfg.minion.publish_port == 4505


def test_existing_default_path_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, "master:\n  keep_jobs: 7\n")
    monkeypatch.setattr(config.loading, "DEFAULT_CONFIG", str(path))
    assert load().master.keep_jobs == 7


def test_env_variable_is_honored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, "master:\n  keep_jobs: 3\n")
    monkeypatch.setattr(config.loading, "DEFAULT_CONFIG", str(tmp_path / "absent.conf"))
    monkeypatch.setenv(ENV_CONFIG, str(path))
    cfg = load()
    assert cfg.path == str(path)
    assert cfg.master.keep_jobs == 3


def test_env_variable_missing_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_CONFIG, str(tmp_path / "gone.conf"))
    with pytest.raises(ConfigError, match=r"gone\.conf: no such config file"):
        load()


def test_explicit_path_wins_over_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_path = _write(tmp_path, "master:\n  keep_jobs: 3\n", "env.conf")
    explicit = _write(tmp_path, "master:\n  keep_jobs: 9\n", "explicit.conf")
    monkeypatch.setenv(ENV_CONFIG, str(env_path))
    assert load(str(explicit)).master.keep_jobs == 9


def test_config_path_reports_whether_named(monkeypatch: pytest.MonkeyPatch) -> None:
    assert config.config_path("/x.conf") == ("/x.conf", True)
    assert config.config_path(None) == (config.DEFAULT_CONFIG, False)
    monkeypatch.setenv(ENV_CONFIG, "/env.conf")
    assert config.config_path(None) == ("/env.conf", True)
    monkeypatch.setenv(ENV_CONFIG, "")
    assert config.config_path(None) == (config.DEFAULT_CONFIG, False)


# -- paths ----------------------------------------------------------------


def test_relative_root_dir_is_relative_to_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "inst"
    folder.mkdir()
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    path = _write(folder, "master:\n  root_dir: root\nminion:\n  root_dir: ../mroot\n")
    cfg = load(str(path))
    assert cfg.master.root_dir == str(folder / "root")
    assert cfg.master.pki_dir == str(folder / "root" / "etc/fluxforge/pki/master")
    assert cfg.minion.root_dir == str(tmp_path / "mroot")
    assert cfg.minion.cachedir == str(tmp_path / "mroot" / "var/cache/fluxforge/minion")


def test_relative_config_path_with_relative_root_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "inst"
    folder.mkdir()
    _write(folder, "master:\n  root_dir: .\n")
    monkeypatch.chdir(tmp_path)
    cfg = load("inst/fluxforge.conf")
    assert cfg.master.root_dir == str(folder)
    assert os.path.isabs(cfg.master.sock_dir)


def test_relative_root_dir_without_file_is_relative_to_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = build(MasterConfig, {"root_dir": "sub"})
    assert cfg.root_dir == str(tmp_path / "sub")


def test_all_path_options_are_under_root_dir(tmp_path: Path) -> None:
    root = tmp_path / "root"
    master = build(MasterConfig, {"root_dir": str(root), "autosign_file": "etc/autosign"})
    minion = build(MinionConfig, {"root_dir": str(root), "id": "m"})
    for name in MASTER_PATHS:
        value = getattr(master, name)
        default = str(MasterConfig.__dataclass_fields__[name].default)
        assert value == os.path.join(str(root), default), name
    assert master.autosign_file == str(root / "etc/autosign")
    for name in MINION_PATHS:
        value = getattr(minion, name)
        default = str(MinionConfig.__dataclass_fields__[name].default)
        assert value == os.path.join(str(root), default), name


def test_every_declared_path_option_is_resolved(tmp_path: Path) -> None:
    for cls, extra in ((MasterConfig, {"autosign_file": "a"}), (MinionConfig, {"id": "m"})):
        cfg = build(cls, {"root_dir": str(tmp_path), **extra})
        for f in dataclasses.fields(cls):
            if not f.metadata["path"]:
                continue
            value = getattr(cfg, f.name)
            folders = next(iter(value.values())) if isinstance(value, dict) else [value]
            assert folders, f.name
            for folder in folders:
                assert folder.startswith(str(tmp_path) + os.sep), f.name


def test_roots_map_environments_to_folders_under_root_dir(tmp_path: Path) -> None:
    cfg = build(
        MasterConfig,
        {"root_dir": str(tmp_path), "file_roots": {"base": ["a", "/abs"], "dev": "b"}},
    )
    assert cfg.file_roots == {"base": [str(tmp_path / "a"), "/abs"], "dev": [str(tmp_path / "b")]}
    with pytest.raises(ConfigError, match=r"file_roots.*environment names to lists"):
        build(MasterConfig, {"root_dir": str(tmp_path), "file_roots": {"base": {"x": 1}}})


def test_absolute_path_options_are_kept(tmp_path: Path) -> None:
    cfg = build(
        MasterConfig,
        {"root_dir": str(tmp_path), "pki_dir": "/srv/pki", "log_file": "/var/log/ff.log"},
    )
    assert cfg.pki_dir == "/srv/pki"
    assert cfg.log_file == "/var/log/ff.log"
    assert cfg.cachedir == str(tmp_path / "var/cache/fluxforge/master")


def test_empty_autosign_file_stays_empty(tmp_path: Path) -> None:
    cfg = build(MasterConfig, {"root_dir": str(tmp_path)})
    assert cfg.autosign_file == ""


# -- minion id and numbers ------------------------------------------------


def test_minion_id_defaults_to_fqdn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getfqdn", lambda *a: "host.example.org")
    assert from_mapping({}).minion.id == "host.example.org"
    assert build(MinionConfig, {"id": ""}).id == "host.example.org"
    assert build(MinionConfig, {"id": "explicit"}).id == "explicit"


def test_minion_id_default_is_real_fqdn() -> None:
    assert from_mapping({}).minion.id == socket.getfqdn()


def test_int_accepted_for_float_option(tmp_path: Path) -> None:
    path = _write(tmp_path, "master:\n  timeout: 7\nminion:\n  heartbeat_interval: 2\n")
    cfg = load(str(path))
    assert cfg.master.timeout == 7.0
    assert type(cfg.master.timeout) is float
    assert type(cfg.minion.heartbeat_interval) is float


def test_float_given_for_float_option_is_kept() -> None:
    assert build(MasterConfig, {"timeout": 0.25}).timeout == 0.25


def test_build_error_without_file_uses_placeholder() -> None:
    with pytest.raises(ConfigError, match=r"<config>: master: unknown option 'prot'"):
        build(MasterConfig, {"prot": 1}, section="master")


def test_describe_lists_every_field_with_help() -> None:
    for cls in (MasterConfig, MinionConfig):
        described = config.describe(cls)
        assert [d[0] for d in described] == [f.name for f in dataclasses.fields(cls)]
        for _name, _default, help_text in described:
            assert isinstance(help_text, str) and help_text


def test_ensure_dir_sets_mode(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    config.ensure_dir(target, 0o700)
    assert target.is_dir()
    assert target.stat().st_mode & 0o777 == 0o700
    target.chmod(0o755)
    config.ensure_dir(target, 0o700)
    assert target.stat().st_mode & 0o777 == 0o700


def test_an_option_with_choices_names_them(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'state_output' must be one of full, terse.*'terse'\?"):
        build(MasterConfig, {"root_dir": str(tmp_path), "state_output": "tersee"})
    assert build(MasterConfig, {"root_dir": str(tmp_path), "state_output": "changes"}).state_output


def test_load_master_checks_the_whole_file_but_looks_up_no_host_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_lookup(*args: object) -> str:
        raise AssertionError("load_master looked up the host name")

    monkeypatch.setattr(socket, "getfqdn", no_lookup)
    path = tmp_path / "ff.conf"
    path.write_text(f"master:\n  root_dir: {tmp_path}\n  timeout: 7\nminion:\n  master: x\n")
    assert config.load_master(str(path)).timeout == 7
    path.write_text("master:\n  timeout: 7\nminion:\n  mastr: x\n")
    with pytest.raises(ConfigError, match=r"unknown option 'mastr'.*master"):
        config.load_master(str(path))


# -- sections a daemon needs, and Salt-style flat files ---------------------


def test_salt_style_flat_file_names_the_section_to_add(tmp_path: Path) -> None:
    path = _write(tmp_path, "interface: 127.0.0.1\npublish_port: 4505\n")
    with pytest.raises(ConfigError) as info:
        load(str(path))
    assert str(info.value) == (
        f"{path}: option 'interface' is at the top level (a Salt-style flat file?); "
        "options go under their daemon's section: add 'master:' and indent 'interface' "
        "and the other options under it"
    )
    path = _write(tmp_path, "id: web1\n")
    with pytest.raises(ConfigError, match="add 'minion:' and indent 'id'"):
        load(str(path))
    # An option both daemons have names both sections.
    path = _write(tmp_path, "log_level: info\n")
    with pytest.raises(ConfigError, match="add 'master:' or 'minion:' and indent 'log_level'"):
        load(str(path))


def test_salt_minion_file_with_master_address_says_to_use_minion_section(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path, "master: 10.0.0.1\n")
    with pytest.raises(ConfigError) as info:
        load(str(path))
    assert str(info.value) == (
        f"{path}: top-level 'master: 10.0.0.1' looks like a Salt minion file; here the "
        "minion's options go under a section: add 'minion:' and indent 'master:' and the "
        "other options under it"
    )


def test_daemon_section_missing_from_an_existing_file_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "minion:\n  id: web1\n")
    load(str(path))  # without require, a section may be absent
    with pytest.raises(ConfigError) as info:
        load(str(path), require="master")
    assert str(info.value) == (
        f"{path}: no master: section (it has only minion:); add a line 'master:' and "
        "indent the master's options under it (an empty 'master:' takes every default)"
    )
    path = _write(tmp_path, "")
    with pytest.raises(ConfigError, match=r"no minion: section; add a line 'minion:'"):
        load(str(path), require="minion")
    # An empty section is there: every option takes its default.
    path = _write(tmp_path, "master:\n")
    assert load(str(path), require="master").master.publish_port == MasterConfig().publish_port


def test_a_required_section_is_not_needed_without_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(config.loading, "DEFAULT_CONFIG", str(tmp_path / "absent.conf"))
    assert load(require="master").master.ret_port == MasterConfig().ret_port
