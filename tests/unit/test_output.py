"""Outputters: exact text of each outputter, colour handling, bytes."""

from __future__ import annotations

import io
import json

import pytest
import yaml

from fluxforge.errors import UsageError
from fluxforge.output import OUTPUTTERS, format_all, format_return, use_color

GREEN = "\033[0;32m"
CYAN = "\033[0;36m"
YELLOW = "\033[1;33m"
RED = "\033[0;31m"
END = "\033[0m"

RUN_ALL = {
    "pid": 1234,
    "retcode": 2,
    "stderr": "ls: cannot access '/nope': No such file or directory",
    "stdout": "",
}


def nested(value: object) -> str:
    return format_return("web1", value, "nested", color=False)


def test_outputter_names() -> None:
    assert OUTPUTTERS == ("nested", "json", "yaml", "raw", "txt", "highstate")


# -- nested -------------------------------------------------------------------


def test_nested_matches_salt_cmd_run_all() -> None:
    assert nested(RUN_ALL) == (
        "web1:\n"
        "    ----------\n"
        "    pid:\n"
        "        1234\n"
        "    retcode:\n"
        "        2\n"
        "    stderr:\n"
        "        ls: cannot access '/nope': No such file or directory\n"
        "    stdout:\n"
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("hello", "hello"),
        (42, "42"),
        (1.5, "1.5"),
        (True, "True"),
        (False, "False"),
        (None, "None"),
    ],
)
def test_nested_scalar_on_one_line(value: object, shown: str) -> None:
    assert nested(value) == f"web1:\n    {shown}\n"


def test_nested_multiline_string_line_by_line() -> None:
    assert nested("one\ntwo\n  three") == "web1:\n    one\n    two\n      three\n"


def test_nested_sorts_keys() -> None:
    assert (
        nested({"b": 2, "a": 1}) == "web1:\n    ----------\n    a:\n        1\n    b:\n        2\n"
    )


def test_nested_dict_within_dict() -> None:
    assert nested({"outer": {"inner": True, "deeper": {"x": None}}}) == (
        "web1:\n"
        "    ----------\n"
        "    outer:\n"
        "        ----------\n"
        "        deeper:\n"
        "            ----------\n"
        "            x:\n"
        "                None\n"
        "        inner:\n"
        "            True\n"
    )


def test_nested_list_items_dashed() -> None:
    assert nested(["a", 1, None]) == "web1:\n    - a\n    - 1\n    - None\n"


def test_nested_list_of_containers_under_bars() -> None:
    assert nested([{"k": "v"}, [1, 2], "x\ny"]) == (
        "web1:\n"
        "    |_\n"
        "      ----------\n"
        "      k:\n"
        "          v\n"
        "    |_\n"
        "      - 1\n"
        "      - 2\n"
        "    - x\n"
        "      y\n"
    )


def test_nested_empty_containers_and_string() -> None:
    assert nested({}) == "web1:\n    ----------\n"
    assert nested([]) == "web1:\n"
    assert nested("") == "web1:\n"
    assert nested({"d": {}, "l": []}) == (
        "web1:\n    ----------\n    d:\n        ----------\n    l:\n"
    )


def test_nested_colours() -> None:
    text = format_return("web1", {"n": 1, "s": "x"}, "nested", color=True)
    assert text == (
        f"{GREEN}web1{END}:\n"
        f"    {CYAN}----------{END}\n"
        f"    {CYAN}n{END}:\n"
        f"        {YELLOW}1{END}\n"
        f"    {CYAN}s{END}:\n"
        f"        {GREEN}x{END}\n"
    )


def test_nested_failed_value_red_only_with_colour() -> None:
    text = format_return("web1", "boom", "nested", color=True, failed=True)
    assert text == f"{GREEN}web1{END}:\n    {RED}boom{END}\n"
    assert format_return("web1", "boom", "nested", color=False, failed=True) == "web1:\n    boom\n"


def test_no_escape_codes_without_colour() -> None:
    for out in OUTPUTTERS:
        assert "\033" not in format_return("web1", RUN_ALL, out, color=False)


def test_nested_bytes_decoded() -> None:
    assert (
        nested({b"k": b"caf\xc3\xa9 \xff"})
        == "web1:\n    ----------\n    k:\n        café \ufffd\n"
    )


# -- json ---------------------------------------------------------------------


def test_format_all_json_exact_and_parseable() -> None:
    returns = {"web2": [1, "two", None], "web1": RUN_ALL}
    text = format_all(returns, "json")
    assert text == json.dumps(returns, indent=4, sort_keys=True)
    assert json.loads(text) == returns
    assert "\033" not in text


def test_format_all_json_bytes_and_odd_types() -> None:
    text = format_all({"web1": {"out": b"ok\xff", "when": {3, 1}, 5: "int key"}}, "json")
    assert json.loads(text) == {"web1": {"out": "ok\ufffd", "when": "{1, 3}", "5": "int key"}}


def test_format_return_json() -> None:
    assert json.loads(format_return("web1", RUN_ALL, "json", color=True)) == {"web1": RUN_ALL}


