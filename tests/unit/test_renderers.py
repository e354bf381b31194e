"""Renderers: pipelines, types, filters, imports, and errors that name file and line."""

from __future__ import annotations

import copy
import json
import pickle
import shlex
from collections.abc import Iterator, Mapping
from typing import Any

import jinja2
import pytest
import yaml

from fluxforge.errors import RenderError
from fluxforge.host.fileops import normalize_mode
from fluxforge.render import renderers
from fluxforge.render.renderers import FILTERS, RENDERERS, parse_json, parse_yaml, render


def r(text: str, **context: Any) -> Any:
    return render(text, name="web.sls", context=context)


def fails(text: str, *, show_source: bool = True, **kwargs: Any) -> str:
    with pytest.raises(RenderError) as info:
        render(text, name="web.sls", context={}, show_source=show_source, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


# --- pipelines ----------------------------------------------------------------------


def test_default_pipeline_is_jinja_then_yaml_and_keeps_types() -> None:
    text = (
        "port: {{ port }}\n"
        "hosts: {{ hosts }}\n"
        "enabled: true\n"
        "ratio: 0.5\n"
        "name: '{{ name }}'\n"
        "when: 2024-01-31\n"
        "nested: {a: {b: [1, two]}}\n"
    )
    got = r(text, port=8080, hosts=["a", "b"], name="web")
    assert got == {
        "port": 8080,
        "hosts": ["a", "b"],
        "enabled": True,
        "ratio": 0.5,
        "name": "web",
        "when": "2024-01-31",  # Salt keeps dates as the text written
        "nested": {"a": {"b": [1, "two"]}},
    }
    assert type(got["port"]) is int


def test_yaml_loads_as_salt_loads_sls() -> None:
    """Salt 3008's loader: leading zeros are decimal, dates stay text, yes/off are booleans."""
    text = "a: 0644\nb: 00\nc: 0x1f\nd: 0b11\ne: -0644\nf: '0644'\ng: 2024-01-01\nh: yes\ni: off\n"
    got = r(text)
    # Each value is what Salt 3008.5's salt.utils.yaml.safe_load gives for the same text.
    assert got == {
        "a": 644,
        "b": 0,
        "c": 31,
        "d": 3,
        "e": -420,
        "f": "0644",
        "g": "2024-01-01",
        "h": True,
        "i": False,
    }


def test_an_unquoted_leading_zero_mode_is_the_mode_written() -> None:
    assert normalize_mode(r("mode: 0644\n")["mode"]) == "0644"
    assert normalize_mode(r("mode: 0755\n")["mode"]) == "0755"


def test_shebang_yaml_skips_jinja() -> None:
    assert r("#!yaml\na: '{{ x }}'\n", x=1) == {"a": "{{ x }}"}


def test_shebang_json_and_jinja_json() -> None:
    assert r('#!json\n{"a": [1, 2], "b": null}') == {"a": [1, 2], "b": None}
    assert r('#!jinja|json\n{"n": {{ n }}}', n=3) == {"n": 3}
    assert r("#! jinja | json\n[{{ n }}]", n=4) == [4]


def test_shebang_jinja_gives_text() -> None:
    out = r("#!jinja\nhello {{ who }}\n", who="world")
    assert out == "\nhello world\n"


def test_default_pipeline_can_be_changed() -> None:
    assert render("a: '{{ x }}'", name="f", context={"x": 1}, default="yaml") == {"a": "{{ x }}"}
    assert render('{"a": {{ x }}}', name="f", context={"x": 1}, default="jinja|json") == {"a": 1}


def test_unknown_renderer_names_the_known_ones() -> None:
    message = fails("#!py\nx = 1\n")
    assert message == "web.sls, line 1: unknown renderer 'py'; known: jinja, json, yaml"


def test_renderer_needing_text_cannot_follow_data() -> None:
    assert "needs text" in fails("#!yaml|jinja\na: 1\n")


def test_empty_document_is_an_empty_mapping() -> None:
    assert r("") == {}
    assert r("# only a comment\n") == {}
    assert r("{% if false %}a: 1{% endif %}") == {}
    assert r("#!json\n") == {}


def test_renderer_registry_can_grow() -> None:
    RENDERERS["upper"] = renderers.Renderer(lambda text, src: text.upper(), gives_text=True)
    try:
        assert r("#!upper|yaml\na: b\n") == {"A": "B"}
    finally:
        del RENDERERS["upper"]


# --- Jinja set-up ------------------------------------------------------------------------


def test_undefined_is_an_error_like_salt_and_lenient_on_request() -> None:
    message = fails("a: 1\nb: {{ nope }}\n")
    assert message == "web.sls, line 2: 'nope' is undefined: b: {{ nope }}"
    lenient = render("a: '{{ nope }}'", name="f", context={}, strict=False)
    assert lenient == {"a": ""}
    assert r("a: {{ d.get('x', 5) }}\nb: {{ 'y' in d }}\n", d={}) == {"a": 5, "b": False}


def test_do_and_loop_controls_and_no_autoescape() -> None:
    text = (
        "{% set items = [] %}\n"
        "{% for i in range(10) %}{% if i == 3 %}{% break %}{% endif %}"
        "{% if i == 1 %}{% continue %}{% endif %}{% do items.append(i) %}{% endfor %}\n"
        "items: {{ items }}\n"
        "html: '{{ '<b>&' }}'\n"
    )
    assert r(text) == {"items": [0, 2], "html": "<b>&"}


def test_blocks_keep_their_whitespace_as_in_salt() -> None:
    # trim_blocks/lstrip_blocks are off: a block line leaves its newline.
    assert r("#!jinja\n  {% if true %}\nx\n{% endif %}\n") == "\n  \nx\n\n"


def test_sandbox_refuses_unsafe_attributes() -> None:
    assert "unsafe" in fails("a: {{ ''.__class__.__mro__ }}\n")


# --- filters ----------------------------------------------------------------------------


def test_yaml_and_json_filters() -> None:
    text = "a: {{ data | yaml }}\nb: {{ 'x' | yaml }}\nc: '{{ data | json }}'\n"
    data = {"k": [1, "two"], "z": {"y": None}}
    got = r(text, data=data)
    assert got["a"] == data
    assert got["b"] == "x"
    assert got["c"] == '{"k": [1, "two"], "z": {"y": null}}'
    assert FILTERS["yaml"]("x") == "x"  # no "..." end marker
    long = {"text": "word " * 40, "list": list(range(40))}
    assert r("a: {{ long | yaml }}\n", long=long) == {"a": long}
    assert FILTERS["yaml"]({"a": 1}, False) == "a: 1"


def test_load_yaml_and_load_json_filters() -> None:
    text = (
        "{% set y = 'a: 1\\nb: [x]' | load_yaml %}{% set j = '{\"n\": 2}' | load_json %}\n"
        "y: {{ y | json }}\nj: {{ j.n }}\n"
    )
    assert r(text) == {"y": {"a": 1, "b": ["x"]}, "j": 2}
    assert "load_yaml" in fails("{% set y = 'a: [' | load_yaml %}\n")


def test_regex_filters() -> None:
    text = (
        "rep: {{ 'web-01.example' | regex_replace('^web-(\\\\d+).*$', 'node\\\\1') }}\n"
        "search: {{ 'os=Debian 12' | regex_search('(\\\\w+) (\\\\d+)') | list }}\n"
        "nosearch: {{ 'abc' | regex_search('z') is none }}\n"
        "match: {{ 'abc' | regex_match('A', ignorecase=True) | list }}\n"
        "start: {{ 'xabc' | regex_match('(a)') is none }}\n"
    )
    assert r(text) == {
        "rep": "node01",
        "search": ["Debian", "12"],
        "nosearch": True,
        "match": [],
        "start": True,
    }
    assert FILTERS["regex_match"]("abc", "(A)", ignorecase=True) == ("a",)
    assert "invalid regular expression" in fails("a: {{ 'x' | regex_search('(') }}\n")


def test_to_bool_unique_sequence_is_list() -> None:
    to_bool = FILTERS["to_bool"]
    assert [to_bool(v) for v in ("yes", "True", "1", "no", "0", "", None)] == [
        True,
        True,
        True,
        False,
        False,
        False,
        False,
    ]
    assert [to_bool(v) for v in (2, 0, -1, [1], [], {"a": 1}, {})] == [
        True,
        False,
        False,
        True,
        False,
        True,
        False,
    ]
    assert FILTERS["unique"]([3, 1, 3, 2, 1]) == [3, 1, 2]
    assert FILTERS["sequence"]("a") == ["a"]
    assert FILTERS["sequence"](("a", "b")) == ["a", "b"]
    assert r("a: {{ [1] | is_list }}\nb: {{ 'x' | is_list }}") == {
        "a": True,
        "b": False,
    }


def test_yaml_encode_and_dquote_round_trip_awkward_text() -> None:
    text = (
        "a: {{ 'yes' | yaml_encode }}\n"
        "b: {{ 'k: v # c' | yaml_encode }}\n"
        "c: {{ s | yaml_dquote }}\n"
    )
    assert r(text, s='say "hi"\tnow') == {"a": "yes", "b": "k: v # c", "c": 'say "hi"\tnow'}
    assert r("n: {{ 5 | yaml_encode }}\n") == {"n": 5}


def test_filter_registry_can_grow_after_first_render() -> None:
    r("a: 1")  # the environment exists already
    FILTERS["shout"] = lambda value: str(value).upper()
    try:
        assert r("a: {{ 'x' | shout }}") == {"a": "X"}
    finally:
        del FILTERS["shout"]


# --- imports through a loader -------------------------------------------------------------


def test_import_include_and_import_yaml_go_through_the_loader() -> None:
    loader = jinja2.DictLoader(
        {
            "map.jinja": "{% set pkgs = {'Debian': 'apache2', 'RedHat': 'httpd'} %}"
            "{% macro port() %}8080{% endmacro %}",
            "part.yaml": "extra: {{ 1 + 1 }}",
            "defaults.yaml": "user: www\nworkers: {{ 2 * 2 }}\n",
            "defaults.json": '{"a": [1]}',
        }
    )
    text = (
        "{% from 'map.jinja' import pkgs, port %}\n"
        "{% import_yaml 'defaults.yaml' as defaults %}\n"
        "{% import_json 'defaults.json' as dj %}\n"
        "pkg: {{ pkgs[os] }}\n"
        "port: {{ port() }}\n"
        "user: {{ defaults.user }}\n"
        "workers: {{ defaults.workers }}\n"
        "a: {{ dj.a }}\n"
        "{% include 'part.yaml' %}\n"
    )
    got = render(text, name="web.sls", context={"os": "Debian"}, loader=loader)
    assert got == {
        "pkg": "apache2",
        "port": 8080,
        "user": "www",
        "workers": 4,
        "a": [1],
        "extra": 2,
    }


def test_missing_import_names_template_and_line() -> None:
    message = fails("a: 1\n{% from 'nope.jinja' import x %}\n", loader=jinja2.DictLoader({}))
    assert message.startswith("web.sls, line 2: template 'nope.jinja' not found")


def test_error_inside_an_imported_template_names_both_files() -> None:
    loader = jinja2.DictLoader({"map.jinja": "{% macro m() %}\n{{ missing }}\n{% endmacro %}"})
    message = fails("a: 1\n\nb: {% from 'map.jinja' import m %}{{ m() }}\n", loader=loader)
    assert "map.jinja, line 2: 'missing' is undefined" in message
    assert "(imported by web.sls, line 3)" in message


def test_syntax_error_inside_an_imported_template_names_it() -> None:
    loader = jinja2.DictLoader({"map.jinja": "ok\n{% if %}\n"})
    message = fails("a: 1\n{% import 'map.jinja' as m %}\n", loader=loader)
    assert message.startswith("map.jinja, line 2: ")
    assert "{% if %}" in message
    assert "(imported by web.sls, line 2)" in message


# --- errors: file, line, source line ----------------------------------------------------------


def test_jinja_syntax_error_names_file_line_and_quotes_it() -> None:
    message = fails("a: 1\nb: 2\nc: {% if x %}\n")
    assert message.startswith("web.sls, line 3: ")
    assert message.endswith(": c: {% if x %}")
    message = fails("a: 1\nb: {{ x | nosuch }}\n")
    assert message == "web.sls, line 2: No filter named 'nosuch'.: b: {{ x | nosuch }}"


def test_jinja_runtime_error_names_the_template_line() -> None:
    with pytest.raises(RenderError) as info:
        render("a: 1\nb: 2\n\nc: {{ 10 // zero }}\n", name="web.sls", context={"zero": 0})
    message = str(info.value)
    assert message == (
        "web.sls, line 4: ZeroDivisionError: integer division or modulo by zero: "
        "c: {{ 10 // zero }}"
    )


def test_error_raised_by_a_filter_names_the_template_line() -> None:
    message = fails("a: 1\nb: {{ 'a: [' | load_yaml }}\n")
    assert message.startswith("web.sls, line 2: load_yaml: ")


def test_yaml_error_names_file_line_and_quotes_it() -> None:
    message = fails("#!yaml\na: 1\nb: c: d\n")
    assert message == "web.sls, line 3: mapping values are not allowed here: b: c: d"


def test_yaml_error_after_jinja_says_the_line_is_of_the_output() -> None:
    message = fails("a: {{ 1 }}\nb: c: d\n")
    assert message == (
        "web.sls, line 2 of the Jinja output: mapping values are not allowed here: b: c: d"
    )


def test_duplicate_yaml_key_is_refused_naming_key_and_lines() -> None:
    message = fails("a: 1\nsvc:\n  port: 1\n  port: 2\n")
    assert message.startswith("web.sls, line 4")
    assert "duplicate key 'port' (first given on line 3)" in message


def test_yaml_merge_key_override_is_not_a_duplicate() -> None:
    text = "#!yaml\nbase: &b {x: 1, y: 2}\nd:\n  <<: *b\n  x: 3\n"
    assert r(text) == {"base": {"x": 1, "y": 2}, "d": {"x": 3, "y": 2}}


def test_json_errors_name_file_and_line() -> None:
    assert (
        fails('#!json\n{"a": 1,\n "b" 2}') == "web.sls, line 3: Expecting ':' delimiter: \"b\" 2}"
    )
    message = fails('#!json\n{"a": 1,\n "a": 2}')
    assert message.startswith("web.sls, line 3: duplicate key 'a'")


def test_show_source_false_never_quotes_the_file() -> None:
    cases = [
        "a: 1\npassword: {{ 'hunter2' | nosuch }}\n",  # Jinja syntax
        "a: 1\npassword: {{ 'hunter2' + none_such }}\n",  # undefined at run time
        "#!yaml\na: 1\npassword: hunter2: x\n",  # YAML
        "a: 1\npassword: hunter2\npassword: hunter2\n",  # duplicate key
        '#!json\n{"password": "hunter2",\n "x" 1}',  # JSON
    ]
    for text in cases:
        message = fails(text, show_source=False)
        assert message.startswith("web.sls, line ")
        assert "hunter2" not in message, message


def test_show_source_false_hides_the_text_of_other_exceptions() -> None:
    def lookup(value: str) -> str:
        raise ValueError(f"no such user {value}")

    text = "a: 1\nuser: {{ lookup(secret) }}\n"
    context = {"secret": "hunter2", "lookup": lookup}
    with pytest.raises(RenderError) as info:
        render(text, name="f.sls", context=context, show_source=False)
    assert str(info.value) == (
        "f.sls, line 2: ValueError raised while rendering "
        "(details hidden: the file may hold secrets)"
    )
    with pytest.raises(RenderError) as info:
        render(text, name="f.sls", context=context)
    assert "ValueError: no such user hunter2" in str(info.value)
    with pytest.raises(RenderError) as info:
        render("a: {{ x.pop() }}", name="f.sls", context={"x": []}, show_source=False)
    assert str(info.value).startswith("f.sls, line 1: IndexError raised while rendering")


def test_parse_helpers_raise_render_errors() -> None:
    assert parse_yaml("a: [1, 2]", name="x.yaml") == {"a": [1, 2]}
    assert parse_json('{"a": 1}', name="x.json") == {"a": 1}
    with pytest.raises(RenderError, match=r"^x\.yaml, line 1: "):
        parse_yaml("a: [", name="x.yaml")
    with pytest.raises(RenderError, match=r"^x\.yaml, line 2: duplicate key 'a'"):
        parse_yaml("a: 1\na: 2", name="x.yaml")


# --- untrusted context: values land as data ----------------------------------------------

HOSTILE_VALUES = [
    "two\nlines",
    "a: b",
    "a #b",
    "it's",
    'say "hi"',
    "both ' and \"",
    "{a: 1}",
    "[1, 2]",
    "&anchor x",
    "*alias",
    "!!python/object:os.system",
    "| block",
    "> folded",
    "%TAG ! x",
    "@at",
    "`tick`",
    "- item",
    "---",
    "...",
    "x\n---\ny: 1",
    "x\n...\n",
    "nel\x85line",
    "ls\u2028ps\u2029",
    "trailing: \n",
    "  spaced  ",
    "\ttab",
    "include:\n  - secrets",
    "x\ninclude:\n  - secrets\n",
    "{{ 7*7 }}",
    "{% raw %}",
]


def u(text: str, default: str = "jinja|yaml", **values: Any) -> Any:
    return render(text, name="web.sls", context={}, untrusted_context=values, default=default)


@pytest.mark.parametrize("value", HOSTILE_VALUES)
@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("k: {{ v }}\n", lambda v: {"k": v}),
        ("{{ v }}: 1\n", lambda v: {v: 1}),
        ("k: '{{ v }}'\n", lambda v: {"k": v}),
        ('k: "{{ v }}"\n', lambda v: {"k": v}),
        ("k: |\n  {{ v }}\n", lambda v: {"k": v + "\n"}),
        ("k: >-\n  {{ v }}\n", lambda v: {"k": v}),
        ("k: [{{ v }}, b]\n", lambda v: {"k": [v, "b"]}),
        ("k: {x: {{ v }}}\n", lambda v: {"k": {"x": v}}),
        ("- {{ v }}\n- b\n", lambda v: [v, "b"]),
        ("k:\n  - echo {{ v }} end\n", lambda v: {"k": [f"echo {v} end"]}),
        ("k: '{{ v }}{{ v }}'\n", lambda v: {"k": v + v}),
        ("a: {{ v }}  # a comment\nb: 2\n", lambda v: {"a": v, "b": 2}),
    ],
)
def test_an_untrusted_value_lands_as_exactly_that_value(
    value: str, template: str, expected: Any
) -> None:
    assert u(template, v=value) == expected(value)


