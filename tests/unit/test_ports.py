"""Port 0 in the config, and the master's ports report in sock_dir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fluxforge.config import from_mapping
from fluxforge.errors import ConfigError
from fluxforge.master.ports import (
    PORTS_NAME,
    BoundPorts,
    endpoint_port,
    read_ports,
    remove_ports,
    write_ports,
)


def test_master_accepts_port_zero() -> None:
    cfg = from_mapping({"master": {"publish_port": 0, "ret_port": 0}})
    assert (cfg.master.publish_port, cfg.master.ret_port) == (0, 0)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"master": {"publish_port": -1}}, "option 'publish_port' must be from 0 to 65535, got -1"),
        ({"master": {"ret_port": 65536}}, "option 'ret_port' must be from 0 to 65535, got 65536"),
        # A minion connects, so it needs a real port.
        ({"minion": {"ret_port": 0}}, "option 'ret_port' must be from 1 to 65535, got 0"),
        ({"minion": {"publish_port": 70000}}, "must be from 1 to 65535, got 70000"),
    ],
)
def test_ports_out_of_range_are_one_line_errors(raw: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        from_mapping(raw, "/etc/ff.conf")
    assert expected in str(info.value) and "\n" not in str(info.value)
    assert str(info.value).startswith("/etc/ff.conf: ")


def test_endpoint_port() -> None:
    assert endpoint_port("tcp://127.0.0.1:40123") == 40123
    assert endpoint_port("tcp://[::1]:4505") == 4505


def test_report_round_trip_and_removal(tmp_path: Path) -> None:
    ports = BoundPorts(os.getpid(), "127.0.0.1", 40001, 40002)
    assert read_ports(str(tmp_path)) is None
    write_ports(str(tmp_path), ports)
    assert read_ports(str(tmp_path)) == ports
    # Written by rename: no temporary file is left beside it.
    assert os.listdir(tmp_path) == [PORTS_NAME]
    remove_ports(str(tmp_path), os.getpid() + 1)  # another master's: kept
    assert read_ports(str(tmp_path)) == ports
    remove_ports(str(tmp_path), os.getpid())
    assert os.listdir(tmp_path) == []
    remove_ports(str(tmp_path), os.getpid())  # already gone: fine


def test_report_of_a_dead_master_is_ignored(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", ""])
    dead.wait()
    write_ports(str(tmp_path), BoundPorts(dead.pid, "127.0.0.1", 40001, 40002))
    assert read_ports(str(tmp_path)) is None


@pytest.mark.parametrize("text", ["", "{", '{"pid": 1}', "[1, 2]", '{"pid": "x"}'])
def test_malformed_report_reads_as_none(tmp_path: Path, text: str) -> None:
    (tmp_path / PORTS_NAME).write_text(text)
    assert read_ports(str(tmp_path)) is None
