"""Renderers: turn the text of an SLS (or any template) into data.

A file is run through a *pipeline* of renderers joined by ``|``, by
default ``jinja|yaml``: Jinja renders text to text, YAML parses text to
data. A first line such as ``#!yaml`` or ``#!jinja|json`` names another
pipeline; that line is blanked (not removed), so line numbers stay those of
the file::

    from fluxforge.render.renderers import render

    data = render(text, name="pillar/base/web.sls", context={"grains": grains})

Every failure is one :class:`~fluxforge.errors.RenderError` whose message
names the file and the line, and quotes the offending line unless
``show_source=False`` (pillar files may hold secrets).

Extension points, each a module-level registry that later code may add to:

- :data:`RENDERERS`: name -> :class:`Renderer` (a function and whether it
  takes and gives text);
- :data:`FILTERS`: Jinja filters available to every template.

Jinja is set up as Salt sets it up by default, so existing trees render
unchanged: a sandboxed environment, undefined names are an error
(``StrictUndefined``; Salt's ``allow_undefined`` defaults to False),
``trim_blocks``/``lstrip_blocks`` off, no autoescaping, the ``do`` and loop
control extensions, the ``import_yaml``/``import_json``/``import_text``
tags of Salt's serializer extension and its ``load_*`` blocks, and Salt's
filters and tests (:mod:`fluxforge.render.saltjinja`).
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import functools
import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import jinja2
import jinja2.compiler
import jinja2.ext
import jinja2.nodes
import jinja2.parser
import jinja2.sandbox
import yaml
from yaml.constructor import ConstructorError

from fluxforge.errors import RenderError
from fluxforge.render import saltjinja, untrusted

DEFAULT_PIPELINE = "jinja|yaml"


# --- located problems ---------------------------------------------------------


class _Located(Exception):
    """A problem at a file and line, turned into a RenderError at the boundary."""

    def __init__(self, name: str, line: int | None, problem: str, source: str | None = None):
        super().__init__(problem)
        self.name = name
        self.line = line
        self.problem = problem
        self.source = source  # the offending line's text, if known
        self.rendered = False  # the line is one of Jinja's output, not of the file


class TemplateProblem(Exception):
    """Raise from a filter or template helper: its message is safe to show with any file.

    Other exceptions raised inside a template show only their type when
    ``show_source`` is False, since their text may quote a secret value.
    """


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _line_of(text: str | None, line: int | None) -> str | None:
    if text is None or line is None or line < 1:
        return None
    lines = text.splitlines()
    return lines[line - 1] if line <= len(lines) else None


def _error(loc: _Located, show_source: bool, suffix: str = "") -> RenderError:
    where = f"{loc.name}, line {loc.line}" if loc.line else loc.name
    if loc.line and loc.rendered:
        where += " of the Jinja output"
    message = f"{where}: {_one_line(loc.problem)}"
    if show_source and loc.source and loc.source.strip():
        message += f": {loc.source.strip()}"
    return RenderError(message + suffix)


# --- YAML and JSON --------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML loading that refuses a key given twice in one mapping."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    # Checked before merge keys (``<<: *base``) are expanded: a key given
    # beside a merge overrides it, which is not a duplicate.
    seen: dict[Any, int] = {}
    for key_node, _value in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.get(key)
        except TypeError:
            raise ConstructorError(
                None, None, "found an unhashable key (a list or mapping)", key_node.start_mark
            )
        if first is not None:
            raise ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first given on line {first})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _construct_int(loader: _StrictLoader, node: yaml.ScalarNode) -> int:
    # As Salt loads SLS: a plain integer with leading zeros is decimal, so an
    # unquoted ``mode: 0644`` is 644 (the file states read it as "0644"),
    # never YAML 1.1's octal 420. Binary and hex stay as YAML has them.
    value = str(node.value)
    if value != "0" and value.startswith("0") and not value.startswith(("0b", "0x")):
        node = yaml.ScalarNode(node.tag, value.lstrip("0") or "0", node.start_mark, node.end_mark)
    return int(loader.construct_yaml_int(node))


def _construct_timestamp(loader: _StrictLoader, node: yaml.ScalarNode) -> str:
    # Salt keeps dates and times as the text written (``2024-01-01``).
    return str(loader.construct_scalar(node))


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


class _PlaceholderLoader(untrusted.PlaceholderComposer, _StrictLoader):
    """The strict loader, putting back the untrusted values of the render in progress."""


untrusted.install(_PlaceholderLoader)


def _load_document(text: str) -> Any:
    table = untrusted.active()
    if table is None or not table.in_text(text):
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: safe
    loader = _PlaceholderLoader(text)
    loader.placeholders = table
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _shown_line(text: str, line: int | None) -> str | None:
    shown = _line_of(text, line)
    table = untrusted.active()
    return table.text(shown) if shown is not None and table is not None else shown


def _yaml(text: str, name: str) -> Any:
    try:
        data = _load_document(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise _Located(name, line, problem, _shown_line(text, line))
    except yaml.YAMLError as exc:
        raise _Located(name, None, f"invalid YAML: {exc}")
    return {} if data is None else data


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _json(text: str, name: str) -> Any:
    if not text.strip():
        return {}
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise _Located(name, exc.lineno, exc.msg, _line_of(text, exc.lineno))
    except ValueError as exc:
        # A duplicate key: json does not say where; report the line of its second use.
        line = _second_use(text, str(exc).partition("duplicate key ")[2])
        raise _Located(name, line, str(exc), _line_of(text, line))


def _second_use(text: str, key_repr: str) -> int | None:
    try:
        key = json.dumps(yaml.safe_load(key_repr))
    except (yaml.YAMLError, TypeError):
        return None
    uses = [m.start() for m in re.finditer(re.escape(key) + r"\s*:", text)]
    return text.count("\n", 0, uses[1]) + 1 if len(uses) > 1 else None


def parse_yaml(text: str, *, name: str, show_source: bool = True) -> Any:
    """Parse YAML safely (types kept, duplicate keys refused); empty text is ``{}``."""
    try:
        return _yaml(text, name)
    except _Located as loc:
        raise _error(loc, show_source) from None


def parse_json(text: str, *, name: str, show_source: bool = True) -> Any:
    """Parse JSON (duplicate keys refused); empty text is ``{}``."""
    try:
        return _json(text, name)
    except _Located as loc:
        raise _error(loc, show_source) from None


# --- Jinja filters ----------------------------------------------------------------


def _text(value: Any) -> str:
    return str(value)  # a TemplateModule (from {% import %}) renders to its text


def _dump_yaml(value: Any, flow_style: bool = True) -> str:
    # One line however long in flow style, so ``key: {{ v | yaml }}`` stays valid YAML.
    text = yaml.safe_dump(
        value, default_flow_style=flow_style, allow_unicode=True, width=1 << 30
    ).strip()
    if text.endswith("\n..."):
        text = text[:-4]
    elif text == "...":
        text = ""
    return text


def _yaml_filter(value: Any, flow_style: bool = True) -> str:
    """Dump ``value`` as YAML, flow style by default, without the ``...`` end marker."""
    try:
        return _dump_yaml(value, flow_style)
    except yaml.YAMLError as exc:
        raise TemplateProblem(f"yaml filter: cannot dump a {type(value).__name__}: {exc}")


def _json_filter(value: Any, sort_keys: bool = True, indent: int | None = None) -> str:
    """Dump ``value`` as JSON (keys sorted)."""
    try:
        return json.dumps(value, sort_keys=sort_keys, indent=indent, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise TemplateProblem(f"json filter: {exc}")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"a {type(value).__name__} is not JSON serialisable")


def _load_yaml(value: Any) -> Any:
    """Parse text (or an imported template's output) as YAML."""
    try:
        return _yaml(_text(value), "<load_yaml>")
    except _Located as loc:
        at = f" at its line {loc.line}" if loc.line else ""
        raise TemplateProblem(f"load_yaml: {loc.problem}{at}")


def _load_json(value: Any) -> Any:
    """Parse text (or an imported template's output) as JSON."""
    try:
        return _json(_text(value), "<load_json>")
    except _Located as loc:
        at = f" at its line {loc.line}" if loc.line else ""
        raise TemplateProblem(f"load_json: {loc.problem}{at}")


def _yaml_encode(value: Any) -> str:
    """A scalar as YAML text: a string always double-quoted, as Salt's ``yaml_encode``."""
    if not isinstance(value, str | int | float | bool) and value is not None:
        raise TemplateProblem(f"yaml_encode takes a scalar, got a {type(value).__name__}")
    if isinstance(value, str):
        return _yaml_dquote(value)
    return _dump_yaml(value, flow_style=True)


def _yaml_dquote(value: Any) -> str:
    """``value`` as a double-quoted YAML string, with escapes."""
    return saltjinja.yaml_quoted(_text(value), '"')


def _json_decode_dict(value: Any) -> Any:
    """Parse a JSON text into data (alias of ``load_json`` for Salt trees)."""
    return _load_json(value)


def _json_encode_dict(value: Any) -> str:
    """Dump a mapping as JSON text (keys sorted)."""
    return _json_filter(value)


FILTERS: dict[str, Callable[..., Any]] = {
    "yaml": _yaml_filter,
    "json": _json_filter,
    "load_yaml": _load_yaml,
    "load_json": _load_json,
    "yaml_encode": _yaml_encode,
    "yaml_dquote": _yaml_dquote,
    "json_decode_dict": _json_decode_dict,
    "json_encode_dict": _json_encode_dict,
    "load_text": saltjinja.load_text,
    **saltjinja.SALT_FILTERS,
}
"""Jinja filters of every template, by name; a filter added here applies to later renders."""


# --- Jinja environment ---------------------------------------------------------------


class ImportDataExtension(jinja2.ext.Extension):
    """``{% import_yaml 'defaults.yaml' as defaults %}`` and its json/text siblings.

    The file is found through the loader, rendered as a Jinja template
    without the caller's context (as ``{% import %}`` does), then parsed.
    """

    tags = {"import_yaml", "import_json", "import_text"}

    def parse(self, parser: jinja2.parser.Parser) -> jinja2.nodes.Node:
        token = next(parser.stream)
        kind = token.value.removeprefix("import_")
        template = parser.parse_expression()
        parser.stream.expect("name:as")
        target = parser.parse_assign_target(name_only=True)
        call = self.call_method("_load", [template, jinja2.nodes.Const(kind)])
        return jinja2.nodes.Assign(target, call, lineno=token.lineno)

    def _load(self, template: str, kind: str) -> Any:
        loaded = self.environment.get_template(template)
        text = loaded.render()
        if kind == "text":
            table = untrusted.active()
            return table.text(text) if table is not None else text
        filename = loaded.filename or template
        try:
            return _yaml(text, filename) if kind == "yaml" else _json(text, filename)
        except _Located as loc:
            raise TemplateProblem(f"{loc.name}, line {loc.line}: {loc.problem}")


class _NamedLoader(jinja2.BaseLoader):
    """A loader whose templates always have a file name, so errors in them can say which."""

    def __init__(self, inner: jinja2.BaseLoader):
        self.inner = inner

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        source, filename, uptodate = self.inner.get_source(environment, template)
        return source, filename or template, uptodate

    def list_templates(self) -> list[str]:
        return self.inner.list_templates()


_ENV_CACHE_SIZE = 64
_environments: collections.OrderedDict[tuple[Any, bool], jinja2.Environment] = (
    collections.OrderedDict()
)
_environments_lock = threading.Lock()


ENCODERS = frozenset(
    {"yaml", "json", "tojson", "yaml_encode", "yaml_dquote", "json_encode_dict"}
    | saltjinja.YAML_ENCODERS
)
"""Filters whose text is meant as YAML or JSON: it is printed as it is, even for untrusted input.

Every other filter's text is untrusted when any of its inputs is.
"""


def _propagating(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    if name in ENCODERS:
        return fn

    @functools.wraps(fn)  # keeps Jinja's pass_context/pass_environment marks
    def filtered(*args: Any, **kwargs: Any) -> Any:
        return untrusted.propagate(fn(*args, **kwargs), args, kwargs)

    return filtered


def _sync_filters(env: jinja2.Environment) -> None:
    """Give ``env`` the filters added to :data:`FILTERS` since it was made."""
    for name, fn in FILTERS.items():
        current = env.filters.get(name)
        if getattr(current, "__wrapped__", current) is not fn:
            env.filters[name] = _propagating(name, fn)


class _CodeGenerator(jinja2.compiler.CodeGenerator):
    """Jinja's code generator with ``~`` keeping untrusted text untrusted."""

    def visit_Concat(self, node: jinja2.nodes.Concat, frame: jinja2.compiler.Frame) -> None:
        self.write("environment.concat_text((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _Environment(jinja2.sandbox.SandboxedEnvironment):
    """The sandbox, with untrusted values printed as placeholders (see ``render.untrusted``)."""

    code_generator_class = _CodeGenerator
    intercepted_binops = frozenset({"%", "+"})  # '%s-%s' % (grains.a, grains.b)

    @staticmethod
    def concat_text(parts: tuple[Any, ...]) -> str:
        return untrusted.concat(parts)

    def call_binop(
        self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any
    ) -> Any:
        return untrusted.propagate(super().call_binop(context, operator, left, right), left, right)

    def call(
        __self,
        __context: jinja2.runtime.Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        result = super().call(__context, __obj, *args, **kwargs)
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):  # a str method: "-".join(grains.names)
            return untrusted.propagate(result, owner, args, kwargs)
        return result

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)  # "{}".format(...), sandboxed
        if wrapped is None:
            return None
        fn = wrapped

        def formatted(*args: Any, **kwargs: Any) -> str:
            result: str = untrusted.propagate(fn(*args, **kwargs), args, kwargs)
            return result

        return formatted


def environment(loader: jinja2.BaseLoader | None = None, strict: bool = True) -> jinja2.Environment:
    """The Jinja environment for ``loader`` (created once, then reused; thread-safe)."""
    key = (loader, strict)
    with _environments_lock:
        env = _environments.get(key)
        if env is not None:
            _environments.move_to_end(key)
            _sync_filters(env)
            return env
        env = _Environment(
            loader=_NamedLoader(loader) if loader is not None else None,
            undefined=jinja2.StrictUndefined if strict else jinja2.Undefined,
            trim_blocks=False,
            lstrip_blocks=False,
            autoescape=False,
            keep_trailing_newline=True,
            extensions=[
                "jinja2.ext.do",
                "jinja2.ext.loopcontrols",
                ImportDataExtension,
                saltjinja.LoadBlockExtension,
            ],
            finalize=untrusted.finalize,
        )
        for name, fn in list(env.filters.items()):
            env.filters[name] = _propagating(name, fn)
        _sync_filters(env)
        env.tests.update(saltjinja.SALT_TESTS)
        _environments[key] = env
        while len(_environments) > _ENV_CACHE_SIZE:
            _environments.popitem(last=False)
        return env


def _is_template_frame(tb: TracebackType, name: str) -> bool:
    code = tb.tb_frame.f_code
    if code.co_filename == name:
        return True
    # Jinja rewrites the frames of compiled templates to carry the template's
    # file name and line; it names their code after what ran.
    return code.co_name in ("template", "top-level template code") or code.co_name.startswith(
        "block "
    )


def _template_frames(exc: BaseException, name: str) -> list[tuple[str, int]]:
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        if _is_template_frame(tb, name):
            frames.append((tb.tb_frame.f_code.co_filename, tb.tb_lineno))
        tb = tb.tb_next
    return frames


def _jinja_problem(exc: Exception, show_source: bool) -> str:
    if isinstance(exc, jinja2.TemplateNotFound):
        return f"template {exc.name!r} not found"
    if isinstance(exc, jinja2.TemplateError | TemplateProblem | saltjinja.FilterProblem):
        return exc.message if isinstance(exc, jinja2.TemplateError) and exc.message else str(exc)
    if show_source:
        return f"{type(exc).__name__}: {exc}"
    return (
        f"{type(exc).__name__} raised while rendering (details hidden: the file may hold secrets)"
    )


def _jinja_error(exc: Exception, text: str, name: str, show_source: bool) -> RenderError:
    frames = _template_frames(exc, name)
    outer = next((line for fname, line in frames if fname == name), None)
    if isinstance(exc, jinja2.TemplateSyntaxError):
        where = exc.filename or exc.name or name
        if where == name:
            source = _line_of(text, exc.lineno)
            return _error(
                _Located(name, exc.lineno, exc.message or "syntax error", source), show_source
            )
        inner = _Located(
            where, exc.lineno, exc.message or "syntax error", _line_of(exc.source, exc.lineno)
        )
        suffix = f" (imported by {name}, line {outer})" if outer else f" (imported by {name})"
        return _error(inner, show_source, suffix)
    problem = _jinja_problem(exc, show_source)
    if not frames:
        return _error(_Located(name, None, problem), show_source)
    fname, line = frames[-1]
    if fname == name:
        return _error(_Located(name, line, problem, _line_of(text, line)), show_source)
    suffix = f" (imported by {name}, line {outer})" if outer else f" (imported by {name})"
    return _error(_Located(fname, line, problem), show_source, suffix)


# --- the pipeline -----------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """What a renderer works on besides its input: the file and how to report it."""

    name: str
    context: Mapping[str, Any]
    loader: jinja2.BaseLoader | None
    show_source: bool
    strict: bool
    rendered: bool = False  # the input is the output of Jinja, not the file's text


@dataclass(frozen=True)
class Renderer:
    """One step of a pipeline: ``fn(data, source) -> data``.

    ``takes_text``/``gives_text`` say whether the step reads and produces text,
    so that a pipeline such as ``yaml|jinja`` is refused before it runs. A
    step reports a problem by raising :class:`~fluxforge.errors.RenderError`.
    """

    fn: Callable[[Any, Source], Any]
    takes_text: bool = True
    gives_text: bool = False


def _render_jinja(text: str, src: Source) -> str:
    refused = untrusted.refuse_template(text)
    if refused:
        raise RenderError(f"{src.name}: {refused}")
    env = environment(src.loader, src.strict)
    try:
        code = env.compile(text, name=src.name, filename=src.name)
    except jinja2.TemplateSyntaxError as exc:
        raise _jinja_error(exc, text, src.name, src.show_source) from None
    except RecursionError:
        raise RenderError(f"{src.name}: the template nests too deeply to compile") from None
    except SyntaxError as exc:
        # Jinja accepted an expression it then turned into invalid Python
        # (a subscript such as x['a', :]); no template line is known.
        raise RenderError(
            f"{src.name}: the template does not compile: Jinja made invalid Python of "
            f"an expression in it ({exc.msg})"
        ) from None
    # The context is the template's globals (as in Salt), so a file imported
    # without `with context` (`{% from 'map.jinja' import x %}`) sees grains too.
    template = env.template_class.from_code(env, code, env.make_globals(dict(src.context)))
    try:
        return template.render()
    except RenderError:
        raise
    except Exception as exc:
        raise _jinja_error(exc, text, src.name, src.show_source) from None


def _render_data(parse: Callable[[str, str], Any], text: str, src: Source) -> Any:
    try:
        return parse(text, src.name)
    except _Located as loc:
        loc.rendered = src.rendered
        raise _error(loc, src.show_source) from None
    except RecursionError:
        raise RenderError(f"{src.name}: the data nests too deeply to parse") from None


def _render_yaml(text: str, src: Source) -> Any:
    return _render_data(_yaml, text, src)


def _render_json(text: str, src: Source) -> Any:
    return _render_data(_json, text, src)


RENDERERS: dict[str, Renderer] = {
    "jinja": Renderer(_render_jinja, takes_text=True, gives_text=True),
    "yaml": Renderer(_render_yaml, takes_text=True, gives_text=False),
    "json": Renderer(_render_json, takes_text=True, gives_text=False),
}
"""Renderers by the name used in a pipeline (``#!jinja|yaml``)."""


def pipeline(spec: str, name: str = "<pipeline>") -> list[str]:
    """Split and check a pipeline such as ``jinja|yaml``; RenderError names a bad step."""
    steps = [part.strip() for part in spec.split("|")]
    known = ", ".join(sorted(RENDERERS))
    gives_text = True
    for step in steps:
        renderer = RENDERERS.get(step)
        if renderer is None:
            raise RenderError(f"{name}, line 1: unknown renderer {step!r}; known: {known}")
        if renderer.takes_text and not gives_text:
            raise RenderError(
                f"{name}, line 1: renderer {step!r} needs text but follows a step that gives data"
            )
        gives_text = renderer.gives_text
    return steps


def split_shebang(text: str, default: str) -> tuple[str, str]:
    """``(pipeline, text)``: the ``#!`` first line's pipeline, and the text with it blanked."""
    if not text.startswith("#!"):
        return default, text
    first, newline, rest = text.partition("\n")
    spec = "".join(first[2:].split())
    return spec, newline + rest


def render(
    text: str,
    *,
    name: str,
    context: Mapping[str, Any],
    untrusted_context: Mapping[str, Any] | None = None,
    default: str = DEFAULT_PIPELINE,
    loader: jinja2.BaseLoader | None = None,
    show_source: bool = True,
    strict: bool = True,
) -> Any:
    """Render ``text`` through its pipeline and return the result.

    ``name`` is the file name used in errors; ``context`` the variables of
    Jinja; ``untrusted_context`` more variables whose values (grains,
    pillar, event data, job arguments, functions that read them) are data
    that cannot change the structure of a YAML document they are printed
    in (see :mod:`fluxforge.render.untrusted`; a value given through
    :func:`~fluxforge.render.untrusted.prepare` is tainted once for many
    renders); ``loader`` serves
    ``{% import %}``/``{% include %}``; ``default`` the pipeline when the
    first line is not ``#!...``. ``strict=False`` makes undefined Jinja
    names render as empty text. Raises :class:`~fluxforge.errors.RenderError`
    naming the file and line, quoting the line unless ``show_source`` is
    False. Text that is itself untrusted (a :class:`~fluxforge.render.untrusted.Tainted`
    string) is refused: it is never rendered as a template.
    """
    spec, body = split_shebang(text, default)
    if isinstance(text, untrusted.Tainted):
        body = untrusted.Tainted(body)
    if untrusted_context:
        context = {**context, **{key: untrusted.tainted(v) for key, v in untrusted_context.items()}}
    src = Source(name, context, loader, show_source, strict)
    steps = pipeline(spec, name)
    table = untrusted.Placeholders()
    token = untrusted.activate(table)
    try:
        data: Any = body
        for index, step in enumerate(steps):
            before = data
            data = RENDERERS[step].fn(data, src)
            if RENDERERS[step].gives_text:
                if data != before:
                    src = dataclasses.replace(src, rendered=True)
                if steps[index + 1 : index + 2] != ["yaml"]:
                    data = table.text(data)  # a text result, or for another step: as before
        return data
    finally:
        untrusted.deactivate(token)
