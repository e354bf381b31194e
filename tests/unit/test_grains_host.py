"""Host grains read from fixture trees (virtualisation, init, systemd, DMI, GPUs, dns, memory)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fluxforge.grains import host


def _tree(root: Path, files: dict[str, str | bytes]) -> str:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return str(root)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({".dockerenv": ""}, {"virtual": "container", "virtual_subtype": "Docker"}),
        ({"run/.containerenv": ""}, {"virtual": "container", "virtual_subtype": "Podman"}),
        (
            {"proc/1/environ": "PATH=/bin\x00container=lxc\x00"},
            {"virtual": "container", "virtual_subtype": "LXC"},
        ),
        (
            {"proc/1/cgroup": "0::/\n1:cpu:/docker/0123abcd\n"},
            {"virtual": "container", "virtual_subtype": "Docker"},
        ),
        ({"sys/class/dmi/id/sys_vendor": "QEMU\n"}, {"virtual": "kvm"}),
        ({"sys/class/dmi/id/sys_vendor": "VMware, Inc.\n"}, {"virtual": "VMware"}),
        (
            {"sys/class/dmi/id/sys_vendor": "Amazon EC2\n"},
            {"virtual": "Nitro", "virtual_subtype": "Amazon EC2"},
        ),
        ({"sys/class/dmi/id/product_name": "VirtualBox\n"}, {"virtual": "VirtualBox"}),
        ({"sys/class/dmi/id/sys_vendor": "Dell Inc.\n"}, {"virtual": "physical"}),
        ({}, {"virtual": "physical"}),
    ],
)
def test_virtual(tmp_path: Path, files: dict[str, str | bytes], expected: dict[str, str]) -> None:
    assert host.virtual_grains(_tree(tmp_path, files)) == expected


def test_init_is_systemd_when_booted_with_it(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"run/systemd/system/.keep": "", "proc/1/cmdline": "/bin/sh\x00"})
    assert host.init_system(root) == "systemd"


def test_init_from_pid1_command_line(tmp_path: Path) -> None:
    assert host.init_system(_tree(tmp_path, {"proc/1/cmdline": "/opt/process_api\x00"})) == (
        "unknown"
    )
    assert host.init_system(str(tmp_path / "nothing")) == "unknown"


def test_systemd_version_and_features_from_the_shared_library(tmp_path: Path) -> None:
    features = b"+PAM +AUDIT -GNUTLS +ZSTD default-hierarchy=unified"
    lib = tmp_path / "lib"
    _tree(lib, {"libsystemd-shared-255.so": b"\x7fELF\x00junk\x00" + features + b"\x00more\x00"})
    assert host.systemd_grain((str(tmp_path / "none"), str(lib))) == {
        "systemd": {"version": "255", "features": features.decode()}
    }
    assert host.systemd_grain((str(tmp_path / "none"),)) == {}


def test_dmi_grains_only_what_is_readable(tmp_path: Path) -> None:
    folder = _tree(
        tmp_path,
        {
            "product_name": "PowerEdge R640\n",
            "sys_vendor": "Dell Inc.\n",
            "product_uuid": "4C4C4544-0042\n",
        },
    )
    assert host.dmi_grains(folder) == {
        "productname": "PowerEdge R640",
        "manufacturer": "Dell Inc.",
        "uuid": "4c4c4544-0042",
    }
    assert host.dmi_grains(str(tmp_path / "absent")) == {}


def test_gpus_from_pci_display_devices(tmp_path: Path) -> None:
    folder = _tree(
        tmp_path,
        {
            "0000:00:02.0/class": "0x030000\n",
            "0000:00:02.0/vendor": "0x10de\n",
            "0000:00:02.0/device": "0x1eb8\n",
            "0000:00:03.0/class": "0x020000\n",
            "0000:00:03.0/vendor": "0x8086\n",
            "0000:00:03.0/device": "0x100e\n",
        },
    )
    assert host.gpu_grains(folder) == {
        "gpus": [{"vendor": "nvidia", "model": "0x1eb8"}],
        "num_gpus": 1,
    }
    assert host.gpu_grains(str(tmp_path / "absent")) == {"gpus": [], "num_gpus": 0}


def test_memory_in_mebibytes(tmp_path: Path) -> None:
    path = tmp_path / "meminfo"
    path.write_text("MemTotal:       24684292 kB\nMemFree: 1 kB\nSwapTotal:       2097148 kB\n")
    assert host.memory_grains(str(path)) == {"mem_total": 24105, "swap_total": 2047}
    assert host.memory_grains(str(tmp_path / "absent")) == {"mem_total": 0, "swap_total": 0}


def test_machine_id_prefers_etc_then_dbus(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"var/lib/dbus/machine-id": "dbusid\n"})
    assert host.machine_id(root) == {"machine_id": "dbusid"}
    _tree(tmp_path, {"etc/machine-id": "etcid\n"})
    assert host.machine_id(root) == {"machine_id": "etcid"}
    assert host.machine_id(str(tmp_path / "absent")) == {}


def test_resolv_conf_as_salt_parses_it() -> None:
    text = (
        "# generated\nnameserver 10.0.0.2\nnameserver 10.0.0.2\nnameserver fd00::53 # v6\n"
        "nameserver not-an-ip\nsearch example.com corp.example.com\n"
        "sortlist 130.155.160.0/255.255.240.0 10.0.0.0\noptions ndots:2 timeout:1\n"
        "options rotate\n"
    )
    assert host.parse_resolv_conf(text) == {
        "nameservers": ["10.0.0.2", "fd00::53"],
        "ip4_nameservers": ["10.0.0.2"],
        "ip6_nameservers": ["fd00::53"],
        "sortlist": ["130.155.160.0/255.255.240.0", "10.0.0.0/255.0.0.0"],
        "domain": "",
        "search": ["example.com", "corp.example.com"],
        "options": ["ndots:2", "rotate"],
    }


def test_dns_prefers_systemd_resolved_upstream_file(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"etc/resolv.conf": "nameserver 127.0.0.53\n"})
    assert host.dns_grains(root)["dns"]["nameservers"] == ["127.0.0.53"]
    _tree(tmp_path, {"run/systemd/resolve/resolv.conf": "nameserver 192.0.2.53\n"})
    assert host.dns_grains(root)["dns"]["nameservers"] == ["192.0.2.53"]
    assert host.dns_grains(str(tmp_path / "absent")) == {}


def test_process_grains_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/a/bin:/b/bin")
    monkeypatch.delenv("SHELL", raising=False)
    grains = host.process_grains()
    assert grains["path"] == "/a/bin:/b/bin"
    assert grains["systempath"] == ["/a/bin", "/b/bin"]
    assert grains["shell"] == "/bin/sh"
    assert grains["uid"] == os.geteuid()


def test_names_come_from_the_hosts_file() -> None:
    hosts = (
        "127.0.0.1 localhost\n127.0.1.1 web1.example.com web1  # debian style\n"
        "::1 localhost ip6-localhost\n2001:db8::5 web1.example.com\n10.0.0.5 WEB1.example.com\n"
    )
    assert host.name_grains("web1", hosts) == {
        "localhost": "web1",
        "nodename": "web1",
        "fqdn": "web1.example.com",
        "host": "web1",
        "domain": "example.com",
        "fqdn_ip4": ["10.0.0.5", "127.0.1.1"],
        "fqdn_ip6": ["2001:db8::5"],
    }
    alone = host.name_grains("db2.example.org", "127.0.0.1 localhost\n")
    assert (alone["fqdn"], alone["host"], alone["domain"]) == (
        "db2.example.org",
        "db2",
        "example.org",
    )
    assert (alone["fqdn_ip4"], alone["fqdn_ip6"]) == ([], [])


def test_init_binary_named_inside_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binary = tmp_path / "sbin" / "init"
    _tree(tmp_path, {"sbin/init": b"\x7fELF" + b"x" * 300_000 + b"\x00SysVinit 2.96\x00"})
    binary.chmod(0o755)
    monkeypatch.setenv("PATH", str(binary.parent))
    root = _tree(tmp_path / "root", {"proc/1/cmdline": "init\x00splash\x00"})
    assert host.init_system(root) == "sysvinit"
    binary.write_bytes(b"\x7fELF\x00upstart\x00")
    assert host.init_system(root) == "upstart"
