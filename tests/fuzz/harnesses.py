"""Fuzz targets: every decoder of what a peer sends, the target parser, renderers, config.

Each target is a function of one input (bytes) that feeds it to product code
the way a daemon would and lets only the errors that code documents escape
(:data:`Target.allowed`, classes of :mod:`fluxforge.errors`); anything else
(a ``KeyError``, a ``RecursionError``, a ``TypeError``) is a bug, and
:func:`run_one` raises :class:`Crash` for it. ``seeds()`` gives real inputs
(frames built with :mod:`fluxforge.protocol.wire`, real SLS and config
text) to start the corpus from. The same targets run under atheris
(``scripts/fuzz``, tests/fuzz/run.py) and, on their seeds and saved
crashers, as unit tests (tests/unit/test_fuzz_harnesses.py).

Structured targets read their first byte as a selector (which socket's
frame kinds, which shape, which request type) and the rest as the input.
"""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fluxforge import errors
from fluxforge.protocol import wire

MAX_FRAME = 64 * 1024  # fuzz inputs are small; the real limit is checked by other tests


class Crash(Exception):
    """An input made product code raise an error it does not document."""


@dataclass(frozen=True)
class Target:
    name: str
    run: Callable[[bytes], None]
    seeds: Callable[[], list[bytes]]
    allowed: tuple[type[BaseException], ...]
    max_len: int = 4096


def run_one(target: Target, data: bytes) -> None:
    """Feed ``data`` to ``target``; raise :class:`Crash` for an error it does not document."""
    try:
        target.run(data)
    except target.allowed:
        pass
    except Exception as exc:
        raise Crash(f"{target.name}: {type(exc).__name__}: {exc}"[:500]) from exc


def _noise(size: int) -> bytes:
    """Ciphertext-like bytes, the same on every run (seeds are reproducible)."""
    return random.Random(size).randbytes(size)


def _pick(data: bytes, options: list[Any]) -> tuple[Any, bytes]:
    if not data:
        return options[0], b""
    return options[data[0] % len(options)], data[1:]


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


# -- frames: what each socket accepts, and the checks right after ------------------


@cache
def _socket_kinds() -> list[tuple[str, dict[str, int]]]:
    from fluxforge.master.daemon import REQUEST_KINDS
    from fluxforge.minion.channel import REPLY_KINDS
    from fluxforge.minion.daemon import PUB_KINDS

    return [("request", REQUEST_KINDS), ("reply", REPLY_KINDS), ("pub", PUB_KINDS)]


def frames(data: bytes) -> None:
    """An outer frame at the master's request port, a minion's DEALER or its SUB socket."""
    (_, kinds), data = _pick(data, _socket_kinds())
    kind, parts = wire.parse_frame(data, MAX_FRAME, kinds)
    if kind == "auth":
        from fluxforge.protocol import ids

        body = wire.check(parts[0], wire.AUTH_SHAPE, "auth")
        ids.valid_id(body["id"])
    elif kind == "authrep":
        wire.check(parts[0], wire.AUTH_REPLY_SHAPE, "auth reply")


def _frame_seeds() -> list[bytes]:
    auth = {"id": "web1", "pub": bytes(32), "nonce": bytes(24)}
    reply = {"status": "accepted", "master_pub": bytes(32), "master_sign_pub": bytes(32)}
    return [
        b"\x00" + wire.frame("auth", auth),
        b"\x00" + wire.frame("req", "web1", _noise(80)),
        b"\x01" + wire.frame("authrep", {**reply, "sealed": _noise(64)}),
        b"\x01" + wire.frame("authrep", {**reply, "sealed": None}),
        b"\x01" + wire.frame("rep", _noise(64)),
        b"\x02" + wire.frame("pub", 3, _noise(96)),
    ]


# -- shapes: every checked body -----------------------------------------------------


