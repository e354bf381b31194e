"""Salt's Jinja filters, tests, load_* blocks and path variables, as Salt 3008.5 gives them.

The expected texts of the table were produced by ``salt-call --local
slsutil.renderer`` on the same template lines (``default_renderer=jinja``).
"""

from __future__ import annotations

from typing import Any

import pytest

from fluxforge.errors import RenderError
from fluxforge.highstate import template
from fluxforge.render import saltjinja
from fluxforge.render.renderers import render
from fluxforge.render.untrusted import Tainted


def text(source: str, **context: Any) -> str:
    out: str = render(source, name="t.jinja", context=context, default="jinja")
    return out


def data(source: str, **values: Any) -> Any:
    return render(source, name="web.sls", context={}, untrusted_context=values)


def fails(source: str) -> str:
    with pytest.raises(RenderError) as info:
        render(source, name="t.jinja", context={}, default="jinja")
    return str(info.value)


SALT_OUTPUTS = [
    ("{{ {'a':{'b':[1,{'c':5}]}}|traverse('a:b:1:c') }}", "5"),
    ("{{ {'a':1}|traverse('x:y', 'dflt') }}", "dflt"),
    ("{{ {'a':{'b':2}}|traverse('a/b', delimiter='/') }}", "2"),
    ("{{ {'l':[{'k':1},{'m':2}]}|traverse('l:m') }}", "2"),
    ("{{ {80: 'http'}|traverse('80') }}", "http"),
    ('{{ "it\'s"|yaml_squote }}', "'it''s'"),
    ("{{ 'a\"b'|yaml_dquote }}", '"a\\"b"'),
    ("{{ 'yes'|yaml_encode }}|{{ 3|yaml_encode }}|{{ 'a: b'|yaml_encode }}", '"yes"|3|"a: b"'),
    ("{{ 'Yes'|to_bool }}{{ 0|to_bool }}{{ [1]|to_bool }}{{ 'on'|to_bool }}", "TrueFalseTrueFalse"),
    ("{{ [1]|is_iter }}{{ 'ab'|is_iter }}{{ {}|is_iter }}{{ 3|is_iter }}", "TrueFalseTrueFalse"),
    ("{{ [True,False,True]|exactly_n_true(2) }}{{ [True,1,0]|exactly_n_true(1) }}", "TrueFalse"),
    ("{{ 'abc'|md5 }}", "900150983cd24fb0d6963f7d28e17f72"),
    ("{{ 'abc'|sha256 }}", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    ("{{ 'abc'|base64_encode }}|{{ 'YWJj'|base64_decode }}", "YWJj|abc"),
    ("{{ '2024-01-02'|strftime('%d/%m') }}", "02/01"),
    ("{{ \"a b'c\"|quote }}|{{ 'abc'|quote }}", "'a b'\"'\"'c'|abc"),
    ("{{ [1,2,3]|combinations(2)|list }}", "[(1, 2), (1, 3), (2, 3)]"),
    ("{{ [1,2,3,4]|difference([2,4,6]) }}", "[1, 3]"),
    ("{{ [1,2,3,4]|intersect([2,4,6]) }}", "[2, 4]"),
    ("{{ [1,2,3,4]|union([2,4,6]) }}", "[1, 2, 3, 4, 6]"),
    ("{{ [1,[2,[3,[4]]],[]]|flatten }}", "[1, 2, 3, 4]"),
    ("{{ [1,[2,[3,[4]]]]|flatten(levels=1) }}", "[1, 2, [3, [4]]]"),
    ("{{ [1,None,[]]|flatten(preserve_nulls=True) }}", "[1, None]"),
    ("{{ [1,2,3,4]|avg }}|{{ ['b','A','a']|min }}|{{ [1,5,2]|max }}", "2.5|A|5"),
    ("{{ 'example'|uuid }}", "9ade8beb-355a-50d8-9011-1c99848a7719"),
    (
        "{{ '10.0.0.1'|is_ip }}{{ 'fe80::1'|is_ip }}{{ 'x'|is_ip }}{{ '10.0.0.0/8'|is_ip }}",
        "TrueTrueFalseTrue",
    ),
    (
        "{{ ['10.0.0.1','x','fe80::1','192.168.1.0/24']|ipaddr }}",
        "['10.0.0.1', '192.168.1.0/24', 'fe80::1']",
    ),
    ("{{ '10.0.0.1'|ipaddr }}|{{ 'x'|ipaddr }}", "10.0.0.1|None"),
    ("{{ ['10.0.0.1','8.8.8.8','fe80::1']|ipaddr('private') }}", "['10.0.0.1', 'fe80::1']"),
    ("{{ '192.168.1.0/30'|network_hosts }}", "['192.168.1.1', '192.168.1.2']"),
    ("{{ 'a'|sequence }}{{ [1]|sequence }}", "['a'][1]"),
    ("{{ [3,1,3,2]|unique }}", "[3, 1, 2]"),
    ("{{ {'name':'x','mode':'0644'}|dict_to_sls_yaml_params }}", "- name: x\n- mode: '0644'"),
]


@pytest.mark.parametrize(("source", "expected"), SALT_OUTPUTS)
def test_filters_give_what_salt_gives(source: str, expected: str) -> None:
    assert text(source) == expected


def test_min_and_max_take_jinja_arguments_too() -> None:
    users = [{"n": "b", "uid": 2}, {"n": "a", "uid": 1}]
    assert text("{{ users|min(attribute='uid') }}", users=users) == "{'n': 'a', 'uid': 1}"
    assert text("{{ ['b','A','a']|max(case_sensitive=True) }}") == "b"


def test_strftime_reads_timestamps_and_dates_and_names_what_it_cannot() -> None:
    import datetime

    when = datetime.datetime(2024, 5, 6, 7, 8)
    assert text("{{ d|strftime('%Y %H:%M') }}", d=when) == "2024 07:08"
    assert text("{{ t|strftime }}", t=when.timestamp()) == "2024-05-06"
    message = fails("{{ 'next tuesday'|strftime }}")
    assert "t.jinja, line 1: strftime: cannot read 'next tuesday' as a date" in message


def test_network_hosts_refuses_a_network_too_big_to_list() -> None:
    assert len(saltjinja.network_hosts("10.0.0.0/16")) == 65534
    message = fails("{{ '10.0.0.0/8'|network_hosts }}")
    assert "network_hosts: 10.0.0.0/8 has 16777216 addresses" in message


def test_filter_problems_are_one_located_line() -> None:
    assert "base64_decode: not base64" in fails("{{ 'a'|base64_decode }}")
    assert "avg: the list is empty" in fails("{{ []|avg }}")
    message = fails("x\n{{ [1]|dict_to_sls_yaml_params }}")
    assert message.startswith("t.jinja, line 2: dict_to_sls_yaml_params takes a mapping")


def test_load_blocks_parse_their_rendered_body() -> None:
    source = (
        "{% load_yaml as cfg %}\nport: {{ 80 + 1 }}\nnames: [a, b]\n{% endload %}"
        '{% load_json as j %}{"k": [1, 2]}{% endload %}'
        "{% load_text as t %}hello {{ who }}{% endload %}"
        "{{ cfg.port + 1 }} {{ cfg.names|join('+') }} {{ j.k|sum }} {{ t|upper }}"
    )
    assert text(source, who="you") == "82 a+b 3 HELLO YOU"


def test_a_bad_load_yaml_block_names_the_template_line() -> None:
    message = fails("line one\n{% load_yaml as x %}\na: [1\n{% endload %}{{ x }}")
    assert message.startswith("t.jinja, line ")
    assert "load_yaml:" in message
    assert "endload" in fails("{% load_yaml as x %}a: 1")


def test_untrusted_values_stay_data_through_the_new_filters_and_blocks() -> None:
    hostile = "x\ninjected: true"
    source = (
        "{% load_text as t %}{{ g.v }}{% endload %}"
        "{% load_yaml as y %}k: {{ g.v }}{% endload %}"
        "a: {{ {'p': {'q': g.v}}|traverse('p:q') }}\n"
        "b: {{ [[g.v]]|flatten|first }}\n"
        "c: {{ t }}\n"
        "d: {{ y.k }}\n"
        "e: {{ [g.v]|union([g.v])|first }}\n"
        "f: {{ g.v|yaml_squote }}\n"
    )
    out = data(source, g={"v": hostile})
    assert out == {k: hostile for k in "abcdef"}


def test_load_text_of_untrusted_values_is_untrusted() -> None:
    seen: list[Any] = []
    source = "{% load_text as t %}{{ g.v }}{% endload %}{% do seen.append(t) %}k: v\n"
    render(source, name="web.sls", context={"seen": seen}, untrusted_context={"g": {"v": "a"}})
    assert seen == ["a"] and isinstance(seen[0], Tainted)
    assert not isinstance(saltjinja.load_text("plain"), Tainted)


def test_salt_tests() -> None:
    source = (
        "{{ 'web01' is match('web\\\\d+') }} {{ 'db' is match('web') }} "
        "{{ 'WEB' is match('web', ignorecase=True) }} {{ 3 is equalto 3 }} "
        "{{ '::1' is is_ip }} {{ '::1' is is_ipv4 }} {{ 'ab' is is_iter }} {{ [1] is is_list }}"
    )
    assert text(source) == "True False True True True False False True"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("", "top.sls", "/c/top.sls"),
            {
                "tplpath": "/c/top.sls",
                "tplfile": "top.sls",
                "tpldir": ".",
                "tpldot": "",
                "tplroot": ".",
                "slspath": "",
                "slsdotpath": "",
                "slscolonpath": "",
                "sls_path": "",
            },
        ),
        (
            ("web", "web/init.sls", "/c/web/init.sls"),
            {
                "tplpath": "/c/web/init.sls",
                "tplfile": "web/init.sls",
                "tpldir": "web",
                "tpldot": "web",
                "tplroot": "web",
                "slspath": "web",
                "slsdotpath": "web",
                "slscolonpath": "web",
                "sls_path": "web",
            },
        ),
        (
            ("a.b.c", "a/b/c.sls", "/c/a/b/c.sls"),
            {
                "tplpath": "/c/a/b/c.sls",
                "tplfile": "a/b/c.sls",
                "tpldir": "a/b",
                "tpldot": "a.b",
                "tplroot": "a",
                "slspath": "a/b",
                "slsdotpath": "a.b",
                "slscolonpath": "a:b",
                "sls_path": "a_b",
            },
        ),
        (
            ("a.b", "a/map.jinja", "/c/a/map.jinja"),
            {"tplpath": "/c/a/map.jinja", "tplfile": "a.b", "tpldir": "."},
        ),
        (
            ("a.b", "", ""),
            {"slspath": "a/b", "slsdotpath": "a.b", "slscolonpath": "a:b", "sls_path": "a_b"},
        ),
    ],
)
def test_sls_variables_are_salts(args: tuple[str, str, str], expected: dict[str, str]) -> None:
    # Each expected dict is Salt's generate_sls_context for the same file, plus tplroot.
    assert template.sls_variables(*args) == expected