def test_a_plain_single_line_value_resolves_as_it_did_before() -> None:
    text = "".join(f"{key}: {{{{ g.{key} }}}}\n" for key in ("i", "s", "t", "n", "f", "d", "o"))
    values = {"i": 80, "s": "80", "t": "true", "n": "~", "f": "0.5", "d": "2024-01-31", "o": "no"}
    expected = {
        "i": 80,
        "s": 80,
        "t": True,
        "n": None,
        "f": 0.5,
        "d": "2024-01-31",
        "o": False,
    }
    assert u(text, g=values) == expected
    assert r(text, g=values) == expected  # as trusted context: the same


def test_an_empty_plain_value_is_null_as_before() -> None:
    assert u("k: {{ v }}\nq: '{{ v }}'\n", v="") == {"k": None, "q": ""}
    assert r("k: {{ v }}\n", v="") == {"k": None}


def test_quoted_multi_line_and_special_values_stay_strings() -> None:
    text = "q: '{{ s }}'\nm: {{ m }}\nmerge: {{ lt }}\neq: {{ eq }}\nsp: {{ sp }}\n"
    out = u(text, s="80", m="1\n2", lt="<<", eq="=", sp=" 80 ")
    assert out == {"q": "80", "m": "1\n2", "merge": "<<", "eq": "=", "sp": " 80 "}
    assert type(out["q"]) is not int


