"""The plugin loader: text argument conversion, binding and module discovery."""

from __future__ import annotations

import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fluxforge.errors import ExecutionError, UnknownFunction
from fluxforge.plugins.loader import BUILTIN_MODULES, Functions, bind_arguments, convert_text


@pytest.fixture(autouse=True)
def _forget_plugin_modules() -> Iterator[None]:
    """Plugins from tmp folders are registered in sys.modules; drop them after each test."""
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("fluxforge_ext."):
            del sys.modules[name]


def _plugin(folder: Path, name: str, source: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


# -- convert_text ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3", 3),
        ("-2", -2),
        ("+7", 7),
        ("0", 0),
        ("2.5", 2.5),
        ("-0.5", -0.5),
        (".5", 0.5),
        ("1.5e3", 1500.0),
        ("true", True),
        ("True", True),
        ("false", False),
        ("False", False),
        ("null", None),
        ("None", None),
        ("~", None),
        ("[a, b]", ["a", "b"]),
        ("[1, 2.5, true, null]", [1, 2.5, True, None]),
        ("[]", []),
        ("{a: 1}", {"a": 1}),
        ("{a: [1, {b: c}]}", {"a": [1, {"b": "c"}]}),
        ("{}", {}),
        (" [a] ", ["a"]),
    ],
)
def test_convert_text_values(text: str, value: Any) -> None:
    result = convert_text(text)
    assert result == value
    assert type(result) is type(value)


@pytest.mark.parametrize(
    "text",
    [
        "01",
        "007",
        "2024-01-01",
        "hello",
        "[unclosed",
        "{a: 1",
        "yes",
        "no",
        "on",
        "1_000",
        "0x1F",
        "1e5",
        "inf",
        ".nan",
        "",
        " 3",
        "3 ",
        "[a, b",
        "[: :]",
        "{[a]: 1}",
        "!!python/object:os.system",
        "[!!python/object/apply:os.system [echo hi]]",
    ],
)
def test_convert_text_keeps_text(text: str) -> None:
    result = convert_text(text)
    assert result == text
    assert type(result) is str


@pytest.mark.parametrize(
    ("text", "inner"), [("[2024-01-01]", ["2024-01-01"]), ("{a: 2024-01-01}", {"a": "2024-01-01"})]
)
def test_convert_text_never_yields_dates(text: str, inner: Any) -> None:
    # dates inside brackets stay text: either the whole argument or the item
    assert convert_text(text) in (text, inner)


def test_convert_text_inside_list_matches_top_level_rules() -> None:
    assert convert_text("[01, 010, yes, off, 1_000, 0x1F]") == [
        "01",
        "010",
        "yes",
        "off",
        "1_000",
        "0x1F",
    ]


# -- bind_arguments -------------------------------------------------------------


def _typed(a: int, b: str, c: Any = None, *rest: str, d: str | None = None, **kw: Any) -> Any:
    return (a, b, c, rest, d, kw)


def test_bind_converts_untyped_and_keeps_str() -> None:
    args, kwargs = bind_arguments(
        "m.f", _typed, ["3", "007", "true", "01", "2"], {"d": "5", "e": "[1]"}
    )
    assert args == [3, "007", True, "01", "2"]
    assert kwargs == {"d": "5", "e": [1]}
    assert _typed(*args, **kwargs) == (3, "007", True, ("01", "2"), "5", {"e": [1]})


def test_bind_leaves_non_text_alone() -> None:
    args, kwargs = bind_arguments("m.f", _typed, [[1], {"x": 1}], {"c": b"x"})
    assert args == [[1], {"x": 1}]
    assert kwargs == {"c": b"x"}


def test_bind_too_many_positional() -> None:
    def f(a: Any, b: Any = 1) -> None:
        return None

    with pytest.raises(ExecutionError, match=r"m\.f takes at most 2 positional argument"):
        bind_arguments("m.f", f, ["1", "2", "3"], {})


def test_bind_unknown_keyword() -> None:
    def f(text: Any) -> None:
        return None

    with pytest.raises(ExecutionError) as info:
        bind_arguments("m.f", f, [], {"nope": "1"})
    msg = str(info.value)
    assert "m.f has no parameter 'nope'" in msg
    assert "it takes: text" in msg
    assert "text='nope=1'" in msg


def test_bind_missing_argument() -> None:
    def f(a: Any, b: Any) -> None:
        return None

    with pytest.raises(ExecutionError, match=r"m\.f: missing a required argument: 'b'"):
        bind_arguments("m.f", f, ["1"], {})