@cache
def _shapes() -> list[tuple[str, Mapping[str, Any]]]:
    named: list[tuple[str, Mapping[str, Any]]] = [
        ("auth", wire.AUTH_SHAPE),
        ("auth reply", wire.AUTH_REPLY_SHAPE),
        ("session grant", wire.SESSION_SHAPE),
        ("request", wire.REQUEST_SHAPE),
        ("reply", wire.REPLY_SHAPE),
        ("publication", wire.PUBLICATION_SHAPE),
    ]
    return named + sorted(wire.REQUEST_TYPES.items())


def shapes(data: bytes) -> None:
    """A decoded body against one of the shapes ``wire.check`` knows."""
    (what, shape), data = _pick(data, _shapes())
    wire.check(wire.unpack(data, MAX_FRAME), shape, what)


def _shape_seeds() -> list[bytes]:
    samples: dict[str, Any] = {
        "auth": {"id": "web1", "pub": bytes(32), "nonce": bytes(24)},
        "auth reply": {
            "status": "accepted",
            "master_pub": bytes(32),
            "master_sign_pub": bytes(32),
            "sealed": None,
        },
        "session grant": {
            "nonce": bytes(24),
            "sign_pub": bytes(32),
            "session": bytes(32),
            "gen": 1,
            "token": bytes(16),
            "time": 1.5,
        },
        "request": {"t": "ret", "rid": 1, "tok": bytes(16), "seq": 1, "body": {}},
        "reply": {"rid": 1, "ok": True, "body": {"x": [1, 2.5, None]}, "error": None},
        "publication": _load(),
        **_request_bodies(),
    }
    out = []
    for index, (what, _) in enumerate(_shapes()):
        out.append(bytes([index]) + wire.pack(samples[what]))
    return out


# -- request bodies: the master's handlers, without sockets -----------------------

JID = "20260101000000000001"


def _load() -> dict[str, Any]:
    return {
        "jid": JID,
        "tgt": "G@os:Debian and web*",
        "tgt_type": "compound",
        "fun": "cmd.run",
        "arg": ["uptime"],
        "kwarg": {},
        "user": "root",
        "ret": "",
        "timeout": 5,
    }


def _request_bodies() -> dict[str, dict[str, Any]]:
    return {
        "ret": {
            "jid": JID,
            "fun": "test.ping",
            "fun_args": [],
            "return": True,
            "retcode": 0,
            "success": True,
            "duration": 0.01,
        },
        "prog": {"jid": JID, "fun": "state.apply", "elapsed": 1.0, "data": {"n": 1}},
        "event": {"tag": "ff/minion/web1/custom", "data": {"k": "v"}},
        "grains": {"grains": {"os": "Debian", "roles": ["web"], "nested": {"a": {"b": 1}}}},
        "pillar": {"env": ""},
        "file_list": {"env": "base", "prefix": ""},
        "file_hash": {"env": "base", "path": "top.sls"},
        "file_fetch": {"env": "base", "path": "top.sls", "offset": 0},
    }


class _Master:
    """A master's request handlers over stores in a temporary folder."""

    def __init__(self) -> None:
        from fluxforge.config import MasterConfig
        from fluxforge.master.core import LiveJobs
        from fluxforge.master.requests import Requests
        from fluxforge.master.stores.jobcache import JobCache
        from fluxforge.master.stores.minioncache import MinionCache

        self.tmp = tempfile.TemporaryDirectory(prefix="ff-fuzz-")
        root = Path(self.tmp.name)
        (root / "files").mkdir()
        (root / "files" / "top.sls").write_text("base:\n  '*':\n    - common\n")
        (root / "pillar").mkdir()
        (root / "pillar" / "top.sls").write_text("base:\n  'G@os:Debian':\n    - common\n")
        (root / "pillar" / "common.sls").write_text("site: {{ grains.get('os') }}\n")
        cfg = MasterConfig(
            root_dir=str(root),
            cachedir=str(root / "cache"),
            file_roots={"base": [str(root / "files")]},
            pillar_roots={"base": [str(root / "pillar")]},
        )
        self.jobs = JobCache(cfg.cachedir)
        self.minions = MinionCache(cfg.cachedir)
        self.live = LiveJobs(self.jobs)
        self.requests = Requests(
            cfg, self.live, self.jobs, self.minions, lambda t, d: None, lambda t, p: None
        )

    def close(self) -> None:
        self.jobs.close()
        self.minions.close()
        self.tmp.cleanup()

    def serve(self, kind: str, body: Any) -> None:
        from fluxforge.master.core import Deferred

        # A fresh job each time, so that returns are not refused as duplicates.
        self.live.add(JID, {"web1"}, broadcast=True)
        result = self.requests.dispatch("web1", kind, body)
        if isinstance(result, Deferred):
            value = result.work()
            if result.done is not None:
                result.done(value)


