"""Renderers: pipelines, types, filters, imports, and errors that name file and line."""

from __future__ import annotations

import datetime
from typing import Any

import jinja2
import pytest

from fluxforge.errors import RenderError
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
        "when": datetime.date(2024, 1, 31),
        "nested": {"a": {"b": [1, "two"]}},
    }
    assert type(got["port"]) is int


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
