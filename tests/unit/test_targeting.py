"""Targeting by minion id: glob, pcre and list."""

from __future__ import annotations

import pytest

from fluxforge.errors import TargetError
from fluxforge.targeting import TARGET_TYPES, as_list, check, expected, matches

IDS = ["web1", "web2", "web10", "db1", "db-backup", "Web3", "mail.example.com"]


@pytest.mark.parametrize(
    ("tgt", "ids"),
    [
        ("*", sorted(IDS)),
        ("web*", ["web1", "web10", "web2"]),
        ("web?", ["web1", "web2"]),
        ("web[12]", ["web1", "web2"]),
        ("web[!1]", ["web2"]),
        ("db1", ["db1"]),
        ("*.example.com", ["mail.example.com"]),
        ("nothing", []),
    ],
)
def test_glob(tgt: str, ids: list[str]) -> None:
    assert expected(tgt, "glob", IDS) == ids


def test_glob_is_case_sensitive() -> None:
    assert matches("web*", "glob", "web3")
    assert not matches("web*", "glob", "Web3")


def test_glob_needs_text() -> None:
    assert not matches(["web1"], "glob", "web1")  # type: ignore[arg-type]
    with pytest.raises(TargetError, match="glob target must be text"):
        check(["web1"], "glob")


@pytest.mark.parametrize(
    ("tgt", "ids"),
    [
        ("web", ["web1", "web10", "web2"]),  # anchored at the start only, like re.match
        ("web[0-9]$", ["web1", "web2"]),
        ("web1", ["web1", "web10"]),
        ("1", []),  # not a search: must match at the start
        (".*1$", ["db1", "web1"]),
        ("(?i)web", ["Web3", "web1", "web10", "web2"]),
        ("db|mail", ["db-backup", "db1", "mail.example.com"]),
    ],
)
def test_pcre(tgt: str, ids: list[str]) -> None:
    assert expected(tgt, "pcre", IDS) == ids


def test_pcre_matches_one() -> None:
    assert matches(r"web\d+", "pcre", "web12")
    assert not matches(r"web\d+", "pcre", "xweb12")


@pytest.mark.parametrize("bad", ["web(", "[a-", "*x", "(?P<n>a)(?P<n>b)"])
def test_invalid_regex_is_target_error(bad: str) -> None:
    with pytest.raises(TargetError, match="invalid regular expression") as info:
        expected(bad, "pcre", IDS)
    assert repr(bad) in str(info.value)
    assert info.value.exit_code == 2
    with pytest.raises(TargetError):
        matches(bad, "pcre", "web1")


def test_list_from_text() -> None:
    assert as_list("a,b") == ["a", "b"]
    assert as_list(" a , b ,, ") == ["a", "b"]
    assert as_list("") == []
    assert expected("web1,db1", "list", IDS) == ["db1", "web1"]
    assert expected("web1, db1 ,absent", "list", IDS) == ["db1", "web1"]


def test_list_from_list() -> None:
    assert as_list(["a", "b"]) == ["a", "b"]
    assert expected(["web2", "db1"], "list", IDS) == ["db1", "web2"]
    assert matches(["web2"], "list", "web2")
    assert not matches(["web2"], "list", "web1")


def test_list_is_exact_not_glob() -> None:
    assert expected("web*", "list", IDS) == []
    assert not matches("web", "list", "web1")


def test_expected_is_sorted_and_from_given_ids() -> None:
    ids = ["c", "a", "b"]
    assert expected("*", "glob", ids) == ["a", "b", "c"]
    assert expected("*", "glob", iter(ids)) == ["a", "b", "c"]
    assert expected("*", "glob", []) == []


@pytest.mark.parametrize("tgt_type", ["grian", "", "GLOB", "compound_x"])
def test_unknown_type_is_target_error(tgt_type: str) -> None:
    with pytest.raises(TargetError, match="unknown target type") as info:
        expected("*", tgt_type, IDS)
    for known in TARGET_TYPES:
        assert known in str(info.value)
    assert not matches("*", tgt_type, "web1")


def test_check_accepts_valid_targets() -> None:
    check("web*", "glob")
    check("^web", "pcre")
    check("a,b", "list")
    check(["a", "b"], "list")