class _Funcs:
    def __init__(self) -> None:
        self.table = {"test.echo": lambda text: text, "grains.get": lambda key: f"g:{key}"}

    def get(self, name: str) -> Any:
        if name not in self.table:
            raise LookupError(f"no function {name}")
        return self.table[name]

    def names(self, module: str | None = None) -> list[str]:
        return sorted(n for n in self.table if module is None or n.startswith(f"{module}."))


class _Ctx:
    funcs = _Funcs()


def test_salt_functions_by_item_and_by_attribute_give_untrusted_results() -> None:
    functions = template.FunctionsProxy(_Ctx())  # type: ignore[arg-type]
    source = (
        "a: {{ salt.test.echo(v) }}\n"
        "b: {{ salt['test.echo'](v) }}\n"
        "c: {{ salt.grains['get']('os') }}\n"
        "d: {{ salt.test|list }}\n"
    )
    hostile = "x\ninjected: true"
    out = render(
        source, name="web.sls", context={"v": hostile}, untrusted_context={"salt": functions}
    )
    assert out == {"a": hostile, "b": hostile, "c": "g:os", "d": ["echo"]}
    with pytest.raises(RenderError) as info:
        render(
            "{{ salt.test.nope() }}", name="t", context={}, untrusted_context={"salt": functions}
        )
    assert "no function test.nope" in str(info.value)
    # Private names are not reachable through the attribute form.
    with pytest.raises(RenderError):
        render("{{ salt._ctx }}", name="t", context={}, untrusted_context={"salt": functions})
    assert not hasattr(functions, "_private") and not hasattr(functions.test, "_module_x")


def test_bytes_decoded_from_an_untrusted_value_stay_data_in_flow_context() -> None:
    import base64

    payload = base64.b64encode(b"a, injected: 1\xff").decode()
    out = data("m: {k: {{ g.v | base64_decode }}}\n", g={"v": payload})
    assert out == {"m": {"k": repr(b"a, injected: 1\xff")}}
