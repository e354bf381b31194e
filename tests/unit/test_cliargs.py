"""Command-line argument words: keywords, timeouts, list targets, targeting options."""

from __future__ import annotations

import pytest

from fluxforge.cli.args import (
    TARGET_FLAGS,
    parse_seconds,
    parse_target_list,
    parse_timeout,
    split_args,
    target_type,
)
from fluxforge.errors import UsageError


@pytest.mark.parametrize(
    ("tokens", "args", "kwargs"),
    [
        (["a=1"], [], {"a": "1"}),
        (["echo a=b"], ["echo a=b"], {}),
        (["=x"], ["=x"], {}),
        (["1a=2"], ["1a=2"], {}),
        (["a=b=c"], [], {"a": "b=c"}),
        (["a="], [], {"a": ""}),
        (["_private=1"], [], {"_private": "1"}),
        (["größe=3"], [], {"größe": "3"}),
        (["名前=値"], [], {"名前": "値"}),
        (["a-b=1"], ["a-b=1"], {}),
        (["a.b=1"], ["a.b=1"], {}),
        (["plain"], ["plain"], {}),
        (["requests==2.31"], ["requests==2.31"], {}),
        ([], [], {}),
    ],
)
def test_split_args(tokens: list[str], args: list[str], kwargs: dict[str, str]) -> None:
    assert split_args(tokens) == (args, kwargs)


def test_split_args_keeps_positional_order_and_text() -> None:
    assert split_args(["ls", "x=1", "-l", "2", "cwd=/tmp"]) == (
        ["ls", "-l", "2"],
        {"x": "1", "cwd": "/tmp"},
    )


def test_split_args_repeated_keyword() -> None:
    with pytest.raises(UsageError, match="'a' given more than once"):
        split_args(["a=1", "a=2"])


@pytest.mark.parametrize(("text", "seconds"), [("5", 5.0), ("0.5", 0.5), (" 30 ", 30.0)])
def test_parse_timeout(text: str, seconds: float) -> None:
    assert parse_timeout(text) == seconds


@pytest.mark.parametrize("text", ["x", "", "0", "-1", "nan", "inf", "1e999"])
def test_parse_timeout_rejects(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_timeout(text)
    assert str(caught.value) == f"timeout must be a positive number of seconds, got {text!r}"


def test_parse_timeout_message_for_x() -> None:
    with pytest.raises(UsageError) as caught:
        parse_timeout("x")
    assert str(caught.value) == "timeout must be a positive number of seconds, got 'x'"


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("web1", ["web1"]),
        ("web1,web2", ["web1", "web2"]),
        (" web1 , web2 ,, ", ["web1", "web2"]),
        ("web2,web1,web2", ["web2", "web1"]),
    ],
)
def test_parse_target_list(text: str, ids: list[str]) -> None:
    assert parse_target_list(text) == ids


@pytest.mark.parametrize("text", ["", " , ,"])
def test_parse_target_list_empty(text: str) -> None:
    with pytest.raises(UsageError):
        parse_target_list(text)


# -- targeting options and seconds ------------------------------------------------


def test_target_flags_are_unique_and_salts() -> None:
    shorts = [flag.short for flag in TARGET_FLAGS]
    assert shorts == ["-E", "-L", "-G", "-P", "-I", "-J", "-S", "-N", "-C"]
    assert len({flag.long for flag in TARGET_FLAGS}) == len(TARGET_FLAGS)
    assert [flag.tgt_type for flag in TARGET_FLAGS] == [
        "pcre",
        "list",
        "grain",
        "grain_pcre",
        "pillar",
        "pillar_pcre",
        "ipcidr",
        "nodegroup",
        "compound",
    ]


@pytest.mark.parametrize(
    ("chosen", "tgt_type"),
    [([], "glob"), (["pcre"], "pcre"), (["compound"], "compound"), (["grain_pcre"], "grain_pcre")],
)
def test_target_type(chosen: list[str], tgt_type: str) -> None:
    assert target_type(chosen) == tgt_type


def test_target_type_two_options_names_both() -> None:
    with pytest.raises(UsageError) as caught:
        target_type(["list", "grain"])
    assert str(caught.value) == "give at most one targeting option, got -L/--list and -G/--grain"


def test_target_type_unknown() -> None:
    with pytest.raises(UsageError, match="unknown target type 'bogus'"):
        target_type(["bogus"])


@pytest.mark.parametrize(("text", "seconds"), [("0", 0.0), ("1.5", 1.5), (" 2 ", 2.0)])
def test_parse_seconds(text: str, seconds: float) -> None:
    assert parse_seconds(text, "--batch-wait") == seconds


@pytest.mark.parametrize("text", ["x", "", "-1", "nan", "inf"])
def test_parse_seconds_rejects(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_seconds(text, "--batch-wait")
    assert str(caught.value) == f"--batch-wait must be a number of seconds, 0 or more, got {text!r}"
