"""Core grains, custom grain modules, the grains file, and the order they merge in."""

from __future__ import annotations

import grp
import logging
import os
import platform
import pwd
import socket
import stat
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

import fluxforge
from fluxforge.config import MinionConfig, build
from fluxforge.errors import ExecutionError
from fluxforge.grains import store
from fluxforge.grains.core import all_grains, core_grains, merge, os_grains, read_os_release
from fluxforge.plugins.loader import extmods_dir


def _opts(tmp_path: Path, grains: dict[str, object] | None = None) -> MinionConfig:
    values: dict[str, object] = {"id": "t1", "root_dir": str(tmp_path)}
    if grains is not None:
        values["grains"] = grains
    opts: MinionConfig = build(MinionConfig, values)
    return opts


def test_core_grains_keys_and_types(tmp_path: Path) -> None:
    grains = core_grains(_opts(tmp_path))
    assert grains["id"] == "t1"
    assert grains["host"] == socket.gethostname().split(".")[0]
    assert isinstance(grains["fqdn"], str) and grains["fqdn"]
    assert grains["kernel"] == platform.system()
    assert grains["kernelrelease"] == platform.release()
    assert grains["cpuarch"] == platform.machine()
    assert isinstance(grains["num_cpus"], int) and grains["num_cpus"] >= 1
    assert isinstance(grains["cpu_model"], str)
    assert isinstance(grains["mem_total"], int) and grains["mem_total"] > 0
    assert "127.0.0.1" in grains["ipv4"]
    assert grains["ipv4"] == sorted(grains["ipv4"])
    assert all(isinstance(v, list) for v in grains["ip4_interfaces"].values())
    assert "127.0.0.1" in {a for v in grains["ip4_interfaces"].values() for a in v}
    assert grains["pythonversion"] == list(sys.version_info)
    assert grains["pythonversion"][:3] == [
        sys.version_info.major,
        sys.version_info.minor,
        sys.version_info.micro,
    ]
    assert grains["fluxforge_version"] == fluxforge.__version__
    for key in ("os", "os_family", "osrelease", "oscodename"):
        assert isinstance(grains[key], str)
    assert grains["os"]


def test_core_grains_say_what_this_machine_says(tmp_path: Path) -> None:
    """Each Salt-compatible grain against the file or call it must agree with."""
    grains = core_grains(_opts(tmp_path))
    release = read_os_release()
    if release.get("NAME"):
        assert grains["osfullname"] == release["NAME"]
    if release.get("VERSION_ID"):
        assert grains["osrelease"].startswith(release["VERSION_ID"])
        assert grains["osmajorrelease"] == int(release["VERSION_ID"].split(".")[0])
        assert grains["osfinger"].endswith(f"-{grains['osmajorrelease']}") or grains[
            "osfinger"
        ].endswith(f"-{grains['osrelease']}")
    meminfo = {
        line.split(":")[0]: int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
    }
    assert grains["mem_total"] == meminfo["MemTotal"] // 1024
    assert grains["swap_total"] == meminfo["SwapTotal"] // 1024
    if Path("/etc/machine-id").exists():
        assert grains["machine_id"] == Path("/etc/machine-id").read_text().strip()
    entry = pwd.getpwuid(os.geteuid())
    assert (grains["uid"], grains["gid"]) == (os.geteuid(), os.getegid())
    assert grains["username"] == entry.pw_name
    assert grains["groupname"] == grp.getgrgid(entry.pw_gid).gr_name
    assert grains["kernelversion"] == os.uname().version
    assert grains["pythonexecutable"] == sys.executable
    assert grains["path"] == os.environ.get("PATH", "")
    assert grains["shell"] == os.environ.get("SHELL", "/bin/sh")
    addresses = {a for v in grains["ip_interfaces"].values() for a in v}
    assert "127.0.0.1" in addresses and set(grains["ipv4"]) | set(grains["ipv6"]) == addresses
    assert all("%" not in a for a in grains["ipv6"])
    assert set(grains["hwaddr_interfaces"]) <= set(grains["ip_interfaces"])
    if Path("/run/systemd/system").exists():
        assert grains["init"] == "systemd"
    else:
        assert grains["init"] in ("upstart", "sysvinit", "systemd", "runit", "unknown") or (
            grains["init"] in ("supervisord", "dumb-init", "tini")
        )
    resolv = Path("/etc/resolv.conf")
    if resolv.exists() and not Path("/run/systemd/resolve/resolv.conf").exists():
        servers = [
            line.split()[1]
            for line in resolv.read_text().splitlines()
            if line.startswith("nameserver") and len(line.split()) > 1
        ]
        assert grains["dns"]["nameservers"] == list(dict.fromkeys(servers))