def test_an_explicit_tag_is_kept() -> None:
    assert u("k: !!str {{ v }}\n", v="80") == {"k": "80"}


def test_lists_and_mappings_land_as_themselves() -> None:
    hostile = ["a", "b'\"c", "d\ne: f"]
    assert u("k: {{ v }}\n", v=hostile) == {"k": hostile}
    assert u("k: {{ v }}\n", v={"x": "y: z"}) == {"k": {"x": "y: z"}}
    # Inside text, as their Python text as before.
    assert u("k: x {{ v }}\n", v=["a"]) == {"k": "x ['a']"}


def test_filters_and_macros_that_emit_yaml_keep_working() -> None:
    macros = (
        "{% macro user(name) %}{{ name }}:\n  shell: /bin/sh{% endmacro %}"
        "{{ user(g.user) }}\n"
        "y: {{ g.data | yaml }}\n"
        "j: {{ g.data | json }}\n"
        "t: {{ g.data | tojson }}\n"
        "e: {{ g.user | yaml_encode }}\n"
        "q: {{ g.user | yaml_dquote }}\n"
    )
    data = {"a": [1, "b: c"]}
    out = u(macros, g={"user": "web: admin", "data": data})
    assert out == {
        "web: admin": {"shell": "/bin/sh"},
        "y": data,
        "j": data,
        "t": data,
        "e": "web: admin",
        "q": "web: admin",
    }


