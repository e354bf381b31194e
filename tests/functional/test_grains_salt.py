"""Our core grains against Salt 3008.5's on this machine, grain by grain.

Salt runs masterless from the bench virtualenv, with its configuration in a
temporary folder, ``enable_fqdns_grains: False``, and the loopback guard of
``scripts/salt_compare.py`` so that it sends no DNS query. CI has no Salt
virtualenv, so there the test is skipped; tests/unit/test_grains*.py check
the same grains against the files this machine holds.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fluxforge.config import MinionConfig, build
from fluxforge.grains.core import core_grains

_REPO = Path(__file__).resolve().parents[2]
_SALT_VENV = Path("/work/main/.bench/salt-venv")
_SALT_CALL = _SALT_VENV / "bin" / "salt-call"

# The grains formulas key their map.jinja on, and the rest of Salt's core set
# that both sides compute from this host.
COMPARED = [
    "os",
    "os_family",
    "osfinger",
    "osmajorrelease",
    "osrelease",
    "osrelease_info",
    "oscodename",
    "osfullname",
    "osarch",
    "lsb_distrib_id",
    "lsb_distrib_codename",
    "lsb_distrib_release",
    "kernel",
    "kernelrelease",
    "kernelversion",
    "cpuarch",
    "num_cpus",
    "cpu_model",
    "init",
    "virtual",
    "virtual_subtype",
    "systemd",
    "machine_id",
    "uid",
    "gid",
    "username",
    "groupname",
    "shell",
    "path",
    "systempath",
    "pythonversion",
    "locale_info",
    "hwaddr_interfaces",
    "ip_interfaces",
    "ip4_interfaces",
    "ip6_interfaces",
    "ipv4",
    "ipv6",
    "dns",
    "mem_total",
    "swap_total",
    "gpus",
    "num_gpus",
    "productname",
    "manufacturer",
    "serialnumber",
    "uuid",
    "biosversion",
    "biosvendor",
    "boardname",
    "biosreleasedate",
    "id",
    "host",
    "fqdn",
    "domain",
    "localhost",
    "nodename",
    "fqdn_ip4",
    "fqdn_ip6",
]

needs_salt = pytest.mark.skipif(
    not _SALT_CALL.exists(),
    reason=f"Salt is not installed in {_SALT_VENV} (scripts/salt_compare.py installs it)",
)


def _guard_source() -> str:
    spec = importlib.util.spec_from_file_location("salt_compare", _REPO / "scripts/salt_compare.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    source: str = module._GUARD_SOURCE
    return source


def _salt_grains(tmp_path: Path) -> dict[str, Any]:
    conf, root, guard = tmp_path / "conf", tmp_path / "root", tmp_path / "guard"
    for folder in (conf, root, guard):
        folder.mkdir()
    (guard / "sitecustomize.py").write_text(_guard_source())
    (conf / "minion").write_text(
        f"id: t1\nroot_dir: {root}\nfile_client: local\nenable_fqdns_grains: False\n"
        f"log_file: {root}/minion.log\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON") and k != "VIRTUAL_ENV"}
    env["PYTHONPATH"] = str(guard)
    done = subprocess.run(
        [str(_SALT_CALL), "--local", "-c", str(conf), "grains.items", "--out", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    )
    grains: dict[str, Any] = json.loads(done.stdout)["local"]
    return grains


@needs_salt
def test_core_grains_equal_salts(tmp_path: Path) -> None:
    opts: MinionConfig = build(MinionConfig, {"id": "t1", "root_dir": str(tmp_path / "ff")})
    ours = json.loads(json.dumps(core_grains(opts)))  # tuples become lists, as in Salt's JSON
    salt = _salt_grains(tmp_path)
    both = [key for key in COMPARED if key in salt and key in ours]
    assert {"os", "os_family", "osfinger", "osarch", "mem_total", "ip_interfaces"} <= set(both)
    assert [key for key in COMPARED if key in salt and key not in ours] == []
    different = {key: (salt[key], ours[key]) for key in both if salt[key] != ours[key]}
    assert different == {}
    # Each side reports its own interpreter.
    assert ours["pythonexecutable"] == sys.executable
    assert salt["pythonexecutable"] == str(_SALT_VENV / "bin" / "python")


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="not a dpkg system")
def test_osarch_is_what_dpkg_prints(tmp_path: Path) -> None:
    opts: MinionConfig = build(MinionConfig, {"id": "t1", "root_dir": str(tmp_path)})
    arch = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    )
    assert core_grains(opts)["osarch"] == arch.stdout.strip()
