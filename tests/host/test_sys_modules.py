"""System execution modules: user, group, status, disk, network, and the backends not in use here.

Real: user and group changes run useradd/groupadd/... as root on uniquely
named ``fftest_<random>`` accounts that a fixture always deletes (skipped
when not root); status, disk and network read the real host through
psutil, checked for sanity against other sources. ``network.connect`` only
ever reaches a socket the test opens on 127.0.0.1: a guard on
``socket.connect`` refuses any other address, so a mistake cannot send
traffic anywhere.

Faked: the dnf backend (no rpm or dnf on this Debian host) and the systemd
backend (systemd is not PID 1 in the container) run against a fake command
runner that checks the command lines and returns canned output.
"""

from __future__ import annotations

import errno
import grp
import ipaddress
import os
import pwd
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from fluxforge.errors import ExecutionError
from fluxforge.host.procs import Command, Outcome
from fluxforge.modules import pkg_dnf, service_systemd
from fluxforge.plugins.context import JobContext
from fluxforge.plugins.results import Result
from fluxforge.testing import job_context

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="changing accounts needs root")


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[JobContext]:
    with job_context(tmp_path) as job:
        yield job


def call(job: JobContext, fun: str, /, *args: object, **kwargs: object) -> Any:
    return job.funcs.call(fun, list(args), kwargs)


# --- user and group (real, as root) ----------------------------------------


@root_only
def test_user_add_info_change_and_delete(ctx: JobContext, names: list[str]) -> None:
    user, extra = names[:2]
    assert call(ctx, "group.add", extra) is True
    assert call(ctx, "user.info", user) == {}
    assert call(ctx, "user.add", user, shell="/bin/sh", groups=extra, fullname="Test User")
    info = call(ctx, "user.info", user)
    entry = pwd.getpwnam(user)
    assert info["uid"] == entry.pw_uid and info["home"] == f"/home/{user}"
    assert info["shell"] == "/bin/sh" and info["fullname"] == "Test User"
    assert info["groups"] == sorted([user, extra])  # primary (its own group) and extra
    assert set(info) == {
        "name", "passwd", "uid", "gid", "home", "shell", "fullname",
        "roomnumber", "workphone", "homephone", "other", "groups",
    }  # fmt: skip
    assert os.path.isdir(f"/home/{user}")
    assert user in call(ctx, "user.list_users")
    assert any(e["name"] == user for e in call(ctx, "user.getent"))
    assert call(ctx, "user.primary_group", user) == user
    assert call(ctx, "user.chshell", user, "/bin/bash") is True
    assert pwd.getpwnam(user).pw_shell == "/bin/bash"
    assert call(ctx, "user.chgroups", user, "") is True
    assert call(ctx, "user.list_groups", user) == [user]
    assert call(ctx, "user.chgroups", user, [extra], append=True) is True
    assert call(ctx, "user.list_groups", user) == sorted([user, extra])
    assert call(ctx, "user.chhome", user, f"/home/{user}") is True
    assert call(ctx, "user.chfullname", user, "Other Name") is True
    assert call(ctx, "user.info", user)["fullname"] == "Other Name"
    with pytest.raises(ExecutionError, match="already exists"):
        call(ctx, "user.add", user)
    assert call(ctx, "user.delete", user, remove=True) is True
    assert call(ctx, "user.info", user) == {}
    assert not os.path.exists(f"/home/{user}")
    with pytest.raises(ExecutionError, match="does not exist"):
        call(ctx, "user.delete", user)


