"""Core grains and the merge of static grains from the configuration."""

from __future__ import annotations

import platform
import socket
import sys
import time
from pathlib import Path

import fluxforge
from fluxforge.config import MinionConfig, build
from fluxforge.grains.core import all_grains, core_grains, merge, os_grains, read_os_release


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