def test_include_and_import_see_untrusted_values_as_data() -> None:
    loader = jinja2.DictLoader(
        {
            "part.sls": "inc: {{ g.v }}\n",
            "map.jinja": "{% set where = g.v %}",
        }
    )
    text = (
        "{% include 'part.sls' %}"
        "{% from 'map.jinja' import where with context %}"
        "{% set block %}blk: {{ g.v }}{% endset %}"
        "imp: {{ where }}\n"
        "yml: {{ (block | load_yaml).blk }}\n"
    )
    value = "x\nevil: 1"
    out = render(
        text, name="web.sls", context={}, untrusted_context={"g": {"v": value}}, loader=loader
    )
    assert out == {"inc": value, "imp": value, "yml": value}


def test_untrusted_text_stays_untrusted_through_str_methods_and_filters() -> None:
    v = "a\nb: c"
    lines = [
        "concat: {{ 'x' ~ g.v }}",
        "plus: {{ 'x' + g.v }}",
        "upper: {{ g.v.upper() }}",
        "slice: {{ g.v[0:] }}",
        "mod: {{ '%s!' % g.v }}",
        "mod_tuple: {{ '%s-%s' % (g.v, 1) }}",
        "plus_list: {{ (['x'] + g.l) | join(',') }}",
        "format: {{ '{}!'.format(g.v) }}",
        "filter_format: {{ '%s!' | format(g.v) }}",
        "join: {{ g.l | join(',') }}",
        "strjoin: {{ ','.join(g.l) }}",
        "replace: {{ g.v | replace('a', 'A') }}",
        "lower: {{ g.v | lower }}",
        "default: {{ g.missing | default(g.v) }}",
        "chars: {% for c in g.v %}{{ c }}{% endfor %}",
        "split: {{ g.v.split(':')[0] }}",
        "fn: {{ f['echo'](g.v) }}",
    ]
    calls: dict[str, Any] = {"echo": lambda text: text}
    out = u("\n".join(lines) + "\n", g={"v": v, "l": [v, v]}, f=MappingOfFunctions(calls))
    assert out == {
        "concat": "x" + v,
        "plus": "x" + v,
        "upper": v.upper(),
        "slice": v,
        "mod": v + "!",
        "mod_tuple": v + "-1",
        "plus_list": f"x,{v},{v}",
        "format": v + "!",
        "filter_format": v + "!",
        "join": f"{v},{v}",
        "strjoin": f"{v},{v}",
        "replace": v.replace("a", "A"),
        "lower": v.lower(),
        "default": v,
        "chars": v,
        "split": "a\nb",
        "fn": v,
    }