# A SHA-512 crypt hash of "pw" with the salt "abcdefgh" (``openssl passwd -6``, glibc crypt).
PW_HASH = (
    "$6$abcdefgh$KQeXafAQAaOoKTevphVU215RvJdgzyfASRasIOuh12hO8u0r1bGW92ZnTmC9IjsiQ8VPiTXBi"
    "ZF49dFL1U4wX/"
)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_user_gen_password(ctx: JobContext, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    assert call(ctx, "user.gen_password", "pw", crypt_salt="abcdefgh") == PW_HASH
    fresh = call(ctx, "user.gen_password", "pw")
    assert fresh.startswith("$6$") and fresh != PW_HASH  # a random salt
    salt = fresh.split("$")[2]
    assert call(ctx, "user.gen_password", "pw", crypt_salt=salt) == fresh
    assert call(ctx, "user.gen_password", "pw", "abcdefgh", "sha256").startswith("$5$abcdefgh$")
    assert call(ctx, "user.gen_password", "pw", "abcdefgh", "md5").startswith("$1$abcdefgh$")
    with pytest.raises(ExecutionError, match="algorithm must be one of"):
        call(ctx, "user.gen_password", "pw", algorithm="des")
    with pytest.raises(ExecutionError, match="crypt_salt must be"):
        call(ctx, "user.gen_password", "pw", crypt_salt="a$b")
    with pytest.raises(ExecutionError, match="line break") as err:
        call(ctx, "user.gen_password", "secret\nline")
    assert "secret" not in str(err.value)
    logged = [r.getMessage() for r in caplog.records]
    assert any("openssl" in m for m in logged)
    assert not any("'pw'" in m or "secret" in m for m in logged)  # no password in the logs


@root_only
def test_user_shadow_info_and_set_password(
    ctx: JobContext, names: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    user = names[0]
    caplog.set_level("DEBUG")
    assert call(ctx, "user.shadow_info", user) == {}
    call(ctx, "user.add", user, createhome=False)
    shadow = call(ctx, "user.shadow_info", user)
    assert set(shadow) == {"name", "passwd", "lstchg", "min", "max", "warn", "inact", "expire"}
    assert shadow["name"] == user and shadow["passwd"] in ("!", "!!", "*")
    assert shadow["inact"] == -1 and isinstance(shadow["lstchg"], int)
    assert call(ctx, "user.info", user)["passwd"] == "x"  # as Salt: never the hash
    assert call(ctx, "user.set_password", user, PW_HASH) is True
    assert call(ctx, "user.shadow_info", user)["passwd"] == PW_HASH
    other = PW_HASH.replace("$6$abcdefgh$", "$6$zyxwvuts$")
    assert call(ctx, "user.set_password", user, other, use_usermod=True) is True
    assert call(ctx, "user.shadow_info", user)["passwd"] == other
    assert call(ctx, "user.set_password", user, "") is True
    assert call(ctx, "user.shadow_info", user)["passwd"] == ""
    with pytest.raises(ExecutionError, match="cannot hold"):
        call(ctx, "user.set_password", user, "a:b")
    with pytest.raises(ExecutionError, match="does not exist"):
        call(ctx, "user.set_password", names[1], PW_HASH)
    logged = [r.getMessage() for r in caplog.records]
    assert any("chpasswd" in m for m in logged) and any("usermod" in m for m in logged)
    assert not any("abcdefgh" in m or "zyxwvuts" in m for m in logged)  # no hash in the logs


@root_only
def test_useradd_complaint_is_one_line(ctx: JobContext, names: list[str]) -> None:
    with pytest.raises(ExecutionError, match=r"^user.add: useradd exited \d+: .*no-such-group"):
        call(ctx, "user.add", names[0], gid="no-such-group", createhome=False)


@root_only
def test_group_add_members_and_delete(ctx: JobContext, names: list[str]) -> None:
    group, alice, bob = names[:3]
    call(ctx, "user.add", alice, createhome=False)
    call(ctx, "user.add", bob, createhome=False)
    free_gid = next(g for g in range(42000, 43000) if not _gid_used(g))
    assert call(ctx, "group.add", group, gid=str(free_gid)) is True
    assert call(ctx, "group.info", group) == {
        "name": group,
        "passwd": "x",
        "gid": free_gid,
        "members": [],
    }
    assert call(ctx, "group.adduser", group, alice) is True
    assert grp.getgrnam(group).gr_mem == [alice]
    assert call(ctx, "group.members", group, f"{alice},{bob}") is True
    assert call(ctx, "group.info", group)["members"] == sorted([alice, bob])
    assert call(ctx, "group.deluser", group, alice) is True
    assert call(ctx, "group.deluser", group, alice) is True  # not a member: nothing to do
    assert call(ctx, "group.info", group)["members"] == [bob]
    assert call(ctx, "group.members", group, []) is True
    assert call(ctx, "group.info", group)["members"] == []
    assert group in call(ctx, "group.list_groups")
    assert any(e["name"] == group for e in call(ctx, "group.getent"))
    with pytest.raises(ExecutionError, match="does not exist"):
        call(ctx, "group.adduser", group, "fftest_nobody_here")
    assert call(ctx, "group.delete", group) is True
    assert call(ctx, "group.info", group) == {}


def _gid_used(gid: int) -> bool:
    try:
        grp.getgrgid(gid)
    except KeyError:
        return False
    return True


# --- status and disk (real) --------------------------------------------------


def test_status_load_memory_cpu_uptime(ctx: JobContext) -> None:
    load = call(ctx, "status.loadavg")
    assert set(load) == {"1-min", "5-min", "15-min"} and all(v >= 0 for v in load.values())
    mem = call(ctx, "status.meminfo")
    total_kb = int(mem["MemTotal"]["value"])
    assert mem["MemTotal"]["unit"] == "kB"
    assert abs(total_kb * 1024 - psutil.virtual_memory().total) < 64 * 1024 * 1024
    cpu = call(ctx, "status.cpuinfo")
    assert isinstance(cpu, dict) and cpu
    up = call(ctx, "status.uptime")
    assert up["seconds"] > 0 and up["days"] == up["seconds"] // 86400
    assert abs(up["since_t"] - psutil.boot_time()) <= 1


def test_status_procs_and_pid_find_a_real_process(ctx: JobContext) -> None:
    marker = f"fftest-marker-{uuid.uuid4().hex[:8]}"
    # A process to find: it lives until killed below (the sleep is its life, not a wait).
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", marker])
    try:
        assert call(ctx, "status.pid", marker) == [proc.pid]
        assert marker in call(ctx, "status.procs")[str(proc.pid)]["cmd"]
    finally:
        proc.kill()
        proc.wait()
    assert call(ctx, "status.pid", marker) == []
    with pytest.raises(ExecutionError, match="not a regular expression"):
        call(ctx, "status.pid", "(")


def test_status_diskusage_and_disk_usage_agree_with_statvfs(ctx: JobContext) -> None:
    st = os.statvfs("/")
    usage = call(ctx, "status.diskusage", "/")
    assert usage["/"]["total"] == st.f_blocks * st.f_frsize
    assert 0 < usage["/"]["available"] <= usage["/"]["total"]
    disk = call(ctx, "disk.usage")
    root = disk["/"]
    assert set(root) == {"filesystem", "1K-blocks", "used", "available", "capacity", "mounted"}
    assert root["mounted"] == "/" and root["capacity"].endswith("%")
    assert int(root["1K-blocks"]) == st.f_blocks * st.f_frsize // 1024
    assert int(root["used"]) + int(root["available"]) <= int(root["1K-blocks"])
    assert call(ctx, "disk.percent", "/") == root["capacity"]
    assert "/" in call(ctx, "disk.inodeusage", "/")
    with pytest.raises(ExecutionError, match="no mounted filesystem"):
        call(ctx, "disk.usage", "/no/such/mount")


# --- network (real, loopback only) ---------------------------------------


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse any connection to an address that is not loopback, before a packet leaves."""
    real = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> None:
        if not ipaddress.ip_address(address[0]).is_loopback:
            raise OSError(errno.ENETUNREACH, "refused by the test's loopback guard")
        real(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


def test_interfaces_and_ip_addrs(ctx: JobContext) -> None:
    ifaces = call(ctx, "network.interfaces")
    lo = next(
        i for i in ifaces.values() if any(a["address"] == "127.0.0.1" for a in i.get("inet", []))
    )
    assert lo["up"] is True
    v4 = call(ctx, "network.ip_addrs")
    assert "127.0.0.1" not in v4
    assert "127.0.0.1" in call(ctx, "network.ip_addrs", include_loopback=True)
    assert call(ctx, "network.ip_addrs", include_loopback=True, cidr="127.0.0.0/8") == ["127.0.0.1"]
    every = {a["address"] for i in ifaces.values() if i["up"] for a in i.get("inet", [])}
    assert set(v4) == {a for a in every if not a.startswith("127.")}
    for addr in call(ctx, "network.ip_addrs", type="private"):
        assert ipaddress.ip_address(addr).is_private
    with pytest.raises(ExecutionError, match="not a network"):
        call(ctx, "network.ip_addrs", cidr="10.0.0.0/99")


def test_connect_reaches_a_listening_loopback_socket(ctx: JobContext, loopback_only: None) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        ret = call(ctx, "network.connect", "127.0.0.1", str(port), timeout="2")
        assert ret["result"] is True and f"tcp port {port}" in ret["comment"]
    ret = call(ctx, "network.connect", "127.0.0.1", str(port), timeout="2")
    assert ret["result"] is False and "Unable to connect" in ret["comment"]
    # TEST-NET-1 address: refused by the guard, reported rather than raised.
    ret = call(ctx, "network.connect", "192.0.2.1", "80", timeout="1")
    assert ret["result"] is False and "loopback guard" in ret["comment"]
    with pytest.raises(ExecutionError, match="port must be"):
        call(ctx, "network.connect", "127.0.0.1", "0")


def test_ping_uses_the_ping_program(ctx: JobContext) -> None:
    if shutil.which("ping") is None:
        with pytest.raises(ExecutionError, match="ping program is not installed"):
            call(ctx, "network.ping", "127.0.0.1", count="1")
        return
    out = call(ctx, "network.ping", "127.0.0.1", count="1", timeout="5")
    assert isinstance(out, Result) and out.retcode == 0
    assert call(ctx, "network.ping", "127.0.0.1", count="1", return_boolean="true") is True


# --- the dnf backend (faked: no rpm or dnf here) ---------------------------


class FakeRunner:
    """A job's command runner: canned output by command line, every command recorded."""

    def __init__(self, outputs: dict[tuple[str, ...], list[tuple[str, int]]]) -> None:
        self.outputs = outputs
        self.calls: list[list[str]] = []
        self.commands: list[Command] = []

    def __call__(self, command: Command) -> Outcome:
        argv = command.argv
        self.calls.append(argv)
        self.commands.append(command)
        for prefix, answers in self.outputs.items():
            if tuple(argv[: len(prefix)]) == prefix:
                text, code = answers.pop(0) if len(answers) > 1 else answers[0]
                return Outcome(text, "", code, 1)
        raise AssertionError(f"unexpected command {argv}")


RPM_QA = "rpm", "-qa"


def test_dnf_backend_is_not_used_here(ctx: JobContext) -> None:
    ok, reason = pkg_dnf.__virtual__()  # type: ignore[misc]
    assert ok is False and ("dpkg-query" in reason or "rpm" in reason)


def test_dnf_list_pkgs_install_and_remove(tmp_path: Path) -> None:
    arch = os.uname().machine
    before = f"bash\t5.1.8-6.el9\t{arch}\ngpg-pubkey\t1-1\t(none)\nglibc\t2.34-60.el9\ti686\n"
    after = before + "nginx\t1:1.20.1-14.el9\t" + arch + "\n"
    fake = FakeRunner(
        {
            RPM_QA: [(before, 0), (after, 0), (after, 0), (before, 0)],
            ("dnf", "-y", "install"): [("", 0)],
            ("dnf", "-y", "remove"): [("", 0)],
        }
    )
    with job_context(tmp_path, command_runner=fake):
        assert pkg_dnf.list_pkgs() == {"bash": "5.1.8-6.el9", "glibc.i686": "2.34-60.el9"}
        fake.outputs[RPM_QA].insert(0, (before, 0))
        changes = pkg_dnf.install("nginx", version="1:1.20.1-14.el9")
        assert changes == {"nginx": {"old": "", "new": "1:1.20.1-14.el9"}}
        assert ["dnf", "-y", "install", "nginx-1:1.20.1-14.el9"] in fake.calls
        assert pkg_dnf.remove("nginx") == {"nginx": {"old": "1:1.20.1-14.el9", "new": ""}}
        assert ["dnf", "-y", "remove", "nginx"] in fake.calls
        assert pkg_dnf.list_pkgs(removed=True) == {}
    assert all(c.env["LC_ALL"] == "C" and c.fname.startswith("pkg.") for c in fake.commands)


def test_dnf_latest_version_reads_the_cache_only(tmp_path: Path) -> None:
    listing = (
        "Available Packages\n"
        "nginx.x86_64      1:1.20.1-14.el9     appstream\n"
        "nginx.x86_64      1:1.20.1-10.el9     appstream\n"
        "bash.x86_64       5.1.8-9.el9         baseos\n"
    )
    fake = FakeRunner(
        {RPM_QA: [(f"bash\t5.1.8-9.el9\t{os.uname().machine}\n", 0)], ("dnf",): [(listing, 0)]}
    )
    with job_context(tmp_path, command_runner=fake):
        assert pkg_dnf.latest_version("nginx", "bash", refresh=False) == {
            "nginx": "1:1.20.1-14.el9",
            "bash": "",
        }
    assert fake.calls[0][:2] == ["dnf", "-C"]  # no network without refresh


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1.0-1", "1.0-2", -1),
        ("1:0.9-1", "2.0-1", 1),
        ("1.0~rc1-1", "1.0-1", -1),
        ("1.0a", "1.0", 1),
        ("1.10", "1.9", 1),
        ("2.0", "2.0-5", 0),
        ("1.0^git1", "1.0", 1),
    ],
)
def test_rpm_version_cmp(a: str, b: str, expected: int) -> None:
    assert pkg_dnf.version_cmp(a, b) == expected
    assert pkg_dnf.version_cmp(b, a) == -expected


