"""Benchmark a real Salt 3008.5 master/minion setup on 127.0.0.1 for comparison with FluxForge.

Imported by ``scripts/bench.py`` as ``salt_compare``; also runnable on its own::

    python scripts/salt_compare.py --n 10 --runs 3

which installs Salt into ``.bench/salt-venv`` if needed and prints the result dict as JSON.

Install notes (Salt 3008.5 from PyPI on CPython 3.11):

* ``pip install salt==3008.5`` fails: the release requires ``certifi>=2026.10.23`` and no such
  certifi exists on PyPI.  So Salt is installed with ``--no-deps`` from its sdist, then the sdist's
  ``requirements/base.txt`` and ``requirements/zeromq.txt`` are installed with only the certifi
  pin relaxed (version bound dropped, environment marker kept).  ``-r``/``-c`` includes are
  followed and relaxed the same way.  Afterwards ``pip check`` reports the certifi mismatch for
  salt; that is expected and harmless (Salt does not check it at run time).
* No other constraint was needed on CPython 3.11.7: every other pin in base.txt/zeromq.txt resolves
  from PyPI as is (timelib builds from its sdist with the machine's gcc).

Every Salt process is kept on loopback: ``interface``/``master`` are 127.0.0.1, the
``fqdns`` grain (reverse DNS of every address) is off, and tracing/metrics exporters stay at
their default (disabled).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

SALT_VERSION = "3008.5"
PYENV_PYTHON = "/root/.pyenv/versions/3.11.7/bin/python3.11"

# The single pin in Salt 3008.5's requirements that PyPI cannot satisfy.
_CERTIFI_LINE = re.compile(r"^(\s*certifi)\s*(?:[<>=!~]=?|===)[^;#]*(.*)$", re.IGNORECASE)
_INCLUDE_LINE = re.compile(r"^\s*(-r|--requirement|-c|--constraint)[\s=]+(\S+)")

Log = Callable[[str], Any]

# Installed as sitecustomize.py (via PYTHONPATH) into every Salt process this module starts.
# Salt's ``ip_fqdn`` grain asks getaddrinfo(<hostname>, AF_INET6); /etc/hosts here has only an
# IPv4 line for the hostname, so glibc sends an AAAA query to the DNS server in resolv.conf
# (seen with strace from the master and every minion, at start-up and per job).  This guard
# answers every lookup that /etc/hosts (or a numeric address) cannot satisfy with EAI_NONAME
# instead, so no Salt process sends anything off 127.0.0.1.  Salt then records an empty
# ``fqdn_ip6`` grain, as it would after a failed DNS lookup.
_GUARD_SOURCE = """
import socket as _s

def _hosts():
    names4, names6, addrs = set(), set(), set()
    try:
        with open("/etc/hosts") as fh:
            for line in fh:
                parts = line.split("#", 1)[0].split()
                if len(parts) >= 2:
                    addrs.add(parts[0])
                    (names6 if ":" in parts[0] else names4).update(p.lower() for p in parts[1:])
    except OSError:
        pass
    return names4, names6, addrs

_N4, _N6, _ADDRS = _hosts()

def _text(host):
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    return host.strip().rstrip(".").lower()

def _numeric(host):
    for fam in (_s.AF_INET, _s.AF_INET6):
        try:
            _s.inet_pton(fam, host.split("%")[0])
            return True
        except (OSError, ValueError):
            pass
    return False

def _ok(host, family=_s.AF_UNSPEC):
    if host is None:
        return True
    host = _text(host)
    if host == "" or _numeric(host):
        return True
    if family == _s.AF_INET6:
        return host in _N6
    return host in _N4 or host in _N6

def _deny(host):
    raise _s.gaierror(_s.EAI_NONAME, "lookup of %r blocked (salt_compare loopback guard)" % (host,))

_gai, _ghbn, _ghbn_ex, _ghba, _gni = (
    _s.getaddrinfo, _s.gethostbyname, _s.gethostbyname_ex, _s.gethostbyaddr, _s.getnameinfo)

def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    if not _ok(host, family):
        _deny(host)
    return _gai(host, port, family, type, proto, flags)

