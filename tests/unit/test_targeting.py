"""Targeting: every target type, compound parsing, nodegroups and three-valued resolution."""

from __future__ import annotations

import time

import pytest

from fluxforge.errors import TargetError
from fluxforge.targeting import (
    TARGET_TYPES,
    Resolution,
    as_list,
    check,
    data_matches,
    decide,
    expand_nodegroups,
    expected,
    matches,
    resolve,
)

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
    assert not matches(["web1"], "glob", "web1")
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


# --- grains and pillar -------------------------------------------------------

GRAINS = {
    "os": "Debian",
    "roles": ["web", "DB"],
    "num_cpus": 2,
    "virtual": True,
    "ipv4": ["10.0.0.5", "127.0.0.1"],
    "ipv6": ["::1", "fe80::1"],
    "deep": {"a": {"b": "c"}},
    "url": "https://x.example:8080/path",
    "ip4_interfaces": {"eth0": ["10.0.0.5"], "lo": ["127.0.0.1"]},
    "disks": [{"name": "sda"}, {"name": "sdb"}],
    "odd:key": "literal",
}


@pytest.mark.parametrize(
    ("tgt", "hit"),
    [
        ("os:Debian", True),
        ("os:debian", True),  # case-insensitive
        ("os:DEB*", True),
        ("os:Ubuntu", False),
        ("os:Deb", False),  # a glob is anchored at both ends
        ("roles:web", True),  # a list matches by member
        ("roles:db", True),
        ("roles:mail", False),
        ("num_cpus:2", True),  # ints compare as their text
        ("num_cpus:[0-3]", True),
        ("num_cpus:4", False),
        ("virtual:True", True),
        ("virtual:true", True),
        ("deep:a:b:c", True),  # nested keys
        ("deep:a:b:C", True),
        ("deep:a:b:d", False),
        ("deep:a:b", True),  # a mapping matches one of its keys ...
        ("deep:a:*", True),  # ... or '*'
        ("deep:a:x", False),
        ("deep:*:c", False),
        ("ip4_interfaces:*:10.0.0.5", True),  # '*:' means any key at this level
        ("ip4_interfaces:*:10.9.9.9", False),
        ("ip4_interfaces:eth0:10.0.0.*", True),
        ("ipv6:::1", True),  # the pattern holds the delimiter
        ("ipv6:fe80::*", True),
        ("ipv6:::2", False),
        ("url:https://x.example:8080/*", True),
        ("url:https://x.example:9090/*", False),
        ("disks:name:sdb", True),  # a key of a mapping inside a list
        ("disks:1:name:sdb", True),  # a list index
        ("disks:5:name:sdb", False),
        ("odd:key:literal", True),  # a literal key holding ':' wins, as in grains.get
        ("missing:x", False),
        ("missing:*", False),
        ("os", False),  # no delimiter: Salt matches nothing
        ("", False),
    ],
)
def test_grain(tgt: str, hit: bool) -> None:
    assert matches(tgt, "grain", "m1", GRAINS) is hit
    assert matches(tgt, "pillar", "m1", pillar=GRAINS) is hit
    assert matches(tgt, "pillar", "m1", GRAINS) is False  # grains are not pillar


@pytest.mark.parametrize(
    ("tgt", "hit"),
    [
        ("os:Deb", True),  # re.match: anchored at the start only
        ("os:deb.*n$", True),  # case-insensitive
        (r"os:^\S+$", True),  # not lower-cased into \s as Salt would
        ("os:ebian", False),
        ("roles:(web|mail)$", True),
        ("num_cpus:[0-9]$", True),
        ("ipv6:::1$", True),
        ("ipv6:::(1|2)$", True),  # regex parentheses after a ':' in the value
        ("deep:a:b:c$", True),
        ("os", False),
    ],
)
def test_grain_pcre(tgt: str, hit: bool) -> None:
    assert matches(tgt, "grain_pcre", "m1", GRAINS) is hit
    assert matches(tgt, "pillar_pcre", "m1", pillar=GRAINS) is hit


def test_grain_pcre_invalid_regex_is_target_error() -> None:
    with pytest.raises(TargetError, match="invalid regular expression '\\(web'"):
        check("roles:(web", "grain_pcre")
    with pytest.raises(TargetError, match="invalid regular expression"):
        matches("roles:(web", "pillar_pcre", "m1")
    check("a:b(:c)", "grain_pcre")  # one reading ('b(:c)' after 'a') is a valid regex


def test_grain_without_data_matches_nothing() -> None:
    assert not matches("os:*", "grain", "m1")
    assert not matches("os:*", "grain", "m1", {})
    assert matches("os:*", "grain", "m1", {"os": ""})