# --- the systemd backend (faked: systemd is not PID 1 here) ------------------


def test_systemd_backend_availability(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(service_systemd, "SYSTEMD_MARK", str(tmp_path / "absent"))
    ok, reason = service_systemd.__virtual__()  # type: ignore[misc]
    assert ok is False and "not the init system" in reason
    monkeypatch.setattr(service_systemd, "SYSTEMD_MARK", str(tmp_path))
    monkeypatch.setattr(service_systemd.shutil, "which", lambda name: "/usr/bin/" + name)
    assert service_systemd.__virtual__() is True


def test_systemd_functions_call_systemctl(tmp_path: Path) -> None:
    sc = ("systemctl", "--no-pager", "--no-ask-password")
    fake = FakeRunner(
        {
            (*sc, "start", "nginx"): [("", 0)],
            (*sc, "start", "broken"): [("", 1)],
            (*sc, "is-active", "nginx"): [("active", 0)],
            (*sc, "is-enabled", "nginx"): [("enabled", 0)],
            (*sc, "is-enabled", "cron"): [("disabled", 1)],
            (*sc, "list-unit-files"): [("cron.service enabled enabled\nx.socket enabled -\n", 0)],
            (*sc, "list-units"): [("nginx.service loaded active running A web server\n", 0)],
            (*sc, "show"): [("not-found", 0)],
            (*sc, "reload", "nginx"): [("", 0)],
        }
    )
    with job_context(tmp_path, command_runner=fake):
        assert service_systemd.start("nginx") is True
        assert service_systemd.start("broken") is False
        assert service_systemd.status("nginx") is True
        assert service_systemd.enabled("nginx") is True
        assert service_systemd.enabled("cron") is False
        assert service_systemd.get_all() == ["cron", "nginx"]
        assert service_systemd.available("nope") is False
        assert service_systemd.reload_("nginx") is True
        assert fake.calls[0] == [*sc, "start", "nginx"]
        assert fake.commands[0].timeout == service_systemd.TIMEOUT
        assert fake.commands[0].env == {"LC_ALL": "C", "SYSTEMD_PAGER": ""}
        with pytest.raises(ExecutionError, match="not a unit name"):
            service_systemd.start("--now")
