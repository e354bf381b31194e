"""Masters on port 0: the kernel picks the ports and the master reports them."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import psutil

from fluxforge.master.ports import PORTS_NAME, read_ports
from fluxforge.testing import Cluster


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process ``pid`` listens on."""
    conns = psutil.Process(pid).net_connections("tcp")
    return {c.laddr.port for c in conns if c.status == psutil.CONN_LISTEN}


def test_master_on_port_zero_reports_the_ports_it_listens_on(cluster: Cluster) -> None:
    assert cluster.master_opts["publish_port"] == 0 and cluster.master_opts["ret_port"] == 0
    log = cluster.watch("master")
    proc = cluster.start_master()
    report = Path(cluster.sock_dir) / PORTS_NAME
    raw = json.loads(report.read_text())
    assert raw == {
        "pid": proc.pid,
        "interface": "127.0.0.1",
        "publish_port": cluster.publish_port,
        "ret_port": cluster.ret_port,
    }
    assert read_ports(cluster.sock_dir) == cluster.ports
    ports = {cluster.publish_port, cluster.ret_port}
    assert 0 not in ports and len(ports) == 2
    assert listening_ports(proc.pid) == ports
    for port in ports:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    # The ready line names them too (it comes once serving starts, after the report).
    ready = log.wait_for(r"\[INFO *\] \S+: master ready: publish tcp://([\d.]+):(\d+),", 10)
    assert ready.groups() == ("127.0.0.1", str(cluster.publish_port))
    assert f"requests tcp://127.0.0.1:{cluster.ret_port}, key " in ready.string

    # A minion configured from the report gets through.
    cluster.start_minion("web1")
    cluster.accept_and_wait("web1")

    # The report goes when the master exits cleanly.
    assert cluster.stop_master() == 0
    assert not report.exists()


def test_two_masters_on_port_zero_get_distinct_ports(cluster: Cluster) -> None:
    with Cluster() as other:
        cluster.start_master()
        other.start_master()
        assert cluster.master is not None and other.master is not None
        first = {cluster.publish_port, cluster.ret_port}
        second = {other.publish_port, other.ret_port}
        assert len(first | second) == 4, (first, second)
        assert listening_ports(cluster.master.pid) == first
        assert listening_ports(other.master.pid) == second
        # Each serves its own minion.
        cluster.start_minion("a1")
        other.start_minion("b1")
        cluster.accept_and_wait("a1")
        other.accept_and_wait("b1")
        assert cluster.ff("*", "test.ping", "--out", "json").json() == {"a1": True}
        assert other.ff("*", "test.ping", "--out", "json").json() == {"b1": True}


def test_a_restarted_master_keeps_its_ports(cluster: Cluster) -> None:
    cluster.start_master()
    ports = cluster.ports
    assert cluster.master_opts["publish_port"] == cluster.publish_port
    assert cluster.stop_master() == 0
    cluster.start_master()
    assert cluster.ports is not None and ports is not None
    assert (cluster.ports.publish_port, cluster.ports.ret_port) == (
        ports.publish_port,
        ports.ret_port,
    )
    assert cluster.ports.pid != ports.pid
