"""The distribution grains of fixture systems, with the values Salt 3008.5 gives for them.

The os-release and release-file texts are those the distributions ship
(Rocky 9.3, Amazon Linux 2023 and Ubuntu 24.04 as in python-distro's test
resources, CentOS 7.9 and Fedora 40 as their images carry them). The
expected values are what Salt 3008.5's ``salt.grains.core`` computes on the
same files (its os-release and legacy paths, without the ``lsb_release``
Python module, as in Salt's packages); Salt's own tests name the same
``osfinger`` values ("Rocky Linux-9", "Fedora Linux-40", "Amazon
Linux-2023", "CentOS Linux-7").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fluxforge.grains import distro
from fluxforge.grains.core import distribution_grains

ROCKY_9 = """\
NAME="Rocky Linux"
VERSION="9.3 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.3"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"
ANSI_COLOR="0;32"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:rocky:rocky:9::baseos"
HOME_URL="https://rockylinux.org/"
BUG_REPORT_URL="https://bugs.rockylinux.org/"
SUPPORT_END="2032-05-31"
ROCKY_SUPPORT_PRODUCT="Rocky-Linux-9"
ROCKY_SUPPORT_PRODUCT_VERSION="9.3"
REDHAT_SUPPORT_PRODUCT="Rocky Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="9.3"
"""

CENTOS_7 = """\
NAME="CentOS Linux"
VERSION="7 (Core)"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="7"
PRETTY_NAME="CentOS Linux 7 (Core)"
ANSI_COLOR="0;31"
CPE_NAME="cpe:/o:centos:centos:7"
HOME_URL="https://www.centos.org/"
BUG_REPORT_URL="https://bugs.centos.org/"

