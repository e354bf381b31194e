"""Terminal escape injection: a minion's return carries bytes the operator's terminal acts on.

``ff`` printed returns as they came, so output of a command on a minion
(or a minion that lies) could set the terminal's title, clear it, rewrite
the clipboard with OSC 52, overwrite lines with CR or reorder text with a
bidi override. The outputters for people now show such characters as
escapes; JSON output still holds the exact text.
"""

from __future__ import annotations

import pytest

from fluxforge.testing import Cluster

# OSC 52 (clipboard), CSI clear screen, BEL, CR, a C1 CSI (U+009B) and a
# right-to-left override (U+202E), as cmd.run's shell prints them.
SCRIPT = r"printf 'safe\033]52;c;ZXZpbA==\007\033[2J\rX\302\2332J\342\200\256txt\n\tnext'"
EXACT = "safe\x1b]52;c;ZXZpbA==\x07\x1b[2J\rX\x9b2J\u202etxt\n\tnext"
RAW = ("\x1b", "\x07", "\r", "\x9b", "\u202e")


@pytest.fixture
def web1(cluster: Cluster) -> Cluster:
    cluster.start_master()
    cluster.start_minion("web1")
    cluster.accept_and_wait("web1")
    return cluster


ESCAPED = "safe\\x1b]52;c;ZXZpbA==\\x07\\x1b[2J\\x0dX\\x9b2J\\u202etxt"


def holds_no_control(text: str) -> bool:
    return not [c for c in RAW if c in text]


def test_default_output_shows_controls_escaped_and_json_holds_them_exactly(
    web1: Cluster,
) -> None:
    res = web1.ff("web1", "cmd.run", SCRIPT, "-t", "20")
    assert res.returncode == 0, res
    assert holds_no_control(res.stdout), repr(res.stdout)
    # Shown escaped, with the newline and the tab kept for reading.
    assert ESCAPED in res.stdout and "\tnext" in res.stdout, res.stdout
    res = web1.ff("web1", "cmd.run", SCRIPT, "-t", "20", "--out", "json")
    assert res.returncode == 0, res
    assert res.json() == {"web1": EXACT}
    assert holds_no_control(res.stdout), repr(res.stdout)


@pytest.mark.parametrize("out", ["txt", "yaml"])
def test_other_outputters_for_people_show_controls_escaped(web1: Cluster, out: str) -> None:
    res = web1.ff("web1", "cmd.run", SCRIPT, "-t", "20", "--out", out)
    assert res.returncode == 0, res
    assert holds_no_control(res.stdout), repr(res.stdout)
    assert "ZXZpbA==" in res.stdout and "next" in res.stdout, res.stdout
    if out == "txt":
        assert ESCAPED in res.stdout, res.stdout