def gethostbyname(host):
    if not _ok(host, _s.AF_INET):
        _deny(host)
    return _ghbn(host)

def gethostbyname_ex(host):
    if not _ok(host, _s.AF_INET):
        _deny(host)
    return _ghbn_ex(host)

def gethostbyaddr(host):
    h = _text(host)
    if not (h in _ADDRS or (not _numeric(h) and _ok(h))):
        raise _s.herror(1, "reverse lookup of %r blocked (salt_compare loopback guard)" % (host,))
    return _ghba(host)

def getnameinfo(sockaddr, flags):
    if not (flags & _s.NI_NUMERICHOST) and _text(sockaddr[0]) not in _ADDRS:
        flags |= _s.NI_NUMERICHOST
    return _gni(sockaddr, flags)

_s.getaddrinfo, _s.gethostbyname, _s.gethostbyname_ex = getaddrinfo, gethostbyname, gethostbyname_ex
_s.gethostbyaddr, _s.getnameinfo = gethostbyaddr, getnameinfo
"""


# --------------------------------------------------------------------------------------------
# Installation
# --------------------------------------------------------------------------------------------


def _salt_version_ok(bin_dir: Path) -> bool:
    exe = bin_dir / "salt-master"
    if not exe.exists():
        return False
    try:
        out = subprocess.run(
            [str(exe), "--version"],
            capture_output=True,
            text=True,
            timeout=60,
            env=_clean_env(),
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and SALT_VERSION in out.stdout.split()


def _pick_python() -> str:
    """Return a real CPython 3.11 interpreter (never the pyenv shim)."""
    for cand in (PYENV_PYTHON, sys.executable):
        if not cand or not os.path.exists(cand) or "/shims/" in cand:
            continue
        try:
            out = subprocess.run(
                [cand, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=60,
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if out.returncode == 0 and out.stdout.strip() == "3.11":
            return cand
    raise RuntimeError(
        f"no CPython 3.11 interpreter found (tried {PYENV_PYTHON}, {sys.executable})"
    )


def _run_logged(cmd: list[str], log: Log, log_file: Path, timeout: float = 1800) -> int:
    """Run an install command, appending its output to log_file; return its exit code."""
    log("$ " + " ".join(cmd))
    with log_file.open("a") as fh:
        fh.write("\n$ " + " ".join(cmd) + "\n")
        fh.flush()
        return subprocess.run(
            cmd, stdout=fh, stderr=subprocess.STDOUT, timeout=timeout, env=_clean_env()
        ).returncode


def _requirement_files(roots: Iterable[Path]) -> list[Path]:
    """The given requirement files plus everything they pull in with -r/-c, recursively."""
    seen: list[Path] = []
    todo = [p.resolve() for p in roots]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.append(path)
        for line in path.read_text().splitlines():
            m = _INCLUDE_LINE.match(line)
            if m:
                todo.append((path.parent / m.group(2)).resolve())
    return seen


def _relax_certifi(path: Path) -> int:
    """Drop the version bound from certifi requirement lines in path; return lines changed."""
    lines = path.read_text().splitlines(keepends=True)
    changed = 0
    for i, line in enumerate(lines):
        m = _CERTIFI_LINE.match(line.rstrip("\n"))
        if m:
            rest = m.group(2).strip()
            lines[i] = m.group(1) + (f" {rest}" if rest else "") + "\n"
            changed += 1
    if changed:
        path.write_text("".join(lines))
    return changed


def _extract(archive: Path, dest: Path) -> Path:
    with tarfile.open(archive) as tf:
        if hasattr(tarfile, "data_filter"):
            tf.extractall(dest, filter="data")
        else:  # pragma: no cover - Python without PEP 706 filters
            tf.extractall(dest)
    return dest / f"salt-{SALT_VERSION}"


def ensure_salt(venv_dir: str = ".bench/salt-venv", log: Log = print) -> str:
    """Install Salt 3008.5 into venv_dir if not already there; return the venv's bin dir.

    Skips everything when ``salt-master --version`` in the venv already reports 3008.5.
    Otherwise (re)creates the venv with a real CPython 3.11, tries ``pip install salt==3008.5``
    and, when that fails on the unsatisfiable certifi pin, installs Salt with ``--no-deps`` from
    its sdist plus the sdist's base/zeromq requirements with that pin relaxed.  Progress goes
    to ``log``; pip's output goes to ``salt-install.log`` beside the venv.
    """
    venv = Path(venv_dir).absolute()
    bin_dir = venv / "bin"
    if _salt_version_ok(bin_dir):
        return str(bin_dir)

    work = venv.parent
    work.mkdir(parents=True, exist_ok=True)
    install_log = work / "salt-install.log"
    t0 = time.monotonic()
    python = _pick_python()
    log(f"installing Salt {SALT_VERSION} into {venv} with {python} (log: {install_log})")
    if _run_logged([python, "-m", "venv", "--clear", str(venv)], log, install_log) != 0:
        raise RuntimeError(f"creating venv {venv} failed, see {install_log}")
    pip = [str(bin_dir / "python"), "-m", "pip", "--disable-pip-version-check"]

    if _run_logged([*pip, "install", f"salt=={SALT_VERSION}"], log, install_log) != 0:
        log("plain install failed (certifi>=2026.10.23 is not on PyPI); using the sdist route")
        sdist_dir = work / "salt-sdist"
        sdist_dir.mkdir(exist_ok=True)
        archive = sdist_dir / f"salt-{SALT_VERSION}.tar.gz"
        if not archive.exists():
            cmd = [*pip, "download", f"salt=={SALT_VERSION}", "--no-deps"]
            cmd += ["--no-binary", ":all:", "-d", str(sdist_dir)]
            if _run_logged(cmd, log, install_log) != 0 or not archive.exists():
                raise RuntimeError(f"downloading the Salt sdist failed, see {install_log}")
        src = sdist_dir / f"salt-{SALT_VERSION}"
        if src.exists():
            shutil.rmtree(src)  # start from pristine requirement files
        src = _extract(archive, sdist_dir)
        reqs = [src / "requirements" / "base.txt", src / "requirements" / "zeromq.txt"]
        relaxed = sum(_relax_certifi(p) for p in _requirement_files(reqs))
        log(f"relaxed {relaxed} certifi requirement line(s)")
        if _run_logged([*pip, "install", "--no-deps", str(archive)], log, install_log) != 0:
            raise RuntimeError(f"pip install --no-deps salt failed, see {install_log}")
        cmd = [*pip, "install"]
        for req in reqs:
            cmd += ["-r", str(req)]
        if _run_logged(cmd, log, install_log) != 0:
            raise RuntimeError(f"installing Salt's requirements failed, see {install_log}")

    if not _salt_version_ok(bin_dir):
        raise RuntimeError(
            f"salt-master --version does not print {SALT_VERSION}; see {install_log}"
        )
    log(f"Salt {SALT_VERSION} installed in {time.monotonic() - t0:.1f}s")
    return str(bin_dir)


# --------------------------------------------------------------------------------------------
# Process bookkeeping (all via /proc, no psutil needed in the caller's interpreter)
# --------------------------------------------------------------------------------------------


def _clean_env(guard_dir: Path | None = None) -> dict[str, str]:
    """Environment for Salt processes: no leaking of the caller's venv / PYTHONPATH.

    With guard_dir, that dir (holding the loopback-guard sitecustomize.py) is the PYTHONPATH.
    """
    env = dict(os.environ)
    for key in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"):
        env.pop(key, None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if guard_dir is not None:
        env["PYTHONPATH"] = str(guard_dir)
    return env


def _proc_stat(pid: int) -> tuple[int, int] | None:
    """(ppid, pgid) of pid, or None if it is gone."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = data[data.rfind(")") + 2 :].split()
    return int(fields[1]), int(fields[2])