def test_grain_needs_text() -> None:
    with pytest.raises(TargetError, match="grain target must be text"):
        check(["os:x"], "grain")
    assert not matches(["os:Debian"], "grain", "m1", GRAINS)


# --- ipcidr -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("tgt", "hit"),
    [
        ("10.0.0.0/8", True),
        ("10.0.0.4/30", True),
        ("10.0.0.8/30", False),
        ("10.0.0.5", True),  # a single address
        ("10.0.0.6", False),
        ("192.168.0.0/16", False),
        ("::1", True),  # IPv6
        ("0:0::1", True),  # compared as addresses, not text
        ("fe80::/10", True),
        ("2001:db8::/32", False),
        ("0.0.0.0/0", True),
    ],
)
def test_ipcidr(tgt: str, hit: bool) -> None:
    assert matches(tgt, "ipcidr", "m1", GRAINS) is hit


def test_ipcidr_without_addresses() -> None:
    assert not matches("10.0.0.0/8", "ipcidr", "m1", {})
    assert not matches("10.0.0.0/8", "ipcidr", "m1", {"ipv4": ["junk", None]})
    assert matches("10.0.0.0/8", "ipcidr", "m1", {"ipv4": "10.1.2.3"})
    assert not matches("::/0", "ipcidr", "m1", {"ipv4": ["10.1.2.3"]})


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "10.0.0.1/8", "nonsense", "", "10.0.0.0/8,x"])
def test_ipcidr_invalid_is_target_error(bad: str) -> None:
    with pytest.raises(TargetError, match="invalid IP address or network") as info:
        check(bad, "ipcidr")
    assert repr(bad) in str(info.value)


def test_ipcidr_host_bits_suggest_the_network() -> None:
    with pytest.raises(TargetError, match=r"did you mean 10\.0\.0\.0/8"):
        check("10.0.0.1/8", "ipcidr")


# --- compound ----------------------------------------------------------------

CIDS = ["web1", "web2", "web3", "db1", "db2", "mail"]


def _grains_of(mid: str) -> dict[str, object]:
    return {
        "os": "Debian" if mid in ("web1", "web2", "db1") else "RedHat",
        "role": "db" if mid.startswith("db") else "web",
        "ipv4": ["10.0.1.1"] if mid.startswith("web") else ["10.0.2.1"],
    }


def _pillar_of(mid: str) -> dict[str, object]:
    return {"env": "prod" if mid.endswith("1") else "dev"}


def _sel(tgt: str, nodegroups: dict[str, object] | None = None) -> list[str]:
    got = [
        m
        for m in CIDS
        if matches(tgt, "compound", m, _grains_of(m), _pillar_of(m), nodegroups=nodegroups)
    ]
    res = resolve(
        tgt, "compound", CIDS, lambda m: (_grains_of(m), _pillar_of(m)), nodegroups=nodegroups
    )
    assert res.expected == sorted(got) and res.unknown == []
    return sorted(got)


@pytest.mark.parametrize(
    ("tgt", "ids"),
    [
        ("web*", ["web1", "web2", "web3"]),
        ("G@os:Debian", ["db1", "web1", "web2"]),
        ("G@os:debian and web*", ["web1", "web2"]),
        ("E@^db", ["db1", "db2"]),
        ("L@mail,db2", ["db2", "mail"]),
        ("P@os:^red", ["db2", "mail", "web3"]),
        ("I@env:prod", ["db1", "web1"]),
        ("J@env:^d", ["db2", "mail", "web2", "web3"]),
        ("S@10.0.2.0/24", ["db1", "db2", "mail"]),
        ("G;@os;Debian", ["db1", "web1", "web2"]),  # another delimiter
        ("not web*", ["db1", "db2", "mail"]),
        ("web* and not G@os:Debian", ["web3"]),
        ("web* not G@os:Debian", ["web3"]),  # Salt: 'a not b' is 'a and not b'
        ("not not web1", ["web1"]),
        ("web1 or web2 or mail", ["mail", "web1", "web2"]),
        ("web1 and web2", []),
    ],
)
def test_compound(tgt: str, ids: list[str]) -> None:
    assert _sel(tgt) == ids