@cache
def _master() -> _Master:
    return _Master()


def requests(data: bytes) -> None:
    """A request body of each type through the master's dispatch and handler."""
    kind, data = _pick(data, sorted(wire.REQUEST_TYPES))
    _master().serve(kind, wire.unpack(data, MAX_FRAME))


def _requests_seeds() -> list[bytes]:
    bodies = _request_bodies()
    return [bytes([i]) + wire.pack(bodies[kind]) for i, kind in enumerate(sorted(bodies))]


# -- the minion's side: a reply and a publication after decryption ----------------


def minion(data: bytes) -> None:
    """A reply or publication plaintext as the minion decodes it, then the job's target check."""
    from fluxforge import targeting

    which, data = _pick(data, ["reply", "publication"])
    if which == "reply":
        wire.check(wire.unpack(data, MAX_FRAME), wire.REPLY_SHAPE, "reply")
        return
    load = wire.check(wire.unpack(data, MAX_FRAME), wire.PUBLICATION_SHAPE, "publication")
    grains = {"os": "Debian", "ipv4": ["10.0.0.5"], "roles": ["web"]}
    targeting.matches(load["tgt"], load["tgt_type"], "web1", grains, {"role": "web"})


def _minion_seeds() -> list[bytes]:
    reply = {"rid": 7, "ok": False, "body": None, "error": "reauth"}
    seeds = [b"\x00" + wire.pack(reply)]
    for tgt, tgt_type in [
        ("web*", "glob"),
        ("web1,db1", "list"),
        ("os:Deb*", "grain"),
        ("roles:w.b", "grain_pcre"),
        ("10.0.0.0/8", "ipcidr"),
        ("G@os:Debian and not E@db.* or (L@web1,web2 and S@10.0.0.0/8)", "compound"),
    ]:
        seeds.append(b"\x01" + wire.pack({**_load(), "tgt": tgt, "tgt_type": tgt_type}))
    return seeds


# -- events -----------------------------------------------------------------------


def events(data: bytes) -> None:
    """An event on the master's bus: tag frame and data frame, split at the first NUL."""
    from fluxforge.events import decode_event

    decode_event(data.split(b"\x00", 1))


def _event_seeds() -> list[bytes]:
    return [
        b"ff/job/20260101000000000001/ret/web1\x00" + wire.pack({"id": "web1", "return": True}),
        b"ff/minion/web1/start\x00" + wire.pack({}),
    ]


# -- the compound target parser ---------------------------------------------------

NODEGROUPS = {"webs": "G@roles:web", "both": ["web1", "db1"], "mixed": "N@webs and N@both"}


def compound(data: bytes) -> None:
    """A compound target: checked, decided for one minion and resolved over several."""
    from fluxforge import targeting

    text = _text(data)
    targeting.check(text, "compound", NODEGROUPS)
    grains = {"os": "Debian", "roles": ["web", "app"], "ipv4": ["10.0.0.5"], "n": {"a": 1}}
    targeting.decide(text, "compound", "web1", grains, None, NODEGROUPS)
    expanded, tgt_type = targeting.expand_nodegroups(text, "compound", NODEGROUPS)
    targeting.resolve(expanded, tgt_type, ["web1", "db1"], lambda m: (grains, None))


def _compound_seeds() -> list[bytes]:
    return [
        s.encode()
        for s in [
            "G@os:Debian and not web*",
            "( E@^(a|b)$ or L@web1,db1 ) and not(S@10.0.0.0/8)",
            "P@roles:w.b or I@role:web and J|@n|a|1",
            "N@mixed or G|@n|a|1",
            "G@ipv6:::1 and web? not db[12]",
        ]
    ]


