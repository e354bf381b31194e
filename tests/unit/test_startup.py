"""Start-up: each command imports only what it uses.

Each case runs a console script's entry point in a fresh interpreter and
reads the modules it had imported when it exited (and whether its objects
were frozen for the exit, see ``exit_without_collecting``). Nothing here is timed
(``scripts/bench`` measures); the lists pin which heavy imports a command
has shed, so that an import added at the top of a module every command
loads fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import pytest

# Runs ENTRY (module:function) with ARGV and writes sorted(sys.modules) to OUT at exit,
# then "frozen" if the objects were frozen by then (atexit runs this handler last).
_PROBE = textwrap.dedent(
    """
    import atexit, gc, importlib, json, sys

    out, entry, *argv = sys.argv[1:]

    def report():
        frozen = ["frozen"] if gc.get_freeze_count() else []
        open(out, "w").write(json.dumps(sorted(sys.modules) + frozen))

    atexit.register(report)
    module, _, name = entry.partition(":")
    sys.argv = [name, *argv]
    getattr(importlib.import_module(module), name)()
    """
)

# What none of these commands needs just to parse its command line.
HEAVY = (
    "yaml",
    "jinja2",
    "nacl",
    "msgpack",
    "zmq",
    "asyncio",
    "psutil",
    "fluxforge.client",
    "fluxforge.events",
    "fluxforge.protocol",
    "fluxforge.targeting",
    "fluxforge.master",
    "fluxforge.minion",
    "fluxforge.plugins",
    "fluxforge.highstate",
    "fluxforge.render",
    "fluxforge.output.nested",
    "fluxforge.output.documents",
    "fluxforge.output.highstate",
)


def entry(script: str) -> str:
    """The ``module:function`` of an installed console script."""
    (point,) = entry_points(group="console_scripts", name=script)
    return str(point.value)


def imported(tmp_path: Path, code: str, *args: str) -> set[str]:
    """The modules a fresh interpreter had imported when ``code`` (with ``args``) exited."""
    out = tmp_path / "modules.json"
    env = {key: value for key, value in os.environ.items() if key != "FLUXFORGE_CONFIG"}
    proc = subprocess.run(
        [sys.executable, "-c", code, str(out), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.exists(), proc.stderr
    return set(json.loads(out.read_text()))


def run_command(tmp_path: Path, script: str, *args: str) -> set[str]:
    """The modules console script ``script`` had imported when it exited."""
    return imported(tmp_path, _PROBE, entry(script), *args)


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` (a package counts with its submodules) are in ``modules``."""
    return sorted(
        module
        for module in modules
        for name in names
        if module == name or module.startswith(name + ".")
    )


@pytest.mark.parametrize("script", ["ff", "ff-call", "ff-key", "ff-master", "ff-minion"])
def test_version_imports_nothing_heavy(tmp_path: Path, script: str) -> None:
    modules = run_command(tmp_path, script, "--version")
    assert "click" in modules  # the probe ran the command
    assert loaded(modules, HEAVY) == []


def test_help_imports_nothing_heavy(tmp_path: Path) -> None:
    modules = run_command(tmp_path, "ff", "--help")
    assert loaded(modules, HEAVY) == []


def test_ff_to_a_master_loads_no_crypto_and_no_outputter_yet(tmp_path: Path) -> None:
    """``ff`` talks to the master over IPC with msgpack: no PyNaCl, no daemon code.

    No master runs here, so the command stops at the connection, after it
    has loaded the client and the config; no return was shown, so no
    outputter was imported either.
    """
    conf = tmp_path / "ff.conf"
    conf.write_text(f"master:\n  root_dir: {tmp_path}\n")
    modules = run_command(tmp_path, "ff", "-c", str(conf), "web1", "test.ping")
    assert {"fluxforge.client.local", "yaml", "zmq", "msgpack"} <= modules
    assert "frozen" in modules  # the exit skips the collector's last passes
    assert (
        loaded(
            modules,
            (
                "nacl",
                "jinja2",
                "asyncio",
                "psutil",
                "fluxforge.protocol.crypto",
                "fluxforge.targeting",
                "fluxforge.master",
                "fluxforge.minion",
                "fluxforge.plugins",
                "fluxforge.highstate",
                "fluxforge.output.highstate",
                "fluxforge.output.documents",
                "fluxforge.client.batch",
            ),
        )
        == []
    )


def test_a_nested_return_loads_neither_yaml_nor_the_highstate_painter(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import atexit, json, sys

        atexit.register(lambda: open(sys.argv[1], "w").write(json.dumps(sorted(sys.modules))))
        from fluxforge import output

        assert output.format_return("web1", {"a": [1]}, "nested", False).startswith("web1:")
        assert output.format_progress({"n": 1, "total": 2, "state": "s", "name": "x"})
        """
    )
    modules = imported(tmp_path, code)
    assert "fluxforge.output.nested" in modules
    assert (
        loaded(modules, ("yaml", "fluxforge.output.highstate", "fluxforge.output.documents")) == []
    )


def test_ff_call_local_ping_loads_no_state_engine(tmp_path: Path) -> None:
    conf = tmp_path / "ff.conf"
    conf.write_text(f"minion:\n  root_dir: {tmp_path}\n  id: solo\n")
    modules = run_command(tmp_path, "ff-call", "-c", str(conf), "--local", "test.ping")
    assert "fluxforge.minion.runner" in modules  # the function ran
    assert "frozen" not in modules  # module code ran here: its objects are finalized
    assert (
        loaded(
            modules,
            (
                "jinja2",
                "nacl",
                "zmq",
                "asyncio",
                "fluxforge.highstate",
                "fluxforge.render",
                "fluxforge.pillar",
                "fluxforge.states",
                "fluxforge.master",
                "fluxforge.client",
                "fluxforge.output.highstate",
            ),
        )
        == []
    )


def test_ff_key_listing_loads_no_crypto(tmp_path: Path) -> None:
    """Listing keys reads key files; it needs neither PyNaCl nor the daemons."""
    conf = tmp_path / "ff.conf"
    conf.write_text(f"master:\n  root_dir: {tmp_path}\n")
    (tmp_path / "etc/fluxforge/pki/master").mkdir(parents=True, mode=0o700)
    modules = run_command(tmp_path, "ff-key", "-c", str(conf), "-L")
    assert "fluxforge.master.keys" in modules  # it really read the key store
    assert loaded(modules, ("nacl", "fluxforge.protocol.crypto", "fluxforge.minion")) == []
