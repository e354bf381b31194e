"""Salt's Jinja surface that formulas lean on: Salt's own filters and tests, ``load_*`` tags.

The serializing filters (``yaml``, ``json``, ``load_yaml``...) live with
the YAML and JSON loaders in :mod:`fluxforge.render.renderers`; the rest
of Salt's are here.

Each filter behaves as Salt 3008's of the same name on the inputs formulas
give it (checked against ``salt-call --local slsutil.renderer``); where
Salt's answer depends on an optional library (``timelib`` for fuzzy
dates) the filter accepts what the standard library parses and says so
when it cannot. :data:`SALT_FILTERS` and :data:`SALT_TESTS` are merged
into :data:`fluxforge.render.renderers.FILTERS` and the environment's
tests; :class:`LoadBlockExtension` gives ``{% load_yaml as x %}...{% endload %}``.

Filters that could be made to do unbounded work by a value from grains
or pillar are bounded: ``network_hosts`` refuses a network of more than
:data:`MAX_NETWORK_HOSTS` addresses.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import io
import ipaddress
import itertools
import re
import shlex
import uuid
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any

import jinja2
import jinja2.ext
import jinja2.filters
import jinja2.nodes
import jinja2.parser
import yaml
import yaml.emitter

from fluxforge.render import untrusted

MAX_NETWORK_HOSTS = 65536
"""The most addresses ``network_hosts`` lists for one network."""

_SALT_UUID_NAMESPACE = uuid.UUID("91633EBF-1C86-5E33-935A-28061F4B480E")  # Salt's, for equal uuids


class FilterProblem(Exception):
    """A filter given what it cannot work on; the message names the filter and the input."""


def _text(value: Any) -> str:
    return str(value)


# --- text, regular expressions and truth (filters Salt trees have long used) ---------


def _flags(ignorecase: bool, multiline: bool) -> int:
    return (re.IGNORECASE if ignorecase else 0) | (re.MULTILINE if multiline else 0)


def _compile(pattern: str, flags: int) -> re.Pattern[str]:
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise FilterProblem(f"invalid regular expression {pattern!r}: {exc}")


def regex_replace(
    value: Any, pattern: str, repl: str, ignorecase: bool = False, multiline: bool = False
) -> str:
    """Replace every match of ``pattern`` in ``value`` by ``repl`` (``\\1`` refers to groups)."""
    return _compile(pattern, _flags(ignorecase, multiline)).sub(repl, _text(value))


def regex_search(
    value: Any, pattern: str, ignorecase: bool = False, multiline: bool = False
) -> tuple[Any, ...] | None:
    """The groups of the first match anywhere in ``value`` (``()`` without groups), or None."""
    found = _compile(pattern, _flags(ignorecase, multiline)).search(_text(value))
    return found.groups() if found else None


def regex_match(
    value: Any, pattern: str, ignorecase: bool = False, multiline: bool = False
) -> tuple[Any, ...] | None:
    """The groups of a match at the start of ``value`` (``()`` without groups), or None."""
    found = _compile(pattern, _flags(ignorecase, multiline)).match(_text(value))
    return found.groups() if found else None


def to_bool(value: Any) -> bool:
    """Salt's truth: "yes"/"true"/"1" (any case), a positive number, a non-empty collection."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() in ("yes", "true", "1")
    if isinstance(value, int | float):
        return value > 0
    if isinstance(value, list | tuple | set | Mapping):
        return len(value) > 0
    return False


def unique(values: Any) -> list[Any]:
    """The items of ``values`` without repeats, first occurrence kept, order kept."""
    out: list[Any] = []
    for item in values:
        if item not in out:
            out.append(item)
    return out


def quote(value: Any) -> str:
    """``value`` quoted as one word of a POSIX shell command line (``shlex.quote``)."""
    return shlex.quote(_text(value))


def sequence(value: Any) -> list[Any]:
    """``value`` itself if it is a list or tuple (as a list), else ``[value]``."""
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def is_list(value: Any) -> bool:
    return isinstance(value, list)


# --- data ------------------------------------------------------------------------------


def _traverse_list(items: list[Any], part: str, default: Any) -> Any:
    for embedded in items:  # Salt looks in the list's mappings first, by the key as given
        if isinstance(embedded, Mapping) and part in embedded:
            return embedded[part]
    try:
        index = int(part)
    except ValueError:
        return default
    try:
        return items[index]
    except IndexError:
        return default