def test_compound_precedence() -> None:
    # and binds tighter than or
    assert _sel("mail or web* and G@os:Debian") == _sel("mail or (web* and G@os:Debian)")
    assert _sel("mail or web* and G@os:Debian") == ["mail", "web1", "web2"]
    assert _sel("(mail or web*) and G@os:Debian") == ["web1", "web2"]
    assert _sel("web* and G@os:Debian or mail") == ["mail", "web1", "web2"]
    # not binds tighter than and
    assert _sel("not web* and G@os:Debian") == _sel("(not web*) and G@os:Debian")
    assert _sel("not web* and G@os:Debian") == ["db1"]
    assert _sel("not (web* and G@os:Debian)") == ["db1", "db2", "mail", "web3"]
    assert _sel("not web1 or web1") == CIDS_SORTED


CIDS_SORTED = sorted(CIDS)


@pytest.mark.parametrize(
    "tgt",
    [
        "(G@os:Debian or L@mail,db2) and not web2",
        "( G@os:Debian or L@mail,db2 ) and not web2",
        "((G@os:Debian or L@mail,db2)) and not web2",
        "(G@os:Debian or L@mail,db2 ) and not web2",
        "(G@os:Debian or (L@mail,db2)) and (not web2)",
        "( ( G@os:Debian ) or L@mail,db2 ) and not ( web2 )",
        "(G@os:Debian or(L@mail,db2)) and not(web2)",
    ],
)
def test_compound_parentheses_with_or_without_spaces(tgt: str) -> None:
    assert _sel(tgt) == ["db1", "db2", "mail", "web1"]


@pytest.mark.parametrize(
    ("tgt", "ids"),
    [
        ("E@^(web|db)[12]$", ["db1", "db2", "web1", "web2"]),
        ("(E@^(web|db)[12]$)", ["db1", "db2", "web1", "web2"]),
        ("( E@^(web|db)[12]$ ) and not E@(db)", ["web1", "web2"]),
        ("(E@^(web|db)1$ or mail)", ["db1", "mail", "web1"]),
        (r"E@^web\d$ and not E@^web[(3)]", ["web1", "web2"]),  # ')' in a class is no group
        ("P@os:^(deb|red)ian$", ["db1", "web1", "web2"]),
    ],
)
def test_compound_keeps_regex_parentheses(tgt: str, ids: list[str]) -> None:
    assert _sel(tgt) == ids


def test_compound_from_list_of_words() -> None:
    assert matches(["G@os:Debian", "and", "web*"], "compound", "web1", _grains_of("web1"))
    assert not matches(["G@os:Debian", "and", "web*"], "compound", "db1", _grains_of("db1"))


@pytest.mark.parametrize(
    ("tgt", "token", "pos"),
    [
        ("and", "'and'", 1),
        ("or web1", "'or'", 1),
        ("a and", "'and'", 3),
        ("a or", "'or'", 3),
        ("(a", "'('", 1),
        ("a and (b or c", "'('", 7),
        ("a)", "')'", 2),
        ("a ) and b", "')'", 3),
        ("not", "'not'", 1),
        ("a and not", "'not'", 7),
        ("G@", "'G@'", 1),
        ("web1 and E@", "'E@'", 10),
        ("X@foo", "'X@'", 1),
        ("web1 or Z@x", "'Z@'", 9),
        ("", "nothing to match", 1),
        ("   ", "nothing to match", 1),
        ("a b", "'b'", 3),
        ("(a) (b)", "'('", 5),
        ("G@os:x and and L@a", "'and'", 12),
        ("( )", "')'", 3),
        ("()", "')'", 2),
        ("a and or b", "'or'", 7),
        ("E@^(x", "'E@^(x'", 1),
        ("web1 or S@10.0.0.0/33", "'S@10.0.0.0/33'", 9),
        ("L|@a,b", "'L|@'", 1),
    ],
)
def test_malformed_compound_names_token_and_position(tgt: str, token: str, pos: int) -> None:
    with pytest.raises(TargetError) as info:
        check(tgt, "compound")
    message = str(info.value)
    assert message.startswith("compound target: ")
    assert token in message
    assert f"at position {pos} in {tgt!r}" in message
    assert info.value.exit_code == 2
    with pytest.raises(TargetError):
        matches(tgt, "compound", "a")
    with pytest.raises(TargetError):
        resolve(tgt, "compound", ["a"])


def test_compound_unknown_matcher_lists_the_known_ones() -> None:
    with pytest.raises(TargetError, match="G@ P@ I@ J@ E@ L@ S@ N@"):
        check("X@foo", "compound")


def test_compound_parse_is_cached() -> None:
    from fluxforge.targeting import compound

    compound.parse.cache_clear()
    for mid in CIDS:
        matches("G@os:Debian and web* or L@x,y", "compound", mid, _grains_of(mid))
    info = compound.parse.cache_info()
    assert info.misses == 1 and info.hits == len(CIDS) - 1


# --- nodegroups --------------------------------------------------------------