def _all_pids() -> list[int]:
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def _tree(root: int) -> list[int]:
    """root and all its live descendants."""
    children: dict[int, list[int]] = {}
    for pid in _all_pids():
        st = _proc_stat(pid)
        if st:
            children.setdefault(st[0], []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if _proc_stat(pid) is None:
            continue
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree_rss_mib(root: int) -> float:
    return round(sum(_rss_kib(p) for p in _tree(root)) / 1024, 1)


def _is_zombie(pid: int) -> bool:
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return data[data.rfind(")") + 2 :].startswith("Z")


def _leftovers(pgids: set[int], marker: str) -> list[int]:
    """Live (non-zombie) processes in one of our process groups or mentioning our temp root."""
    found = []
    for pid in _all_pids():
        if pid == os.getpid():
            continue
        st = _proc_stat(pid)
        if st is None or _is_zombie(pid):
            continue
        hit = st[1] in pgids
        if not hit:
            try:
                hit = marker in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                pass
        if hit:
            found.append(pid)
    return found


class _Procs:
    """Every daemon this benchmark starts, each as leader of its own session/process group."""

    def __init__(self, marker: str, log: Log, guard_dir: Path) -> None:
        self.marker = marker
        self.log = log
        self.env = _clean_env(guard_dir)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.pgids: set[int] = set()
        self._files: list[Any] = []

    def start(self, cmd: list[str], out_file: Path) -> subprocess.Popen[bytes]:
        fh = out_file.open("wb")
        self._files.append(fh)
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=self.env,
        )
        self.procs.append(proc)
        self.pgids.add(proc.pid)
        return proc

    def _signal_all(self, sig: int) -> None:
        for pgid in self.pgids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, sig)
        # Anything that left its process group but still carries our temp root in argv.
        for pid in _leftovers(set(), self.marker):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM every group, wait, SIGKILL what is left; raise if anything survives."""
        self._signal_all(signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            for proc in self.procs:
                proc.poll()  # reap direct children
            if not _leftovers(self.pgids, self.marker):
                break
            time.sleep(0.2)
        else:
            self.log(f"salt processes still alive after {grace}s SIGTERM; sending SIGKILL")
            self._signal_all(signal.SIGKILL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and _leftovers(self.pgids, self.marker):
                for proc in self.procs:
                    proc.poll()
                time.sleep(0.2)
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        for fh in self._files:
            fh.close()
        left = _leftovers(self.pgids, self.marker)
        if left:
            raise RuntimeError(f"salt processes left running: {left}")


# --------------------------------------------------------------------------------------------
# Configuration and the salt CLI
# --------------------------------------------------------------------------------------------


def _free_ports(count: int) -> list[int]:
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _yaml_scalar(value: object) -> str:
    return json.dumps(value)  # JSON scalars are valid YAML


def _write_config(path: Path, opts: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for key, value in opts.items():
        if isinstance(value, dict):
            lines.append(f"{key}:")
            for sub, items in value.items():
                lines.append(f"  {sub}:")
                lines.extend(f"    - {_yaml_scalar(it)}" for it in items)
        else:
            lines.append(f"{key}: {_yaml_scalar(value)}")
    path.write_text("\n".join(lines) + "\n")


def _common_opts(root: Path, name: str) -> dict[str, object]:
    """root_dir plus paths relative to it (Salt prepends root_dir to them)."""
    (root / "log").mkdir(parents=True, exist_ok=True)
    return {
        "root_dir": str(root),
        "pki_dir": "pki",
        "cachedir": "cache",
        "sock_dir": "run",
        "pidfile": f"run/{name}.pid",
        "log_file": f"log/{name}.log",
        "log_level": "warning",
        "log_level_logfile": "warning",
        "user": _current_user(),
    }


def _current_user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return os.environ.get("USER", "root")


def _master_config(root: Path, publish_port: int, ret_port: int) -> Path:
    opts = _common_opts(root, "master")
    opts.update(
        {
            "interface": "127.0.0.1",
            "publish_port": publish_port,
            "ret_port": ret_port,
            "auto_accept": True,
            "file_roots": {"base": [str(root / "srv" / "salt")]},
            "pillar_roots": {"base": [str(root / "srv" / "pillar")]},
        }
    )
    for sub in ("srv/salt", "srv/pillar"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    _write_config(root / "conf" / "master", opts)
    return root / "conf"


def _minion_config(root: Path, minion_id: str, publish_port: int, ret_port: int) -> Path:
    opts = _common_opts(root, "minion")
    opts.update(
        {
            "id": minion_id,
            "master": "127.0.0.1",
            "master_port": ret_port,
            "publish_port": publish_port,
            "interface": "127.0.0.1",
            "ipv6": False,
            # The fqdns grain reverse-resolves every local address: keep DNS off the network.
            "enable_fqdns_grains": False,
        }
    )
    _write_config(root / "conf" / "minion", opts)
    return root / "conf"


def _salt_cli(
    bin_dir: str, conf: Path, args: list[str], timeout: float, procs: _Procs
) -> tuple[float, dict[str, Any]]:
    """Run ``salt -c conf ARGS --out json --static``; return (wall seconds, parsed returns)."""
    cmd = [os.path.join(bin_dir, "salt"), "-c", str(conf), *args, "--out", "json", "--static"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env=procs.env,
    )
    procs.pgids.add(proc.pid)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise RuntimeError(f"{' '.join(cmd)} did not finish within {timeout}s")
    elapsed = time.perf_counter() - t0
    try:
        data = json.loads(out.decode() or "{}")
    except json.JSONDecodeError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    if not data and proc.returncode not in (0, 1, 2):
        raise RuntimeError(f"salt CLI failed ({proc.returncode}): {err.decode()[-2000:]}")
    return elapsed, data


def _answered(data: dict[str, Any], fun: str) -> int:
    if fun == "test.ping":
        return sum(1 for v in data.values() if v is True)
    # cmd.run true returns "" per minion; missing minions come back as an error string.
    return sum(1 for v in data.values() if v == "")


def _wait_port(port: int, deadline: float, proc: subprocess.Popen[bytes]) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"salt-master exited early with code {proc.returncode}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"salt-master did not listen on 127.0.0.1:{port} in time")


def _summary(times: list[float]) -> dict[str, Any]:
    ordered = sorted(times)
    idx = max(0, min(len(ordered) - 1, round(0.95 * len(ordered) + 0.5) - 1))
    return {
        "median": round(statistics.median(ordered), 4),
        "p95": round(ordered[idx], 4),
        "all": [round(t, 4) for t in times],
    }


# --------------------------------------------------------------------------------------------
# The benchmark
# --------------------------------------------------------------------------------------------


def run_salt_bench(n: int, runs: int, workdir: str, bin_dir: str, log: Log = print) -> dict:
    """Benchmark a real salt-master with n salt-minions on 127.0.0.1.

    Starts the master and n minions (free ports, temp root under workdir), lets the master
    auto-accept keys, waits (up to 300 s) until all n answer ``test.ping``, then times the CLI
    wall time of ``salt '*' test.ping``, ``salt m0 test.ping`` (one minion of the n) and
    ``salt '*' cmd.run true`` (1 warm-up + ``runs`` runs each).  Returns::

        {"n": n, "test.ping": {"median": s, "p95": s, "all": [...]}, "cmd.run true": {...},
         "test.ping one": {...}, "start_to_answering_s": s, "version": "3008.5",
         "master_rss_mib": MiB, "minion_rss_mib": MiB, "incomplete_runs": int}

    RSS figures are summed VmRSS over the process tree (master: all its processes; minion:
    one minion ``m0`` with its children), sampled after the timed runs.  Every process started
    is stopped, and checked to be gone, even on error.
    """
    if n < 1 or runs < 1:
        raise ValueError("n and runs must be >= 1")
    Path(workdir).mkdir(parents=True, exist_ok=True)
    top = Path(tempfile.mkdtemp(prefix="salt-bench-", dir=workdir)).absolute()
    guard_dir = top / "pyguard"
    guard_dir.mkdir()
    (guard_dir / "sitecustomize.py").write_text(_GUARD_SOURCE.lstrip())
    procs = _Procs(str(top), log, guard_dir)
    publish_port, ret_port = _free_ports(2)
    keep_tree = False
    try:
        master_conf = _master_config(top / "master", publish_port, ret_port)
        log(f"salt: master on 127.0.0.1:{publish_port}/{ret_port}, root {top}")
        master = procs.start(
            [os.path.join(bin_dir, "salt-master"), "-c", str(master_conf), "-l", "warning"],
            top / "master" / "log" / "console.log",
        )
        deadline = time.monotonic() + 120
        _wait_port(ret_port, deadline, master)
        _wait_port(publish_port, deadline, master)

        minion_cmd = [os.path.join(bin_dir, "salt-minion"), "-l", "warning", "-c"]
        confs = [_minion_config(top / f"m{i}", f"m{i}", publish_port, ret_port) for i in range(n)]
        t_start = time.monotonic()
        minions = [
            procs.start([*minion_cmd, str(conf)], conf.parent / "log" / "console.log")
            for conf in confs
        ]
        log(f"salt: started {n} minions; waiting for all to answer test.ping")
        deadline = t_start + 300
        answering = 0
        while True:
            dead = [i for i, p in enumerate(minions) if p.poll() is not None]
            if dead:
                raise RuntimeError(f"salt-minion(s) exited early: {[f'm{i}' for i in dead]}")
            _, data = _salt_cli(bin_dir, master_conf, ["*", "test.ping", "-t", "10"], 120, procs)
            answering = _answered(data, "test.ping")
            if answering >= n:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {answering}/{n} minions answered within 300s")
            log(f"salt: {answering}/{n} answering after {time.monotonic() - t_start:.1f}s")
            time.sleep(1)
        start_to_answering = time.monotonic() - t_start
        log(f"salt: all {n} answering after {start_to_answering:.1f}s")

        result: dict[str, Any] = {"n": n, "version": SALT_VERSION}
        incomplete = 0
        # The salt CLI YAML-loads each argument: a bare ``true`` would reach cmd.run as the
        # boolean True (and run the command "True"), so it is YAML-quoted.
        # ``test.ping one``: one minion of the n, Salt's side of ff's start-up row; before
        # cmd.run, whose forks would still be settling.
        for label, tgt, args, want in (
            ("test.ping", "*", ["test.ping"], n),
            ("test.ping one", "m0", ["test.ping"], 1),
            ("cmd.run true", "*", ["cmd.run", "'true'"], n),
        ):
            times: list[float] = []
            for i in range(runs + 1):  # first run is the warm-up
                elapsed, data = _salt_cli(
                    bin_dir, master_conf, [tgt, *args, "-t", "60"], 300, procs
                )
                got = _answered(data, args[0])
                if got < want:
                    incomplete += 1
                    log(f"salt: {label} run {i}: only {got}/{want} answered")
                if i > 0:
                    times.append(elapsed)
            result[label] = _summary(times)
            log(f"salt: {label}: median {result[label]['median']:.3f}s")
        result["start_to_answering_s"] = round(start_to_answering, 2)
        result["master_rss_mib"] = _tree_rss_mib(master.pid)
        result["minion_rss_mib"] = _tree_rss_mib(minions[0].pid)
        result["incomplete_runs"] = incomplete
        return result
    except BaseException:
        keep_tree = True  # keep logs for post-mortem
        log(f"salt: benchmark failed; logs kept under {top}")
        raise
    finally:
        procs.stop()
        if not keep_tree:
            shutil.rmtree(top, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """CLI entry: install Salt if needed, run the benchmark, print the result as JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10, help="number of minions")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per command")
    ap.add_argument("--venv", default=".bench/salt-venv", help="Salt venv directory")
    ap.add_argument("--workdir", default=".bench", help="parent of the temp Salt root")
    args = ap.parse_args(argv)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    t0 = time.monotonic()
    bin_dir = ensure_salt(args.venv, log=log)
    log(f"ensure_salt: {time.monotonic() - t0:.1f}s")
    t1 = time.monotonic()
    result = run_salt_bench(args.n, args.runs, args.workdir, bin_dir, log=log)
    log(f"run_salt_bench: {time.monotonic() - t1:.1f}s")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