def traverse(data: Any, key: Any, default: Any = None, delimiter: str = ":") -> Any:
    """The value at ``key`` (``a:b:0``) in nested mappings and lists, or ``default``."""
    parts = key.split(delimiter) if isinstance(key, str) else [key]
    here = data
    for part in parts:
        if isinstance(here, list):
            here = _traverse_list(here, str(part), _MISSING)
        elif isinstance(here, Mapping):
            here = _mapping_item(here, part)
        else:
            here = _MISSING
        if here is _MISSING:
            return default
    return here


_MISSING = object()


def _mapping_item(mapping: Mapping[Any, Any], part: Any) -> Any:
    if part in mapping:
        return mapping[part]
    if isinstance(part, str):  # a key given as text may be a number in the data: 80
        try:
            loaded = yaml.safe_load(part)
        except yaml.YAMLError:
            return _MISSING
        if loaded != part and isinstance(loaded, Hashable) and loaded in mapping:
            return mapping[loaded]
    return _MISSING


def is_iter(value: Any) -> bool:
    """Whether ``value`` can be iterated, strings excepted (as Salt's ``is_iter``)."""
    if isinstance(value, str | bytes):
        return False
    try:
        iter(value)
    except TypeError:
        return False
    return True


def exactly_n_true(values: Iterable[Any], amount: int = 1) -> bool:
    """Whether exactly ``amount`` items of ``values`` are true."""
    return sum(1 for value in values if value) == amount


def exactly_one_true(values: Iterable[Any]) -> bool:
    """Whether exactly one item of ``values`` is true."""
    return exactly_n_true(values, 1)


def flatten(
    values: Iterable[Any], levels: int | None = None, preserve_nulls: bool = False
) -> list[Any]:
    """Nested lists made one list, ``levels`` deep (all by default); nulls dropped unless kept."""
    return _flatten(values, levels, preserve_nulls, set())


def _flatten(
    values: Iterable[Any], levels: int | None, keep_nulls: bool, seen: set[int]
) -> list[Any]:
    if id(values) in seen:
        raise FilterProblem("flatten: the list contains itself")
    seen = seen | {id(values)}
    out: list[Any] = []
    for item in values:
        if not keep_nulls and (item is None or item in ("None", "null")):
            continue
        if is_iter(item) and (levels is None or levels >= 1):
            deeper = None if levels is None else int(levels) - 1
            out.extend(_flatten(item, deeper, keep_nulls, seen))
        else:
            out.append(item)
    return out