NODEGROUPS: dict[str, object] = {
    "webs": "web*",
    "debian": "G@os:Debian",
    "dbs": ["db1", "db2"],  # a list of ids is L@db1,db2
    "debian_webs": "N@webs and N@debian",
    "nested": "N@debian_webs or N@dbs",
    "words": ["G@os:RedHat", "and", "not", "web*"],  # a compound written as words
    "self": "web1 or N@self",
    "loop_a": "N@loop_b",
    "loop_b": "mail and N@loop_c",
    "loop_c": ["N@loop_a"],
    "broken": "web1 and",
    "bad_type": 3,
    "empty": [],
}


def test_nodegroup_expansion() -> None:
    assert expand_nodegroups("webs", "nodegroup", NODEGROUPS) == ("web*", "compound")
    assert expand_nodegroups("dbs", "nodegroup", NODEGROUPS) == ("L@db1,db2", "compound")
    assert expand_nodegroups("nested", "nodegroup", NODEGROUPS) == (
        "( ( web* ) and ( G@os:Debian ) ) or ( L@db1,db2 )",
        "compound",
    )
    assert expand_nodegroups("(N@webs) and not N@dbs", "compound", NODEGROUPS) == (
        "( ( web* ) ) and not ( L@db1,db2 )",
        "compound",
    )


def test_non_nodegroup_targets_come_back_unchanged() -> None:
    cases: list[tuple[str | list[str], str]] = [
        ("web*", "glob"),
        (["a", "b"], "list"),
        ("G@os:x and  web*", "compound"),
        ("N@webs", "grain"),
    ]
    for tgt, tgt_type in cases:
        assert expand_nodegroups(tgt, tgt_type, NODEGROUPS) == (tgt, tgt_type)


@pytest.mark.parametrize(
    ("name", "ids"),
    [
        ("webs", ["web1", "web2", "web3"]),
        ("dbs", ["db1", "db2"]),
        ("debian_webs", ["web1", "web2"]),
        ("nested", ["db1", "db2", "web1", "web2"]),
        ("words", ["db2", "mail"]),
    ],
)
def test_nodegroup_matching(name: str, ids: list[str]) -> None:
    assert _sel(f"N@{name}", NODEGROUPS) == ids
    got = [m for m in CIDS if matches(name, "nodegroup", m, _grains_of(m), nodegroups=NODEGROUPS)]
    assert sorted(got) == ids
    assert resolve(name, "nodegroup", CIDS, lambda m: (_grains_of(m), None), NODEGROUPS) == (
        Resolution(ids, [])
    )
    # the master expands, the minion evaluates without the nodegroups
    tgt, tgt_type = expand_nodegroups(name, "nodegroup", NODEGROUPS)
    assert sorted(m for m in CIDS if matches(tgt, tgt_type, m, _grains_of(m))) == ids


def test_nodegroup_inside_compound() -> None:
    assert _sel("N@dbs and not E@.*2$ or mail", NODEGROUPS) == ["db1", "mail"]


@pytest.mark.parametrize(
    ("tgt", "tgt_type", "needle"),
    [
        ("nope", "nodegroup", "unknown nodegroup 'nope'; known nodegroups: bad_type, broken,"),
        ("web1 or N@nope", "compound", "unknown nodegroup 'nope'"),
        ("self", "nodegroup", "nodegroup cycle: self -> self"),
        ("N@loop_a", "compound", "nodegroup cycle: loop_a -> loop_b -> loop_c -> loop_a"),
        ("broken", "nodegroup", "nodegroup 'broken': compound target: nothing after 'and'"),
        ("bad_type", "nodegroup", "nodegroup 'bad_type' must be a compound expression"),
        ("empty", "nodegroup", "nodegroup 'empty' is empty"),
        (["webs"], "nodegroup", "nodegroup target must be text"),
    ],
)
def test_nodegroup_errors(tgt: str, tgt_type: str, needle: str) -> None:
    with pytest.raises(TargetError) as info:
        check(tgt, tgt_type, NODEGROUPS)
    assert needle in str(info.value)
    if isinstance(tgt, str):
        with pytest.raises(TargetError):
            expand_nodegroups(tgt, tgt_type, NODEGROUPS)
        with pytest.raises(TargetError):
            resolve(tgt, tgt_type, CIDS, nodegroups=NODEGROUPS)


def test_nodegroup_unknown_without_nodegroups() -> None:
    with pytest.raises(TargetError, match=r"unknown nodegroup 'webs'; known nodegroups: \(none"):
        matches("N@webs", "compound", "web1")
    with pytest.raises(TargetError, match="unknown nodegroup 'webs'"):
        check("webs", "nodegroup")