# -- txt, raw, yaml -----------------------------------------------------------


def test_txt_one_line_per_value_line() -> None:
    assert format_return("web1", "a\nb", "txt", color=False) == "web1: a\nweb1: b\n"
    assert format_return("web1", {"k": 1}, "txt", color=False) == "web1: {'k': 1}\n"
    assert format_return("web1", True, "txt", color=False) == "web1: True\n"
    assert format_return("web1", "", "txt", color=False) == "web1:\n"


def test_raw_is_python_str_of_dict() -> None:
    assert format_return("web1", {"k": [1, None]}, "raw", color=False) == (
        "{'web1': {'k': [1, None]}}\n"
    )
    assert format_return("web1", b"hi", "raw", color=False) == "{'web1': 'hi'}\n"


def test_yaml_block_style() -> None:
    text = format_return("web1", {"b": [1, 2], "a": "x"}, "yaml", color=False)
    assert text == "web1:\n  a: x\n  b:\n  - 1\n  - 2\n"


def test_yaml_converts_unsafe_types() -> None:
    class Thing:
        def __str__(self) -> str:
            return "thing"

    value = {"t": Thing(), "tup": (1, 2), "b": b"caf\xc3\xa9", (1, 2): "tuple key"}
    text = format_return("web1", value, "yaml", color=False)
    assert yaml.safe_load(text) == {
        "web1": {"t": "thing", "tup": [1, 2], "b": "café", "(1, 2)": "tuple key"}
    }
    assert "café" in text


# -- format_all for streaming outputters ----------------------------------------


@pytest.mark.parametrize("out", ["nested", "yaml", "raw", "txt"])
def test_format_all_concatenates_in_sorted_order(out: str) -> None:
    returns = {"web2": "two", "web1": {"k": 1}}
    expected = format_return("web1", {"k": 1}, out, color=False) + format_return(
        "web2", "two", out, color=False
    )
    assert format_all(returns, out) == expected


def test_unknown_outputter() -> None:
    with pytest.raises(UsageError, match="unknown outputter 'xml'"):
        format_return("web1", 1, "xml", color=False)
    with pytest.raises(UsageError):
        format_all({"web1": 1}, "xml")


# -- use_color ----------------------------------------------------------------


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_use_color_tty_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(FakeTTY()) is True
    assert use_color(io.StringIO()) is False
    assert use_color(object()) is False


def test_use_color_respects_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_color(FakeTTY()) is False


def test_use_color_closed_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    closed = io.StringIO()
    closed.close()
    with pytest.raises(ValueError):
        closed.isatty()
    assert use_color(closed) is False


# -- terminal controls ----------------------------------------------------------

HOSTILE_TEXT = "a\x1b]52;c;eA==\x07\x1b[2J\rb\x9b\u202ec\u2066\U000e0041\x00\r\nnext\tcol ü"
SHOWN = "a\\x1b]52;c;eA==\\x07\\x1b[2J\\x0db\\x9b\\u202ec\\u2066\\U000e0041\\x00\nnext\tcol ü"


def test_human_outputters_escape_terminal_controls_and_keep_newlines_and_tabs() -> None:
    assert nested({"k\x1b": HOSTILE_TEXT}) == (
        "web1:\n    ----------\n    k\\x1b:\n        " + SHOWN.replace("\n", "\n        ") + "\n"
    )
    txt = format_return("web1", HOSTILE_TEXT, "txt", color=False)
    assert txt == "".join(f"web1: {line}\n" for line in SHOWN.split("\n"))
    highstate = format_return("web1", {"x": HOSTILE_TEXT}, "highstate", color=False)
    assert "\x1b" not in highstate and "\\u202ec" in highstate


def test_our_colours_survive_the_escaping() -> None:
    text = format_return("web1", {"k": "\x1b[31m"}, "nested", color=True)
    assert text.startswith(f"{GREEN}web1{END}:") and f"{GREEN}\\x1b[31m{END}" in text


def test_yaml_writes_controls_as_yaml_escapes_and_keeps_the_data() -> None:
    value = {"out": HOSTILE_TEXT, "plain": "ü日本", "k\u202e": 1}
    text = format_return("web1", value, "yaml", color=False)
    assert not [c for c in text if c in "\x1b\x07\r\x9b\u202e\u2066\x00"]
    assert "plain: ü日本" in text
    assert yaml.safe_load(text) == {"web1": value}


def test_json_and_raw_stay_exact() -> None:
    assert json.loads(format_return("web1", HOSTILE_TEXT, "json", color=False)) == {
        "web1": HOSTILE_TEXT
    }
    assert format_return("web1", HOSTILE_TEXT, "raw", color=False) == (
        str({"web1": HOSTILE_TEXT}) + "\n"
    )


def test_the_progress_line_escapes_controls() -> None:
    from fluxforge.output import format_progress

    data = {"n": "1\x1b[2J", "total": 2, "state": "x", "name": "\u202eb", "result": True}
    line = format_progress(data)
    assert line == "[1\\x1b[2J/2] x \\u202eb: unchanged"