# -- the SLS renderers ------------------------------------------------------------

_CONTEXT = {
    "grains": {"os": "Debian", "id": "web1", "roles": ["web"]},
    "pillar": {"site": "paris", "users": {"ann": {"uid": 1000}}},
    "opts": {"id": "web1"},
}


def render(data: bytes) -> None:
    """An SLS file through its pipeline: the default jinja|yaml, or one its ``#!`` line names."""
    from fluxforge.render.renderers import render as render_sls

    text = _text(data)
    if "*" in text or "range" in text or "%" in text.replace("{%", "").replace("%}", ""):
        # Arithmetic that explodes (9**9**9, 'a'*10**9, huge loops) is a
        # trusted author's choice, not a parser bug: leave it out.
        return
    render_sls(text, name="fuzz.sls", context=_CONTEXT, strict=data[:1] != b"\n")


def _render_seeds() -> list[bytes]:
    return [
        s.encode()
        for s in [
            "include:\n  - common\nmotd:\n  file.managed:\n    - name: /etc/motd\n"
            "    - contents: {{ grains['os'] }}\n",
            "{% for u, d in pillar['users'].items() %}\n{{ u }}:\n  user.present:\n"
            "    - uid: {{ d.uid }}\n{% endfor %}\n",
            '#!json\n{"a": {"pkg.installed": [{"name": "vim"}]}}\n',
            "#!yaml\nkey: &a [1, 2]\nother: *a\n",
            "{% set x = grains.get('roles', []) | join(',') %}\nr: {{ x | yaml_encode }}\n",
        ]
    ]


# -- the config loader ------------------------------------------------------------


@cache
def _config_dir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="ff-fuzz-config-")


def config(data: bytes) -> None:
    """A config file's text through the loader (the master section, and both)."""
    from fluxforge.config import loading

    path = os.path.join(_config_dir().name, "fluxforge.conf")
    with open(path, "wb") as fh:
        fh.write(data)
    loading.load_master(path)
    loading.from_mapping({"minion": {"id": "web1"}, "master": {}}, path)


def _config_seeds() -> list[bytes]:
    return [
        b"master:\n  timeout: 10\n  nodegroups:\n    webs: G@roles:web\nminion:\n  id: web1\n",
        b"master:\n  file_roots:\n    base: [srv/a, srv/b]\n  publish_port: 0\n",
        b"master:\n  timeot: 3\n",
        b"minion:\n  id: web1\n  grains: {roles: [web]}\n",
    ]


# -- the registry -----------------------------------------------------------------

WIRE = (errors.WireError,)

TARGETS: dict[str, Target] = {
    t.name: t
    for t in [
        Target("frames", frames, _frame_seeds, WIRE),
        Target("shapes", shapes, _shape_seeds, WIRE),
        Target("requests", requests, _requests_seeds, (errors.FluxForgeError,)),
        Target("minion", minion, _minion_seeds, (*WIRE, errors.TargetError)),
        Target("events", events, _event_seeds, WIRE),
        Target("compound", compound, _compound_seeds, (errors.TargetError,), max_len=512),
        Target("render", render, _render_seeds, (errors.RenderError,), max_len=1024),
        Target("config", config, _config_seeds, (errors.ConfigError,), max_len=2048),
    ]
}


def close() -> None:
    """Close what the targets keep open between inputs (stores, temporary folders)."""
    if _master.cache_info().currsize:
        _master().close()
        _master.cache_clear()
    if _config_dir.cache_info().currsize:
        _config_dir().cleanup()
        _config_dir.cache_clear()


def crashers(name: str) -> Iterator[Path]:
    """The saved inputs that once crashed target ``name`` (tests/fuzz/crashers/<name>/)."""
    folder = Path(__file__).parent / "crashers" / name
    if folder.is_dir():
        yield from sorted(p for p in folder.iterdir() if p.is_file())