CENTOS_MANTISBT_PROJECT="CentOS-7"
CENTOS_MANTISBT_PROJECT_VERSION="7"
REDHAT_SUPPORT_PRODUCT="centos"
REDHAT_SUPPORT_PRODUCT_VERSION="7"
"""

FEDORA_40 = """\
NAME="Fedora Linux"
VERSION="40 (Workstation Edition)"
ID=fedora
VERSION_ID=40
VERSION_CODENAME=""
PLATFORM_ID="platform:f40"
PRETTY_NAME="Fedora Linux 40 (Workstation Edition)"
ANSI_COLOR="0;38;2;60;110;180"
LOGO=fedora-logo-icon
CPE_NAME="cpe:/o:fedoraproject:fedora:40"
DEFAULT_HOSTNAME="fedora"
HOME_URL="https://fedoraproject.org/"
SUPPORT_URL="https://ask.fedoraproject.org/"
BUG_REPORT_URL="https://bugzilla.redhat.com/"
REDHAT_BUGZILLA_PRODUCT="Fedora"
REDHAT_BUGZILLA_PRODUCT_VERSION=40
REDHAT_SUPPORT_PRODUCT="Fedora"
REDHAT_SUPPORT_PRODUCT_VERSION=40
SUPPORT_END=2025-05-13
VARIANT="Workstation Edition"
VARIANT_ID=workstation
"""

AMAZON_2023 = """\
NAME="Amazon Linux"
VERSION="2023"
ID="amzn"
ID_LIKE="fedora"
VERSION_ID="2023"
PLATFORM_ID="platform:al2023"
PRETTY_NAME="Amazon Linux 2023"
ANSI_COLOR="0;33"
CPE_NAME="cpe:2.3:o:amazon:amazon_linux:2023"
HOME_URL="https://aws.amazon.com/linux/"
BUG_REPORT_URL="https://github.com/amazonlinux/amazon-linux-2023"
SUPPORT_END="2028-03-01"
"""

DEBIAN_12 = """\
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"""

UBUNTU_24 = """\
PRETTY_NAME="Ubuntu 24.04.3 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.3 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
UBUNTU_CODENAME=noble
LOGO=ubuntu-logo
"""

UBUNTU_24_LSB = """\
DISTRIB_ID=Ubuntu
DISTRIB_RELEASE=24.04
DISTRIB_CODENAME=noble
DISTRIB_DESCRIPTION="Ubuntu 24.04.3 LTS"
"""

# name: (files under /etc, Salt 3008.5's grains for them)
SYSTEMS: dict[str, tuple[dict[str, str], dict[str, Any]]] = {
    "rocky-9": (
        {"os-release": ROCKY_9, "rocky-release": "Rocky Linux release 9.3 (Blue Onyx)\n"},
        {
            "os": "Rocky",
            "os_family": "RedHat",
            "osfullname": "Rocky Linux",
            "osrelease": "9.3",
            "osrelease_info": [9, 3],
            "osmajorrelease": 9,
            "osfinger": "Rocky Linux-9",
            "oscodename": "Blue Onyx",
            "lsb_distrib_id": "Rocky Linux",
            "lsb_distrib_release": "9.3",
            "lsb_distrib_codename": "Blue Onyx",
        },
    ),
    "centos-7": (
        {"os-release": CENTOS_7, "centos-release": "CentOS Linux release 7.9.2009 (Core)\n"},
        {
            "os": "CentOS",
            "os_family": "RedHat",
            "osfullname": "CentOS Linux",
            "osrelease": "7.9.2009",
            "osrelease_info": [7, 9, 2009],
            "osmajorrelease": 7,
            "osfinger": "CentOS Linux-7",
            "oscodename": "CentOS Linux 7 (Core)",
            "lsb_distrib_id": "CentOS Linux",
            "lsb_distrib_codename": "CentOS Linux 7 (Core)",
        },
    ),
    "fedora-40": (
        {"os-release": FEDORA_40, "fedora-release": "Fedora release 40 (Forty)\n"},
        {
            "os": "Fedora",
            "os_family": "RedHat",
            "osfullname": "Fedora Linux",
            "osrelease": "40",
            "osrelease_info": [40],
            "osmajorrelease": 40,
            "osfinger": "Fedora Linux-40",
            "oscodename": "",
            "lsb_distrib_id": "Fedora Linux",
            "lsb_distrib_release": "40",
            "lsb_distrib_codename": "",
        },
    ),
    "amazon-2023": (
        {"os-release": AMAZON_2023},
        {
            "os": "Amazon",
            "os_family": "RedHat",
            "osfullname": "Amazon Linux",
            "osrelease": "2023",
            "osrelease_info": [2023],
            "osmajorrelease": 2023,
            "osfinger": "Amazon Linux-2023",
            "oscodename": "Amazon Linux 2023",
            "lsb_distrib_id": "Amazon Linux",
            "lsb_distrib_release": "2023",
            "lsb_distrib_codename": "Amazon Linux 2023",
        },
    ),
    "debian-12": (
        {"os-release": DEBIAN_12},
        {
            "os": "Debian",
            "os_family": "Debian",
            "osfullname": "Debian GNU/Linux",
            "osrelease": "12",
            "osrelease_info": [12],
            "osmajorrelease": 12,
            "osfinger": "Debian-12",
            "oscodename": "bookworm",
            "lsb_distrib_id": "Debian GNU/Linux",
            "lsb_distrib_release": "12",
            "lsb_distrib_codename": "bookworm",
        },
    ),
    "ubuntu-24.04": (
        {"os-release": UBUNTU_24, "lsb-release": UBUNTU_24_LSB},
        {
            "os": "Ubuntu",
            "os_family": "Debian",
            "osfullname": "Ubuntu",
            "osrelease": "24.04",
            "osrelease_info": [24, 4],
            "osmajorrelease": 24,
            "osfinger": "Ubuntu-24.04",
            "oscodename": "noble",
            "lsb_distrib_id": "Ubuntu",
            "lsb_distrib_release": "24.04",
            "lsb_distrib_codename": "noble",
            "lsb_distrib_description": "Ubuntu 24.04.3 LTS",
        },
    ),
}


def _system(root: Path, files: dict[str, str]) -> str:
    (root / "etc").mkdir(parents=True)
    for name, text in files.items():
        (root / "etc" / name).write_text(text)
    return str(root)


@pytest.mark.parametrize("name", sorted(SYSTEMS))
def test_distribution_grains_are_salts(tmp_path: Path, name: str) -> None:
    files, expected = SYSTEMS[name]
    grains = distribution_grains(_system(tmp_path, files))
    grains.pop("osarch")
    assert grains == expected


def test_os_release_falls_back_to_usr_lib(tmp_path: Path) -> None:
    (tmp_path / "usr/lib").mkdir(parents=True)
    (tmp_path / "usr/lib/os-release").write_text(ROCKY_9)
    (tmp_path / "etc").mkdir()
    assert distribution_grains(str(tmp_path))["osfinger"] == "Rocky Linux-9"


@pytest.mark.parametrize(
    ("family", "machine", "osarch"),
    [
        ("Debian", "x86_64", "amd64"),
        ("Debian", "aarch64", "arm64"),
        ("Debian", "armv7l", "armhf"),
        ("Debian", "ppc64le", "ppc64el"),
        ("RedHat", "x86_64", "x86_64"),
        ("RedHat", "aarch64", "aarch64"),
    ],
)
def test_osarch_is_the_package_managers_name(family: str, machine: str, osarch: str) -> None:
    assert distro.osarch(family, machine) == osarch


@pytest.mark.parametrize(
    ("name", "os"),
    [
        ("Red Hat Enterprise Linux", "RedHat"),
        ("Oracle Linux Server", "OEL"),
        ("AlmaLinux", "AlmaLinux"),
        ("Linux Mint", "Mint"),
        ("CentOS Stream", "CentOS Stream"),
        ("Debian GNU/Linux", "Debian"),
    ],
)
def test_os_name_from_os_release_name(name: str, os: str) -> None:
    assert distro.os_name(name) == os


def test_almalinux_finger_uses_os_and_codename_comes_from_brackets() -> None:
    release = distro.parse_os_release(
        'NAME="AlmaLinux"\nVERSION="9.4 (Seafoam Ocelot)"\nID="almalinux"\n'
        'ID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n'
        'PRETTY_NAME="AlmaLinux 9.4 (Seafoam Ocelot)"\n'
    )
    grains = distro.distro_grains(release)
    assert (grains["os"], grains["os_family"]) == ("AlmaLinux", "RedHat")
    assert grains["osfinger"] == "AlmaLinux-9"
    assert grains["oscodename"] == grains["lsb_distrib_codename"] == "Seafoam Ocelot"


def test_parse_os_release_undoes_shell_escapes() -> None:
    assert distro.parse_os_release('NAME="A \\"quoted\\" \\$name"\nID=x\n# c\nbad\n') == {
        "NAME": 'A "quoted" $name',
        "ID": "x",
    }


def test_parse_release_file() -> None:
    assert distro.parse_release_file("CentOS Linux release 7.9.2009 (Core)\n") == (
        "7.9.2009",
        "Core",
    )
    assert distro.parse_release_file("Fedora release 40 (Forty)") == ("40", "Forty")
    assert distro.parse_release_file("") == ("", "")
