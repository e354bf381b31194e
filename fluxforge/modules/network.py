"""The host's network interfaces and addresses, and simple reachability checks.

Interfaces come from psutil, in the shape of Salt's ``network.interfaces``:
``{name: {"hwaddr", "up", "inet": [{"address", "netmask", "broadcast",
"label"}], "inet6": [{"address", "prefixlen", "scope"}]}}``.
"""

from __future__ import annotations

import ipaddress
import shlex
import shutil
import socket
import time
from typing import Any

import psutil

from fluxforge.errors import ExecutionError
from fluxforge.host.procs import execute
from fluxforge.plugins.results import Result

_LINK = getattr(psutil, "AF_LINK", -1)


def _scope(address: ipaddress.IPv6Address) -> str:
    if address.is_loopback:
        return "host"
    if address.is_link_local:
        return "link"
    if address.is_site_local:
        return "site"
    return "global"


def interfaces() -> dict[str, dict[str, Any]]:
    """Return every network interface with its hardware address, state and addresses.

    CLI example: ``ff '*' network.interfaces``
    """
    stats = psutil.net_if_stats()
    out: dict[str, dict[str, Any]] = {}
    for name, addrs in sorted(psutil.net_if_addrs().items()):
        iface: dict[str, Any] = {"hwaddr": "", "up": bool(name in stats and stats[name].isup)}
        inet: list[dict[str, Any]] = []
        inet6: list[dict[str, Any]] = []
        for addr in addrs:
            if addr.family == _LINK:
                iface["hwaddr"] = addr.address
            elif addr.family == socket.AF_INET:
                entry = {"address": addr.address, "netmask": addr.netmask or "", "label": name}
                if addr.broadcast:
                    entry["broadcast"] = addr.broadcast
                inet.append(entry)
            elif addr.family == socket.AF_INET6:
                ip6 = ipaddress.IPv6Address(addr.address.split("%", 1)[0])
                prefix = 128
                if addr.netmask:
                    try:
                        bits = int(ipaddress.IPv6Address(addr.netmask.split("/", 1)[0]))
                        prefix = bin(bits).count("1")
                    except ValueError:
                        pass
                inet6.append({"address": str(ip6), "prefixlen": str(prefix), "scope": _scope(ip6)})
        if inet:
            iface["inet"] = inet
        if inet6:
            iface["inet6"] = inet6
        out[name] = iface
    return out


def _addresses(
    fname: str,
    family: int,
    interface: str | None,
    include_loopback: bool,
    cidr: str | None,
    type: str | None,
) -> list[str]:
    network = None
    if cidr:
        try:
            network = ipaddress.ip_network(cidr, strict=False)
        except ValueError as exc:
            raise ExecutionError(f"{fname}: {cidr!r} is not a network: {exc}")
    if type not in (None, "", "public", "private"):
        raise ExecutionError(f"{fname}: type must be 'public' or 'private', got {type!r}")
    stats = psutil.net_if_stats()
    found: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
    for name, addrs in psutil.net_if_addrs().items():
        if interface and name != interface:
            continue
        if name in stats and not stats[name].isup:
            continue
        for addr in addrs:
            if addr.family != family:
                continue
            ip = ipaddress.ip_address(addr.address.split("%", 1)[0])
            if ip.is_loopback and not include_loopback:
                continue
            if network is not None and ip not in network:
                continue
            if ip.is_private != (type == "private") and type:
                continue
            found.add(ip)
    return [str(ip) for ip in sorted(found)]


def ip_addrs(
    interface: str | None = None,
    include_loopback: bool = False,
    cidr: str | None = None,
    type: str | None = None,
) -> list[str]:
    """Return the sorted IPv4 addresses of the interfaces that are up.

    ``interface``: of that interface only. ``include_loopback``: keep
    127.0.0.0/8. ``cidr``: only those inside this network.
    ``type``: ``public`` or ``private`` addresses only.

    CLI example: ``ff '*' network.ip_addrs cidr=10.0.0.0/8``
    """
    return _addresses("network.ip_addrs", socket.AF_INET, interface, include_loopback, cidr, type)