# --- three-valued decisions with unknown data ---------------------------------


def test_decide_is_three_valued() -> None:
    g = {"os": "Debian"}
    assert decide("G@os:Debian", "compound", "web1", g, None) is True
    assert decide("G@os:Debian", "compound", "web1", None, None) is None
    assert decide("os:Debian", "grain", "web1", None, {}) is None
    assert decide("env:prod", "pillar", "web1", g, None) is None
    assert decide("env:prod", "pillar", "web1", None, {"env": "prod"}) is True
    assert decide("10.0.0.0/8", "ipcidr", "web1", None, None) is None
    assert decide("web*", "glob", "web1", None, None) is True
    # Kleene logic
    assert decide("not G@os:Debian", "compound", "web1", None, None) is None
    assert decide("db* and G@os:Debian", "compound", "web1", None, None) is False
    assert decide("web* and G@os:Debian", "compound", "web1", None, None) is None
    assert decide("web* or G@os:Debian", "compound", "web1", None, None) is True
    assert decide("db* or G@os:Debian", "compound", "web1", None, None) is None
    assert decide("G@os:x or I@a:b", "compound", "web1", {"os": "x"}, None) is True
    assert decide("G@os:x and I@a:b", "compound", "web1", {"os": "y"}, None) is False
    assert decide("not (web* and G@os:x)", "compound", "web1", None, None) is None
    assert decide("*", "glob", "web1", None, None, nodegroups={}) is True


def test_matches_treats_unknown_data_as_empty() -> None:
    assert matches("not G@os:Debian", "compound", "web1") is True
    assert matches("G@os:*", "compound", "web1") is False


def test_resolve_with_unknown_data() -> None:
    known = {"web1": ({"os": "Debian"}, {"env": "prod"}), "db1": ({"os": "RedHat"}, None)}
    asked: list[str] = []

    def data(mid: str) -> tuple[dict[str, str] | None, dict[str, str] | None]:
        asked.append(mid)
        return known.get(mid, (None, None))

    ids = ["web1", "web2", "db1", "db2", "mail"]
    res = resolve("G@os:Debian and not mail", "compound", ids, data)
    assert res == Resolution(expected=["web1"], unknown=["db2", "web2"])
    assert "mail" not in asked  # decided from the id alone: no data read
    assert resolve("I@env:prod or web2", "compound", ids, data) == Resolution(
        ["web1", "web2"], ["db1", "db2", "mail"]
    )
    assert resolve("os:Debian", "grain", ids) == Resolution([], sorted(ids))
    assert resolve("os:Debian", "grain", ids, data) == Resolution(["web1"], ["db2", "mail", "web2"])
    assert resolve("web*", "glob", ids) == Resolution(["web1", "web2"], [])
    assert expected("os:Debian", "grain", ids) == []


def test_resolve_checks_the_target() -> None:
    with pytest.raises(TargetError, match="unknown target type"):
        resolve("*", "grian", ["a"])
    with pytest.raises(TargetError, match="invalid regular expression"):
        resolve("os:(x", "grain_pcre", ["a"])


def test_resolve_is_cheap_for_id_targets() -> None:
    ids = [f"node{i:05d}" for i in range(5000)]
    tgts = [("node01*", "glob"), (",".join(ids[::2]), "list"), ("node1", "pcre")]
    for tgt, tgt_type in tgts:
        resolve(tgt, tgt_type, ids)  # warm the caches
    start = time.perf_counter()
    for tgt, tgt_type in tgts:
        for _ in range(5):
            resolve(tgt, tgt_type, ids)
    assert (time.perf_counter() - start) / 15 < 0.02  # a few ms each; generous for slow CI
    assert len(resolve("node01*", "glob", ids).expected) == 1000


def test_target_types() -> None:
    assert TARGET_TYPES == (
        "glob",
        "pcre",
        "list",
        "grain",
        "grain_pcre",
        "pillar",
        "pillar_pcre",
        "ipcidr",
        "nodegroup",
        "compound",
    )


def test_data_matches_with_another_delimiter() -> None:
    assert data_matches(GRAINS, "deep|a|b|c", delimiter="|")
    assert data_matches(GRAINS, "url|https://x.example:8080/*", delimiter="|")
    assert not data_matches(GRAINS, "deep:a:b:c", delimiter="|")
    assert data_matches(GRAINS, "deep.a.b.C$", delimiter=".", regex=True)
    with pytest.raises(TargetError, match="delimiter must not be empty"):
        data_matches(GRAINS, "os:x", delimiter="")
