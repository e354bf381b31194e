"""Target regexes: a CPU-time bound per match, a timeout counted as no match and logged once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fluxforge.errors import ConfigError, TargetError
from fluxforge.targeting import check, data_matches, matches, resolve, set_regex_timeout
from fluxforge.targeting.matchers import DEFAULT_REGEX_TIMEOUT

HOSTILE = "a" * 60 + "!"


@pytest.fixture
def short_bound() -> Iterator[None]:
    set_regex_timeout(0.01)
    yield
    set_regex_timeout(DEFAULT_REGEX_TIMEOUT)


def test_a_catastrophic_grain_regex_is_no_match_with_one_warning(
    short_bound: None, caplog: pytest.LogCaptureFixture
) -> None:
    grains = {"location": HOSTILE, "other": [HOSTILE, HOSTILE]}
    assert not data_matches(grains, "location:(a|aa)+$", regex=True)
    assert not matches("P@other:(a|aa)+$", "compound", "evil", grains)
    lines = [r.getMessage() for r in caplog.records if "ran out of time" in r.getMessage()]
    assert len(lines) == 1, lines
    assert "target regex '(a|aa)+$'" in lines[0] and "target_regex_timeout" in lines[0]


def test_a_catastrophic_id_regex_is_no_match(short_bound: None) -> None:
    assert resolve("(a|aa)+$", "pcre", ["a" * 60 + "-", "aaaa"]).expected == ["aaaa"]


def test_regexes_keep_salts_semantics() -> None:
    # Anchored at the start only, case-insensitive on grains, re's syntax decides validity.
    assert matches("web", "pcre", "web1") and not matches("eb1", "pcre", "web1")
    assert matches("P@os:deb", "compound", "m", {"os": "Debian"})
    assert matches("os:\\S+an$", "grain_pcre", "m", {"os": "Debian"})
    with pytest.raises(TargetError, match="invalid regular expression"):
        check("(?P<n>a)(?P<n>b)", "pcre")
    with pytest.raises(TargetError, match="invalid regular expression"):
        check("P@os:(", "compound")


def test_the_bound_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="target_regex_timeout"):
        set_regex_timeout(0)