def test_bind_duplicate_argument() -> None:
    def f(a: Any) -> None:
        return None

    with pytest.raises(ExecutionError, match="multiple values"):
        bind_arguments("m.f", f, ["1"], {"a": "2"})


# -- Functions ------------------------------------------------------------------


def test_builtin_modules_load() -> None:
    funcs = Functions()
    assert funcs.folders == [BUILTIN_MODULES]
    assert "test.ping" in funcs
    assert funcs.call("test.ping") is True
    assert "test" in funcs.modules()


def test_virtualname_renames_module(tmp_path: Path) -> None:
    folder = tmp_path / "_modules"
    _plugin(
        folder,
        "foo",
        """
        __virtualname__ = "bar"

        def fn(x):
            \"\"\"Return x.\"\"\"
            return ("bar", x)
        """,
    )
    funcs = Functions([BUILTIN_MODULES, str(folder)])
    assert funcs.call("bar.fn", ["3"]) == ("bar", 3)
    assert funcs["bar.fn"]("y") == ("bar", "y")
    assert "bar.fn" in funcs
    assert "foo.fn" not in funcs
    assert "bar" in funcs.modules()
    assert "foo" not in funcs.modules()
    assert "test" in funcs.modules()
    with pytest.raises(UnknownFunction, match=re.escape("'foo.fn' is not a known function")):
        funcs.get("foo.fn")
    with pytest.raises(UnknownFunction, match=re.escape("did you mean 'bar.fn'")):
        funcs.get("bar.fx")


def test_custom_folder_alone(tmp_path: Path) -> None:
    _plugin(tmp_path, "greet", "def hello(name: str) -> str:\n    return 'hi ' + name\n")
    funcs = Functions([str(tmp_path)])
    assert funcs.names() == ["greet.hello"]
    assert funcs.call("greet.hello", ["01"]) == "hi 01"


def test_virtual_false_with_reason(tmp_path: Path) -> None:
    _plugin(
        tmp_path,
        "x",
        """
        def __virtual__():
            return (False, "no widget")

        def fn():
            return 1
        """,
    )
    funcs = Functions([str(tmp_path)])
    with pytest.raises(UnknownFunction) as info:
        funcs.get("x.fn")
    assert str(info.value) == "'x.fn' is not available: no widget"
    assert "x.fn" not in funcs
    assert funcs.modules() == []
    with pytest.raises(UnknownFunction, match=re.escape("'x.fn' is not available: no widget")):
        funcs.call("x.fn")


def test_virtual_false_under_virtualname(tmp_path: Path) -> None:
    _plugin(
        tmp_path,
        "widgetmod",
        """
        __virtualname__ = "widget"

        def __virtual__():
            return False

        def fn():
            return 1
        """,
    )
    funcs = Functions([str(tmp_path)])
    with pytest.raises(UnknownFunction, match=re.escape("'widget.fn' is not available")):
        funcs.get("widget.fn")


def test_virtual_true_and_raising(tmp_path: Path) -> None:
    _plugin(tmp_path, "ok", "def __virtual__():\n    return True\n\ndef fn():\n    return 1\n")
    _plugin(
        tmp_path,
        "boom",
        "def __virtual__():\n    raise RuntimeError('kaput')\n\ndef fn():\n    return 1\n",
    )
    funcs = Functions([str(tmp_path)])
    assert funcs.call("ok.fn") == 1
    with pytest.raises(UnknownFunction, match="__virtual__ raised RuntimeError: kaput"):
        funcs.get("boom.fn")


def test_import_error_is_reported(tmp_path: Path) -> None:
    path = _plugin(tmp_path, "broken", "import no_such_module_xyz\n\ndef fn():\n    return 1\n")
    funcs = Functions([str(tmp_path)])
    with pytest.raises(UnknownFunction) as info:
        funcs.get("broken.fn")
    msg = str(info.value)
    assert msg.startswith("'broken.fn' is not available: failed to import")
    assert str(path) in msg
    assert "ModuleNotFoundError" in msg