def test_core_grains_are_fast(tmp_path: Path) -> None:
    opts = _opts(tmp_path)
    core_grains(opts)
    start = time.monotonic()
    core_grains(opts)
    assert time.monotonic() - start < 0.5


def test_static_grains_deep_merge_over_core(tmp_path: Path) -> None:
    static: dict[str, object] = {
        "roles": ["web"],
        "os": "Custom",
        "ip4_interfaces": {"fake0": ["10.9.9.9"]},
    }
    opts = _opts(tmp_path, static)
    grains = all_grains(opts)
    assert grains["roles"] == ["web"]
    assert grains["os"] == "Custom"
    assert grains["ip4_interfaces"]["fake0"] == ["10.9.9.9"]
    assert "127.0.0.1" in {a for v in grains["ip4_interfaces"].values() for a in v}
    grains["roles"].append("db")
    assert opts.grains["roles"] == ["web"]  # the config is not aliased


def test_merge_is_deep_and_does_not_mutate() -> None:
    base = {"a": {"b": 1, "c": 2}, "d": 1}
    over = {"a": {"c": 3, "e": 4}, "d": {"x": 1}}
    assert merge(base, over) == {"a": {"b": 1, "c": 3, "e": 4}, "d": {"x": 1}}
    assert base == {"a": {"b": 1, "c": 2}, "d": 1}


def test_read_os_release_parses_quotes(tmp_path: Path) -> None:
    path = tmp_path / "os-release"
    path.write_text(
        '# comment\nNAME="Debian GNU/Linux"\nID=debian\nVERSION_ID="12"\n'
        "VERSION_CODENAME=bookworm\n"
    )
    fields = read_os_release((str(tmp_path / "missing"), str(path)))
    assert fields == {
        "NAME": "Debian GNU/Linux",
        "ID": "debian",
        "VERSION_ID": "12",
        "VERSION_CODENAME": "bookworm",
    }
    assert read_os_release((str(tmp_path / "missing"),)) == {}


def test_os_grains_names_and_families() -> None:
    debian = os_grains(
        {
            "NAME": "Debian GNU/Linux",
            "ID": "debian",
            "VERSION_ID": "12",
            "VERSION_CODENAME": "bookworm",
        }
    )
    assert debian == {
        "os": "Debian",
        "os_family": "Debian",
        "osrelease": "12",
        "oscodename": "bookworm",
    }
    assert os_grains({"NAME": "Ubuntu", "ID": "ubuntu", "ID_LIKE": "debian"})["os_family"] == (
        "Debian"
    )
    rhel = os_grains({"NAME": "Red Hat Enterprise Linux", "ID": "rhel", "VERSION_ID": "9.3"})
    assert (rhel["os"], rhel["os_family"], rhel["osrelease"]) == ("RedHat", "RedHat", "9.3")
    assert os_grains({"NAME": "Rocky Linux", "ID": "rocky"})["os_family"] == "RedHat"
    assert os_grains({"NAME": "Fedora Linux", "ID": "fedora"})["os"] == "Fedora"
    assert os_grains({"NAME": "openSUSE Leap", "ID": "opensuse-leap"})["os_family"] == "Suse"
    assert os_grains({"NAME": "Arch Linux", "ID": "arch"})["os_family"] == "Arch"
    assert os_grains({"NAME": "Alpine Linux", "ID": "alpine"})["os_family"] == "Alpine"
    assert os_grains({"ID": "gentoo"})["os"] == "Gentoo"
    odd = os_grains({"NAME": "Mint", "ID": "linuxmint", "ID_LIKE": "ubuntu debian"})
    assert (odd["os"], odd["os_family"]) == ("Mint", "Debian")
    unknown = os_grains({"NAME": "Plan9", "ID": "plan9"})
    assert unknown["os_family"] == "Plan9"
    assert os_grains({})["os"] == (platform.system() or "Linux")


# --- layers and precedence ---------------------------------------------------


