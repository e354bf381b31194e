"""Command-line argument words: keyword splitting, timeouts, list targets."""

from __future__ import annotations

import pytest

from fluxforge.cliargs import parse_target_list, parse_timeout, split_args
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