class MappingOfFunctions(Mapping[str, Any]):
    """Like ``salt``/``ff`` in SLS files: a mapping of functions that is not a dict."""

    def __init__(self, funcs: dict[str, Any]) -> None:
        self.funcs = funcs

    def __getitem__(self, name: str) -> Any:
        return self.funcs[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.funcs)

    def __len__(self) -> int:
        return len(self.funcs)


def test_untrusted_values_still_work_as_values_in_jinja() -> None:
    text = (
        "{% if g.os == 'Debian' and 'a' in g.roles and g.roles | length == 2 %}ok: yes{% endif %}\n"
        "{% for k, v in g.map | dictsort %}{{ k }}: {{ v }}\n{% endfor %}"
    )
    out = u(text, g={"os": "Debian", "roles": ["a", "b"], "map": {"p": 1, "q": "r"}})
    assert out == {"ok": True, "p": 1, "q": "r"}


def test_a_text_render_gives_the_values_text_as_before() -> None:
    text = "Hello {{ g.v }}, {{ g.l }}\n"
    value = {"v": "a\nb: c", "l": ["x"]}
    assert u(text, default="jinja", g=value) == "Hello a\nb: c, ['x']\n"
    assert u(text, default="jinja", g=value) == render(
        text, name="t", context={"g": value}, default="jinja"
    )