def test_str_annotated_params_keep_text(tmp_path: Path) -> None:
    _plugin(
        tmp_path,
        "typed",
        """
        from __future__ import annotations

        def show(a, b: str, c: str | None = None, d: int = 0):
            return [a, b, c, d]
        """,
    )
    funcs = Functions([str(tmp_path)])
    assert funcs.call("typed.show", ["01", "01"], {"c": "true", "d": "5"}) == [
        "01",
        "01",
        "true",
        5,
    ]
    assert funcs.call("typed.show", ["7", "7"]) == [7, "7", None, 0]
    assert funcs.call("typed.show", ["[a]", "[a]"], {"c": "null"}) == [["a"], "[a]", "null", 0]


def test_private_and_imported_functions_not_exposed(tmp_path: Path) -> None:
    _plugin(
        tmp_path,
        "mod",
        """
        import os
        from os.path import join
        from json import dumps as public_looking

        CONSTANT = 3

        class Helper:
            pass

        def _private():
            return 1

        def __dunder():
            return 2

        def list_():
            return "listed"

        def visible():
            return _private()
        """,
    )
    funcs = Functions([str(tmp_path)])
    assert funcs.names("mod") == ["mod.list", "mod.visible"]
    assert funcs.call("mod.visible") == 1
    assert funcs.call("mod.list") == "listed"
    for hidden in ("mod._private", "mod.join", "mod.public_looking", "mod.Helper", "mod.os"):
        assert hidden not in funcs
        with pytest.raises(UnknownFunction, match="is not a known function"):
            funcs.get(hidden)


def test_later_folder_overrides_builtin(tmp_path: Path) -> None:
    _plugin(tmp_path, "test", "def ping():\n    return 'custom'\n")
    funcs = Functions([BUILTIN_MODULES, str(tmp_path)])
    assert funcs.call("test.ping") == "custom"
    assert "test.echo" not in funcs


def test_underscore_files_are_not_plugins(tmp_path: Path) -> None:
    _plugin(tmp_path, "_helpers", "def fn():\n    return 1\n")
    (tmp_path / "notes.txt").write_text("def fn(): pass\n")
    funcs = Functions([str(tmp_path), str(tmp_path / "missing")])
    assert funcs.modules() == []
    assert funcs.names() == []


def test_unknown_function_suggests_close_name() -> None:
    funcs = Functions()
    with pytest.raises(
        UnknownFunction, match=re.escape("'test.pnig' is not a known function; did you mean")
    ):
        funcs.get("test.pnig")
    with pytest.raises(UnknownFunction, match=r"sys\.list_functions"):
        funcs.get("zzzzzzzz.qqqqqqq")


def test_modules_are_imported_lazily(tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    _plugin(
        tmp_path,
        "lazy",
        f"open({str(marker)!r}, 'w').close()\n\ndef fn():\n    return 1\n",
    )
    _plugin(tmp_path, "other", "def fn():\n    return 2\n")
    funcs = Functions([str(tmp_path)])
    assert not marker.exists()
    assert funcs.call("other.fn") == 2
    assert not marker.exists()
    assert funcs.call("lazy.fn") == 1
    assert marker.exists()


def test_scan_picks_up_new_files(tmp_path: Path) -> None:
    funcs = Functions([str(tmp_path)])
    assert "late.fn" not in funcs
    _plugin(tmp_path, "late", "def fn():\n    return 'late'\n")
    funcs.scan()
    assert funcs.call("late.fn") == "late"


def test_call_checks_arguments(tmp_path: Path) -> None:
    _plugin(tmp_path, "one", "def fn(a):\n    return a\n")
    funcs = Functions([str(tmp_path)])
    with pytest.raises(ExecutionError, match="takes at most 1 positional"):
        funcs.call("one.fn", ["1", "2"])
    assert funcs.call("one.fn", kwargs={"a": "{x: 1}"}) == {"x": 1}


def test_inline_marks_quick_functions_and_unknown_names_are_not_inline(tmp_path: Path) -> None:
    (tmp_path / "quick.py").write_text(
        "from fluxforge.plugins.loader import inline\n\n\n"
        "@inline\ndef fast() -> int:\n    return 1\n\n\n"
        "def slow() -> int:\n    return 2\n"
    )
    funcs = Functions([str(tmp_path)])
    assert funcs.is_inline("quick.fast") is True
    assert funcs.is_inline("quick.slow") is False
    assert funcs.is_inline("quick.missing") is False
    assert "quick.inline" not in funcs  # the imported decorator is not part of the module
    assert funcs.call("quick.fast") == 1
    builtin = Functions()
    assert builtin.is_inline("test.ping") and not builtin.is_inline("cmd.run")