def ip_addrs6(
    interface: str | None = None,
    include_loopback: bool = False,
    cidr: str | None = None,
    type: str | None = None,
) -> list[str]:
    """Return the sorted IPv6 addresses of the interfaces that are up, as :func:`ip_addrs`.

    CLI example: ``ff '*' network.ip_addrs6``
    """
    return _addresses("network.ip_addrs6", socket.AF_INET6, interface, include_loopback, cidr, type)


def hw_addr(iface: str) -> str:
    """Return the hardware (MAC) address of the interface ``iface``.

    CLI example: ``ff '*' network.hw_addr eth0``
    """
    found = interfaces().get(iface)
    if found is None:
        raise ExecutionError(f"network.hw_addr: no interface {iface!r}")
    return str(found["hwaddr"])


def get_hostname() -> str:
    """Return the host name.

    CLI example: ``ff '*' network.get_hostname``
    """
    return socket.gethostname()


def connect(
    host: str, port: int, proto: str = "tcp", timeout: float = 5.0, family: str | None = None
) -> dict[str, Any]:
    """Try to reach ``host`` on ``port``; return ``{"result": bool, "comment": text}`` as Salt does.

    ``proto``: ``tcp`` (a full connection) or ``udp`` (a datagram is sent;
    success means only that nothing refused it). ``timeout``: seconds.
    ``family``: ``ipv4`` or ``ipv6`` to choose the address family.

    CLI example: ``ff '*' network.connect db1 5432 timeout=2``
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ExecutionError(f"network.connect: port must be 1-65535, got {port!r}")
    if proto not in ("tcp", "udp"):
        raise ExecutionError(f"network.connect: proto must be tcp or udp, got {proto!r}")
    fam = {None: socket.AF_UNSPEC, "ipv4": socket.AF_INET, "ipv6": socket.AF_INET6}.get(family)
    if fam is None:
        raise ExecutionError(f"network.connect: family must be ipv4 or ipv6, got {family!r}")
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    try:
        infos = socket.getaddrinfo(host, port, fam, kind)
    except socket.gaierror as exc:
        return {"result": False, "comment": f"Unable to resolve host {host}: {exc.strerror}"}
    errors = []
    for af, socktype, protocol, _, address in infos:
        sock = socket.socket(af, socktype, protocol)
        sock.settimeout(float(timeout))
        try:
            sock.connect(address)
            if proto == "udp":
                sock.send(b"")
            return {
                "result": True,
                "comment": f"Successfully connected to {host} ({address[0]}) "
                f"on {proto} port {port}",
            }
        except OSError as exc:
            errors.append(f"{address[0]}: {exc.strerror or exc}")
        finally:
            sock.close()
    return {
        "result": False,
        "comment": f"Unable to connect to {host} on {proto} port {port}: {'; '.join(errors)}",
    }


def ping(
    host: str, count: int = 4, timeout: float | None = None, return_boolean: bool = False
) -> Any:
    """Ping ``host`` ``count`` times with the ``ping`` program; return its output.

    The job fails (its retcode is ping's) when no reply came. ``timeout``:
    seconds before ping gives up. ``return_boolean=True``: return only
    whether a reply came.

    CLI example: ``ff '*' network.ping 10.0.0.1 count=2``
    """
    if shutil.which("ping") is None:
        raise ExecutionError("network.ping: the ping program is not installed")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ExecutionError(f"network.ping: count must be a positive number, got {count!r}")
    if not host or host.startswith("-"):
        raise ExecutionError(f"network.ping: {host!r} is not a host")
    argv = ["ping", "-c", str(count)]
    if timeout is not None:
        argv += ["-w", str(max(1, int(timeout)))]
    argv.append(host)
    limit = (float(timeout) if timeout is not None else count * 2.0) + 10.0
    start = time.monotonic()
    out = execute("network.ping", shlex.join(argv), None, None, None, limit, None, "/bin/sh", False)
    if return_boolean:
        return out.retcode == 0
    text = out.stdout if out.stdout else out.stderr
    if out.retcode != 0 and not text:
        text = f"no reply from {host} after {time.monotonic() - start:.1f} s"
    return Result(text, out.retcode)