def _unique_list(values: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for item in values:
        if item not in out:
            out.append(item)
    return out


def union(first: Any, second: Any) -> Any:
    """Items of either, without repeats, in order (a set for two sets, as Salt)."""
    if isinstance(first, set | frozenset) and isinstance(second, set | frozenset):
        return set(first) | set(second)
    return _unique_list(list(first) + list(second))


def intersect(first: Any, second: Any) -> Any:
    """Items of ``first`` that are in ``second``, without repeats, in order."""
    if isinstance(first, set | frozenset) and isinstance(second, set | frozenset):
        return set(first) & set(second)
    return _unique_list(item for item in first if item in second)


def difference(first: Any, second: Any) -> Any:
    """Items of ``first`` that are not in ``second``, without repeats, in order."""
    if isinstance(first, set | frozenset) and isinstance(second, set | frozenset):
        return set(first) - set(second)
    return _unique_list(item for item in first if item not in second)


def symmetric_difference(first: Any, second: Any) -> Any:
    """Items in one of the two but not both, without repeats, in order."""
    if isinstance(first, set | frozenset) and isinstance(second, set | frozenset):
        return set(first) ^ set(second)
    both = intersect(first, second)
    return [item for item in union(first, second) if item not in both]


def avg(values: Any) -> float:
    """The mean of a list of numbers (a number is its own mean)."""
    if isinstance(values, int | float):
        return float(values)
    items = list(values)
    if not items:
        raise FilterProblem("avg: the list is empty")
    try:
        return float(sum(items) / len(items))
    except TypeError as exc:
        raise FilterProblem(f"avg: the list holds something that is not a number ({exc})")


@jinja2.pass_environment
def salt_min(env: jinja2.Environment, values: Any, *args: Any, **kwargs: Any) -> Any:
    """Python's ``min`` (case-sensitive, as Salt's); with Jinja's arguments, Jinja's ``min``."""
    if args or kwargs:
        return jinja2.filters.do_min(env, values, *args, **kwargs)
    return _extreme(min, "min", values)


@jinja2.pass_environment
def salt_max(env: jinja2.Environment, values: Any, *args: Any, **kwargs: Any) -> Any:
    """Python's ``max`` (case-sensitive, as Salt's); with Jinja's arguments, Jinja's ``max``."""
    if args or kwargs:
        return jinja2.filters.do_max(env, values, *args, **kwargs)
    return _extreme(max, "max", values)


def _extreme(pick: Callable[..., Any], name: str, values: Any) -> Any:
    try:
        return pick(values)
    except (TypeError, ValueError) as exc:
        raise FilterProblem(f"{name}: {exc}")


def combinations(values: Iterable[Any], size: int) -> Iterable[tuple[Any, ...]]:
    """The ``size``-long combinations of ``values`` (``itertools.combinations``)."""
    return itertools.combinations(values, size)


# --- text, hashes and encodings -------------------------------------------------------------


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else _text(value).encode("utf-8")


def md5(value: Any) -> str:
    """The MD5 hex digest of the text's UTF-8 bytes."""
    return hashlib.md5(_bytes(value), usedforsecurity=False).hexdigest()


def sha1(value: Any) -> str:
    """The SHA-1 hex digest of the text's UTF-8 bytes."""
    return hashlib.sha1(_bytes(value), usedforsecurity=False).hexdigest()


def sha256(value: Any) -> str:
    """The SHA-256 hex digest of the text's UTF-8 bytes."""
    return hashlib.sha256(_bytes(value)).hexdigest()


def sha512(value: Any) -> str:
    """The SHA-512 hex digest of the text's UTF-8 bytes."""
    return hashlib.sha512(_bytes(value)).hexdigest()


def base64_encode(value: Any) -> str:
    """The text's UTF-8 bytes in base64."""
    return base64.b64encode(_bytes(value)).decode("ascii")


def base64_decode(value: Any) -> str | bytes:
    """Base64 decoded: text when it is UTF-8, else the bytes (as Salt)."""
    try:
        decoded = base64.b64decode(_bytes(value))
    except (binascii.Error, ValueError) as exc:
        raise FilterProblem(f"base64_decode: not base64 ({exc})")
    try:
        return decoded.decode("utf-8")
    except UnicodeDecodeError:
        return decoded


def salt_uuid(value: Any) -> str:
    """A name-based UUID of the text, the same one Salt gives for it."""
    return str(uuid.uuid5(_SALT_UUID_NAMESPACE, _text(value)))


def _when(value: Any) -> datetime.datetime:
    if value is None:
        return datetime.datetime.now()
    if isinstance(value, datetime.datetime):
        return value
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.datetime.fromtimestamp(value)
    text = _text(value).strip()
    try:
        return datetime.datetime.fromtimestamp(float(text))
    except ValueError:
        pass
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        raise FilterProblem(
            f"strftime: cannot read {text!r} as a date: give a timestamp or an ISO 8601 date "
            "(Salt's fuzzy dates such as 'tomorrow' need timelib, which FluxForge does not use)"
        ) from None


def strftime(value: Any = None, format: str = "%Y-%m-%d") -> str:
    """A date (timestamp, ISO 8601 text, date or datetime; None is now) formatted."""
    return _when(value).strftime(format)


def yaml_quoted(text: str, quote: str) -> str:
    """``text`` as one quoted YAML scalar (``'`` or ``"``), on one line, escaped as YAML needs."""
    out = io.StringIO()
    emitter = yaml.emitter.Emitter(out, width=1 << 30)
    if quote == "'":
        emitter.write_single_quoted(text)
    else:
        emitter.write_double_quoted(text)
    return out.getvalue()


def yaml_squote(value: Any) -> str:
    """``value`` as a single-quoted YAML string."""
    return yaml_quoted(_text(value), "'")


def dict_to_sls_yaml_params(value: Any, flow_style: bool = False) -> str:
    """A mapping as the YAML list of one-key mappings that a state's arguments are."""
    if not isinstance(value, Mapping):
        raise FilterProblem(
            f"dict_to_sls_yaml_params takes a mapping, got a {type(value).__name__}"
        )
    params = [{key: item} for key, item in value.items()]
    text = yaml.safe_dump(
        params, default_flow_style=flow_style, allow_unicode=True, width=1 << 30
    ).strip()
    return text.removesuffix("\n...")


# --- IP addresses -------------------------------------------------------------------------

_IPAddress = (
    ipaddress.IPv4Address
    | ipaddress.IPv6Address
    | ipaddress.IPv4Interface
    | ipaddress.IPv6Interface
)

_IP_OPTIONS: dict[str, Callable[[Any], bool]] = {
    "global": lambda ip: not ip.is_private,
    "public": lambda ip: not ip.is_private,
    "private": lambda ip: ip.is_private,
    "loopback": lambda ip: ip.is_loopback,
    "lo": lambda ip: ip.is_loopback,
    "multicast": lambda ip: ip.is_multicast,
    "reserved": lambda ip: ip.is_reserved,
    "unspecified": lambda ip: ip.is_unspecified,
    "link-local": lambda ip: ip.is_link_local,
    "link_local": lambda ip: ip.is_link_local,
    "linklocal": lambda ip: ip.is_link_local,
    "ll": lambda ip: ip.is_link_local,
    "site-local": lambda ip: ip.version == 6 and ip.is_site_local,
    "site_local": lambda ip: ip.version == 6 and ip.is_site_local,
    "sl": lambda ip: ip.version == 6 and ip.is_site_local,
}


def _ip(value: Any, version: int | None, options: str | None) -> str | None:
    """The address (or ``address/prefix``) as text, if of ``version`` and passing ``options``."""
    text = _text(value).strip()
    found: _IPAddress
    try:
        found = ipaddress.ip_address(text)
    except ValueError:
        try:
            found = ipaddress.ip_interface(text)
        except ValueError:
            return None
    if version is not None and found.version != version:
        return None
    for option in (part.strip() for part in (options or "").split(",")):
        check = _IP_OPTIONS.get(option)
        if check is not None and not check(found):
            return None
    return str(found)


def is_ip(value: Any, options: str | None = None) -> bool:
    """Whether ``value`` is an IPv4 or IPv6 address (a prefix allowed) passing ``options``."""
    return _ip(value, None, options) is not None


def is_ipv4(value: Any, options: str | None = None) -> bool:
    """Whether ``value`` is an IPv4 address (a prefix allowed) passing ``options``."""
    return _ip(value, 4, options) is not None


def is_ipv6(value: Any, options: str | None = None) -> bool:
    """Whether ``value`` is an IPv6 address (a prefix allowed) passing ``options``."""
    return _ip(value, 6, options) is not None


def _ip_filter(value: Any, version: int | None, options: str | None) -> Any:
    if isinstance(value, list | tuple):
        kept = [(_ip(item, version, options), item) for item in value]
        if version is None:  # Salt lists the IPv4 ones, then the IPv6 ones
            return [t for t, _ in kept if t and ":" not in t] + [
                t for t, _ in kept if t and ":" in t
            ]
        return [t for t, _ in kept if t]
    return _ip(value, version, options)


def ipaddr(value: Any, options: str | None = None) -> Any:
    """The addresses among ``value`` (a list: those that are; one: it or None)."""
    return _ip_filter(value, None, options)


def ipv4(value: Any, options: str | None = None) -> Any:
    """The IPv4 addresses among ``value`` (a list: those that are; one: it or None)."""
    return _ip_filter(value, 4, options)


def ipv6(value: Any, options: str | None = None) -> Any:
    """The IPv6 addresses among ``value`` (a list: those that are; one: it or None)."""
    return _ip_filter(value, 6, options)


def _hosts(network: str) -> list[str]:
    net = ipaddress.ip_network(network, strict=False)
    if net.num_addresses > MAX_NETWORK_HOSTS:
        raise FilterProblem(
            f"network_hosts: {network} has {net.num_addresses} addresses, "
            f"more than the {MAX_NETWORK_HOSTS} this filter lists"
        )
    return [str(host) for host in net.hosts()]


def network_hosts(value: Any, options: str | None = None, version: int | None = None) -> Any:
    """The usable hosts of a network (``10.0.0.0/30``); of each, for a list of networks."""
    found = _ip_filter(value, version, options)
    if not found:
        return None
    if isinstance(value, list | tuple):
        return [_hosts(net) for net in found]
    return _hosts(found)


# --- the registries -----------------------------------------------------------------------

SALT_FILTERS: dict[str, Callable[..., Any]] = {
    "regex_replace": regex_replace,
    "regex_search": regex_search,
    "regex_match": regex_match,
    "to_bool": to_bool,
    "unique": unique,
    "sequence": sequence,
    "quote": quote,
    "is_list": is_list,
    "traverse": traverse,
    "is_iter": is_iter,
    "exactly_n_true": exactly_n_true,
    "exactly_one_true": exactly_one_true,
    "flatten": flatten,
    "union": union,
    "intersect": intersect,
    "difference": difference,
    "symmetric_difference": symmetric_difference,
    "avg": avg,
    "min": salt_min,
    "max": salt_max,
    "combinations": combinations,
    "md5": md5,
    "sha1": sha1,
    "sha256": sha256,
    "sha512": sha512,
    "base64_encode": base64_encode,
    "base64_decode": base64_decode,
    "uuid": salt_uuid,
    "strftime": strftime,
    "date_format": strftime,
    "yaml_squote": yaml_squote,
    "dict_to_sls_yaml_params": dict_to_sls_yaml_params,
    "is_ip": is_ip,
    "is_ipv4": is_ipv4,
    "is_ipv6": is_ipv6,
    "ipaddr": ipaddr,
    "ipv4": ipv4,
    "ipv6": ipv6,
    "network_hosts": network_hosts,
}
"""Salt's filters other than the serializers of :mod:`fluxforge.render.renderers`, by name."""

YAML_ENCODERS = frozenset({"yaml_squote", "dict_to_sls_yaml_params"})
"""Of :data:`SALT_FILTERS`, those whose text is YAML meant to be printed as it is."""


# --- the load_* block tags ------------------------------------------------------------------


class LoadBlockExtension(jinja2.ext.Extension):
    """``{% load_yaml as x %}...{% endload %}``: the block's output parsed into ``x``.

    ``load_json`` and ``load_text`` likewise; the block is rendered where it
    stands, with the template's variables, then given to the filter of the
    tag's name.
    """

    tags = {"load_yaml", "load_json", "load_text"}

    def parse(self, parser: jinja2.parser.Parser) -> list[jinja2.nodes.Node]:
        token = next(parser.stream)
        lineno = token.lineno
        parser.stream.expect("name:as")
        target = parser.parse_assign_target(name_only=True)
        body = parser.parse_statements(("name:endload",), drop_needle=True)
        block = jinja2.nodes.Name(f"_load_block_{lineno}_{id(body)}", "store")
        macro = jinja2.nodes.Macro(block.name, [], [], body).set_lineno(lineno)
        call = jinja2.nodes.Call(jinja2.nodes.Name(block.name, "load"), [], [], None, None)
        parsed = jinja2.nodes.Filter(call, token.value, [], [], None, None)
        return [macro, jinja2.nodes.Assign(target, parsed).set_lineno(lineno)]


def load_text(value: Any) -> str:
    """The block's (or imported template's) text; untrusted if untrusted values are in it."""
    text = _text(value)
    table = untrusted.active()
    if table is not None and table.in_text(text):
        return untrusted.Tainted(table.text(text))
    return text


def _match(value: Any, pattern: str, ignorecase: bool = False, multiline: bool = False) -> bool:
    return _compile(pattern, _flags(ignorecase, multiline)).match(_text(value)) is not None


SALT_TESTS: dict[str, Callable[..., bool]] = {
    "match": _match,
    "equalto": lambda value, other: bool(value == other),
    "is_ip": is_ip,
    "is_ipv4": is_ipv4,
    "is_ipv6": is_ipv6,
    "is_iter": is_iter,
    "is_list": lambda value: isinstance(value, list),
}
"""Jinja tests (``{% if x is match('^web') %}``): Salt's ``match``, ``equalto``, some filters."""