def _grain_module(opts: MinionConfig, name: str, source: str) -> Path:
    folder = Path(extmods_dir(opts.cachedir, "grains"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return path


def _grains_file(opts: MinionConfig, text: str) -> Path:
    path = Path(opts.grains_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_precedence_core_custom_file_config(tmp_path: Path) -> None:
    opts = _opts(tmp_path, {"c": "config", "deep": {"config": 1, "shared": "config"}})
    _grain_module(
        opts,
        "layers",
        """
        def layer():
            return {
                "os": "FromModule",
                "a": "module", "b": "module", "c": "module",
                "deep": {"module": 1, "shared": "module"},
            }
        """,
    )
    _grains_file(opts, "b: file\nc: file\ndeep: {file: 1, shared: file}\n")
    grains = all_grains(opts)
    assert grains["os"] == "FromModule"  # a custom module overrides a core grain
    assert (grains["a"], grains["b"], grains["c"]) == ("module", "file", "config")
    assert grains["deep"] == {"module": 1, "file": 1, "config": 1, "shared": "config"}
    assert grains["kernel"] == platform.system()  # untouched core grains stay


def test_grains_file_overrides_core_and_keeps_types(tmp_path: Path) -> None:
    opts = _opts(tmp_path)
    _grains_file(opts, "os: Pinned\nroles: [web, db]\nrack: 4\nver: '010'\n")
    grains = all_grains(opts)
    assert grains["os"] == "Pinned"
    assert grains["roles"] == ["web", "db"]
    assert grains["rack"] == 4
    assert grains["ver"] == "010"


def test_all_grains_stays_fast_with_custom_modules_and_file(tmp_path: Path) -> None:
    opts = _opts(tmp_path, {"x": 1})
    for n in range(5):
        _grain_module(opts, f"m{n}", f"def g{n}():\n    return {{'g{n}': {n}}}\n")
    _grains_file(opts, "a: 1\n")
    all_grains(opts)
    start = time.monotonic()
    grains = all_grains(opts)
    assert time.monotonic() - start < 0.5
    assert [grains[f"g{n}"] for n in range(5)] == list(range(5))


# --- custom grain modules ----------------------------------------------------


def test_custom_module_functions_and_their_arguments(tmp_path: Path) -> None:
    opts = _opts(tmp_path)
    _grain_module(
        opts,
        "good",
        """
        import os.path
        from os.path import join  # imported functions are not grain functions

        def plain():
            return {"plain": True}

        def with_opts(opts):
            return {"minion_id_seen": opts.id}

        def with_grains(grains):
            seen = {"saw_plain": grains.get("plain"), "saw_kernel": grains["kernel"]}
            grains["plain"] = "mutated"  # a copy: must not leak into the result
            return seen

        def with_both(grains, opts, unused=3):
            return {"both": [opts.id, "plain" in grains]}

        def _private():
            raise AssertionError("private helpers are not called")
        """,
    )
    grains = all_grains(opts)
    assert grains["plain"] is True
    assert grains["minion_id_seen"] == "t1"
    assert grains["saw_plain"] is True  # functions run in the order they are defined
    assert grains["saw_kernel"] == platform.system()
    assert grains["both"] == ["t1", True]
    assert "join" not in grains


def test_custom_module_failures_are_one_warning_each(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    opts = _opts(tmp_path)
    _grain_module(opts, "a_broken", "import no_such_module_ff\n")
    _grain_module(opts, "b_syntax", "def oops(:\n")
    _grain_module(
        opts,
        "c_mixed",
        """
        def raises():
            raise RuntimeError("sensor offline")

        def not_a_mapping():
            return ["a", "list"]

        def wants_args(name):
            return {"never": name}

        def fine():
            return {"survivor": 1}
        """,
    )
    with caplog.at_level(logging.WARNING, logger="fluxforge.minion"):
        grains = all_grains(opts)
    assert grains["survivor"] == 1
    assert "never" not in grains
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert all(r.name == "fluxforge.minion" for r in warnings)
    text = [r.getMessage() for r in warnings]
    assert len(text) == 5, text
    assert all("\n" not in line for line in text)
    assert any("a_broken.py" in t and "ModuleNotFoundError" in t for t in text)
    assert any("b_syntax.py" in t and "SyntaxError" in t for t in text)
    assert any("c_mixed.raises" in t and "sensor offline" in t for t in text)
    assert any("c_mixed.not_a_mapping" in t and "list" in t for t in text)
    assert any("c_mixed.wants_args" in t and "'name'" in t for t in text)


def test_custom_module_is_reloaded_when_the_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # as on a production minion
    opts = _opts(tmp_path)
    path = _grain_module(opts, "flip", "def g():\n    return {'flip': 'aaa'}\n")
    assert all_grains(opts)["flip"] == "aaa"
    # Same size and mtime: a bytecode cache keyed on them would serve the old code.
    before = path.stat()
    path.write_text("def g():\n    return {'flip': 'bbb'}\n")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert all_grains(opts)["flip"] == "bbb"
    path.unlink()
    assert "flip" not in all_grains(opts)
    assert not (path.parent / "__pycache__").exists()
    assert not [m for m in sys.modules if m.startswith("fluxforge_ext.grains.")]


def test_custom_module_virtual(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    opts = _opts(tmp_path)
    _grain_module(
        opts,
        "off",
        """
        def __virtual__():
            return False, "not on this host"

        def g():
            return {"off": True}
        """,
    )
    _grain_module(
        opts, "on", "def __virtual__():\n    return True\ndef g():\n    return {'on': 1}\n"
    )
    _grain_module(
        opts, "boom", "def __virtual__():\n    raise OSError('no')\ndef g():\n    return {'b': 1}\n"
    )
    with caplog.at_level(logging.WARNING, logger="fluxforge.minion"):
        grains = all_grains(opts)
    assert "off" not in grains and "b" not in grains
    assert grains["on"] == 1
    text = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(text) == 1 and "boom.py" in text[0] and "__virtual__" in text[0]


def test_custom_module_may_define_dataclasses(tmp_path: Path) -> None:
    opts = _opts(tmp_path)
    _grain_module(
        opts,
        "typed",
        """
        from dataclasses import dataclass, asdict

        @dataclass
        class Rack:
            row: str
            slot: int

        def rack():
            return {"rack": asdict(Rack("b", 7))}
        """,
    )
    assert all_grains(opts)["rack"] == {"row": "b", "slot": 7}


# --- the grains file ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [("a: [unclosed\n", "not valid YAML"), ("- just\n- a list\n", "holds a list")],
)
def test_corrupt_grains_file_is_a_warning_and_no_grains(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, text: str, problem: str
) -> None:
    opts = _opts(tmp_path, {"kept": 1})
    path = _grains_file(opts, text)
    with caplog.at_level(logging.WARNING, logger="fluxforge.minion"):
        grains = all_grains(opts)
    assert grains["kept"] == 1 and grains["id"] == "t1"
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(messages) == 1
    assert str(path) in messages[0] and problem in messages[0]
    assert "fix or delete" in messages[0]
    assert "\n" not in messages[0]


def test_empty_or_missing_grains_file_is_no_grains(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    opts = _opts(tmp_path)
    with caplog.at_level(logging.WARNING):
        assert store.load(opts.grains_file) == {}
        _grains_file(opts, "")
        assert store.load(opts.grains_file) == {}
    assert not caplog.records


def test_store_write_is_atomic_0644_and_creates_the_folder(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "grains"
    old_umask = os.umask(0o077)
    try:
        store.write(str(path), {"roles": ("web",), "n": 4, "nested": {"x": None}})
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert yaml.safe_load(path.read_text()) == {"roles": ["web"], "n": 4, "nested": {"x": None}}
    assert os.listdir(path.parent) == ["grains"]  # no temporary file left behind


def test_store_update_refuses_a_corrupt_file_and_leaves_it(tmp_path: Path) -> None:
    path = tmp_path / "grains"
    path.write_text("a: [unclosed\n")
    with pytest.raises(ExecutionError, match=r"fix or delete it"):
        store.update(str(path), lambda data: data.update(a=1))
    assert path.read_text() == "a: [unclosed\n"


def test_store_write_of_an_unstorable_value_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "grains"
    store.write(str(path), {"a": 1})
    with pytest.raises(ExecutionError, match="cannot store"):
        store.write(str(path), {"a": object()})
    assert yaml.safe_load(path.read_text()) == {"a": 1}
    assert os.listdir(tmp_path) == ["grains"]