def test_untrusted_text_is_never_rendered_as_a_template() -> None:
    from fluxforge.render.untrusted import Tainted, taint

    for text in (Tainted("{{ 7*7 }}"), taint({"v": "#!jinja\n{{ 7*7 }}"})["v"]):
        with pytest.raises(RenderError, match="never rendered as templates"):
            render(text, name="motd", context={}, default="jinja")


def test_a_yaml_error_shows_the_value_not_a_placeholder() -> None:
    message = fails("a: {{ v }} b: c\n", untrusted_context={"v": "shown"})
    assert "a: shown b: c" in message
    assert "ffv" not in message


def test_a_forged_placeholder_is_only_text() -> None:
    forged = "ffv0123456789abcdef0x"
    assert u("k: {{ v }}\nl: {{ w }}\n", v=forged, w="x") == {"k": forged, "l": "x"}


def test_untrusted_values_keep_types_and_serialise() -> None:
    out = u("k: {{ v }}\n", v="x: y")
    assert yaml.safe_dump(out) == "k: 'x: y'\n"
    assert json.dumps(out) == '{"k": "x: y"}'
    assert copy.deepcopy(out) == out
    assert pickle.loads(pickle.dumps(out)) == out


def test_quote_makes_one_shell_word_and_keeps_the_value_exact() -> None:
    value = "x; rm -rf / #\nevil: 1"
    out = u("cmd: echo {{ v | quote }}\n", v=value)
    assert out == {"cmd": "echo " + shlex.quote(value)}
    assert shlex.split(out["cmd"]) == ["echo", value]


def test_a_deeply_nested_value_lands_as_itself() -> None:
    deep: Any = "both ' and \" \nevil: 1"
    for _ in range(80):
        deep = [deep]
    assert u("k: {{ v }}\n", v=deep) == {"k": deep}
