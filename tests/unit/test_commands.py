"""Local commands: every request is checked against the declared table before a handler runs."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from fluxforge.config import MasterConfig
from fluxforge.errors import KeyStoreError, TargetError, UsageError
from fluxforge.master import keys
from fluxforge.master.commands import THREADED, Commands
from fluxforge.master.core import LiveJobs, Targets
from fluxforge.master.sessions import Sessions
from fluxforge.master.stores.jobcache import JobCache
from fluxforge.master.stores.minioncache import MinionCache
from fluxforge.protocol import commands
from fluxforge.protocol.commands import COMMANDS, Field
from fluxforge.protocol.crypto import MasterIdentity, random_bytes
from fluxforge.protocol.keyfiles import fingerprint

JID = "20240101000000000001"
LOAD = {
    "jid": JID,
    "tgt": "*",
    "tgt_type": "glob",
    "fun": "test.ping",
    "arg": [],
    "kwarg": {},
    "user": "root",
    "ret": "",
    "timeout": 5.0,
}
# One well-formed request per declared command (the test below fails when a
# command is declared without one here).
VALID: dict[str, dict[str, Any]] = {
    "ping": {},
    "prep_jid": {},
    "sync": {"tag": f"ff/job/{JID}/sync"},
    "publish": {"load": LOAD},
    "resolve": {"tgt": "*"},
    "minion_data": {},
    "job": {"jid": JID},
    "jobs": {},
    "keys": {"op": "list"},
}
SAMPLES: list[Any] = ["text", 7, 2.5, True, None, [], {}, b"x"]


@dataclass
class Master:
    """Commands over real sessions and stores; what it fired and published."""

    commands: Commands
    store: keys.KeyStore
    fired: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    published: list[tuple[dict[str, Any], list[str] | None]] = field(default_factory=list)
    served: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def spy(self) -> None:
        """Record every call that reaches a handler (the real handler still runs)."""
        for name, handler in list(self.commands.handlers.items()):

            def spied(fields: dict[str, Any], name: str = name, handler: Any = handler) -> Any:
                self.served.append((name, fields))
                return handler(fields)

            self.commands.handlers[name] = spied


@pytest.fixture
def master(tmp_path: Path) -> Iterator[Master]:
    cfg = MasterConfig(pki_dir=str(tmp_path / "pki"), cachedir=str(tmp_path / "cache"))
    store = keys.KeyStore(cfg.pki_dir)
    for minion_id in ("web1", "web2"):
        store.register(minion_id, random_bytes(32))
    store.accept("web1")
    fired: list[tuple[str, dict[str, Any]]] = []
    published: list[tuple[dict[str, Any], list[str] | None]] = []
    sessions = Sessions(MasterIdentity.load(cfg.pki_dir), store, lambda t, d: fired.append((t, d)))
    jobs, minions = JobCache(cfg.cachedir), MinionCache(cfg.cachedir)
    cmds = Commands(
        sessions,
        LiveJobs(jobs),
        Targets({"webs": "web*"}, sessions, minions),
        jobs,
        minions,
        lambda t, d: fired.append((t, d)),
        lambda load, ids: published.append((load, ids)),
    )
    try:
        yield Master(cmds, store, fired, published)
    finally:
        jobs.close()
        minions.close()


def _accepts(spec: Field, value: Any) -> bool:
    kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
    if isinstance(spec.kind, dict):
        return isinstance(value, dict)
    if value.__class__ is bool:
        return bool in kinds
    return isinstance(value, kinds)


def _malformed(
    fields: dict[str, Field], given: dict[str, Any], prefix: str = ""
) -> Iterator[tuple[str, dict[str, Any], str]]:
    """``(what, request, field the error must name)`` for each way to get ``fields`` wrong."""
    yield f"unexpected field {prefix}bogus", {**given, "bogus": 1}, f"{prefix}bogus"
    for name, spec in fields.items():
        where = prefix + name
        if spec.required:
            yield f"no {where}", {k: v for k, v in given.items() if k != name}, where
        wrong = next(v for v in SAMPLES if not _accepts(spec, v))
        yield f"{where} of the wrong type", {**given, name: wrong}, where
        if not _accepts(spec, True) and _accepts(spec, 1):
            yield f"{where} a bool for a number", {**given, name: True}, where
        if spec.items is not None:
            yield f"{where} with a wrong item", {**given, name: [123]}, where
        if spec.choices:
            bad = ["nonsense"] if spec.kind is list else "nonsense"
            yield f"{where} not among its choices", {**given, name: bad}, where
        if spec.pattern:
            yield f"{where} of the wrong form", {**given, name: "not/the/form"}, where
        if isinstance(spec.kind, dict):
            for what, inner, named in _malformed(spec.kind, given[name], f"{where}."):
                yield what, {**given, name: inner}, named


CASES = [
    pytest.param(name, request, named, id=f"{name}: {what}")
    for name, command in COMMANDS.items()
    for what, request, named in _malformed(dict(command.fields), VALID[name])
]


def test_every_declared_command_has_a_valid_example_and_a_handler(master: Master) -> None:
    assert set(VALID) == set(COMMANDS) == set(master.commands.handlers)
    assert set(COMMANDS) >= THREADED
    for command in COMMANDS.values():
        assert command.about and "\n" not in command.about


def test_the_key_states_of_the_protocol_are_the_key_stores(master: Master) -> None:
    assert commands.KEY_STATES == keys.STATES


@pytest.mark.parametrize(("name", "request_fields", "named"), CASES)
def test_a_malformed_request_is_refused_before_its_handler_runs(
    master: Master, name: str, request_fields: dict[str, Any], named: str
) -> None:
    master.spy()
    with pytest.raises(UsageError) as refused:
        master.commands.dispatch({"cmd": name, **request_fields})
    message = str(refused.value)
    assert message.startswith(f"{name}: ") and repr(named) in message, message
    assert "\n" not in message
    assert master.served == [] and master.fired == [] and master.published == []


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_valid_request_reaches_its_handler_with_every_field(master: Master, name: str) -> None:
    master.spy()
    master.commands.dispatch({"cmd": name, **VALID[name]})
    assert [n for n, _ in master.served] == [name]
    assert set(master.served[0][1]) == set(COMMANDS[name].fields)


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ("ping", "must be a mapping with a text 'cmd'"),
        ({"op": "list"}, "must be a mapping with a text 'cmd'"),
        ({"cmd": 3}, "must be a mapping with a text 'cmd'"),
        ({"cmd": "reboot"}, "unknown command 'reboot'"),
    ],
)
def test_a_request_that_names_no_known_command_is_refused(
    master: Master, request_: Any, message: str
) -> None:
    master.spy()
    with pytest.raises(UsageError, match=message):
        master.commands.dispatch(request_)
    assert master.served == []


def test_optional_fields_get_their_defaults(master: Master) -> None:
    master.spy()
    master.commands.dispatch({"cmd": "keys", "op": "list"})
    master.commands.dispatch({"cmd": "minion_data"})
    master.commands.dispatch({"cmd": "resolve", "tgt": "web1"})
    assert master.served == [
        ("keys", {"op": "list", "pattern": "*", "include": [], "expect": {}}),
        ("minion_data", {"pattern": "*", "pillar": False}),
        ("resolve", {"tgt": "web1", "tgt_type": "glob"}),
    ]


def test_a_default_is_fresh_for_each_request() -> None:
    _, first = commands.validate({"cmd": "keys", "op": "list"})
    first["include"].append("accepted")
    _, second = commands.validate({"cmd": "keys", "op": "list"})
    assert second["include"] == []


def test_publish_fills_an_empty_jid_and_publishes_to_the_resolved_minions(master: Master) -> None:
    result = master.commands.dispatch(
        {"cmd": "publish", "load": {**LOAD, "jid": "", "tgt": "webs", "tgt_type": "nodegroup"}}
    )
    assert len(result["jid"]) == 20 and result["minions"] == ["web1"]
    load, ids = master.published[0]
    assert load["tgt_type"] != "nodegroup" and load["tgt"] == "web*" and ids is None
    assert master.fired[0][0] == f"ff/job/{result['jid']}/new"


@pytest.mark.parametrize(
    ("tgt", "tgt_type", "sealed_to"),
    [
        ("web1", "glob", ["web1"]),
        (["web2"], "list", ["web2"]),
        ("web[12]", "glob", None),
        (["web1", "web2", "web3"], "list", None),
        ("*", "glob", None),
        # The master lacks both minions' grains: neither is ruled out.
        ("role:db", "grain", None),
    ],
)
def test_a_job_that_leaves_out_an_accepted_minion_is_sealed_to_each_candidate(
    master: Master, tgt: Any, tgt_type: str, sealed_to: list[str] | None
) -> None:
    master.store.accept("web2")
    master.commands.sessions.reload_accepted()
    result = master.commands.dispatch(
        {"cmd": "publish", "load": {**LOAD, "jid": "", "tgt": tgt, "tgt_type": tgt_type}}
    )
    assert master.published == [(master.published[0][0], sealed_to)]
    job = master.commands.live.live[result["jid"]]
    # Sent to everyone or to each candidate; either way only candidates may return.
    assert job.broadcast is (sealed_to is None)
    if sealed_to is not None:
        assert job.minions == set(sealed_to)


def test_a_bad_target_is_a_target_error_and_publishes_nothing(master: Master) -> None:
    with pytest.raises(TargetError, match=r"^invalid target: "):
        master.commands.dispatch({"cmd": "resolve", "tgt": "x", "tgt_type": "nodegroup"})
    with pytest.raises(TargetError, match=r"^invalid target: "):
        master.commands.dispatch(
            {"cmd": "publish", "load": {**LOAD, "tgt_type": "pcre", "tgt": "("}}
        )
    assert master.published == [] and master.commands.dispatch({"cmd": "jobs"}) == []


def test_keys_accept_through_the_validated_fields(master: Master) -> None:
    result = master.commands.dispatch({"cmd": "keys", "op": "accept", "pattern": "web*"})
    finger = fingerprint(master.store.read(keys.ACCEPTED, "web2") or b"")
    assert result == {"moved": ["web2"], "rotated": False, "fingers": {"web2": finger}}
    assert master.store.ids(keys.ACCEPTED) == ["web1", "web2"]
    assert master.fired == [("ff/key", {"id": "web2", "act": "accept"})]


def test_keys_accept_refuses_a_key_other_than_expected(master: Master) -> None:
    request = {"cmd": "keys", "op": "accept", "pattern": "web2", "expect": {"web2": "aa:bb"}}
    with pytest.raises(KeyStoreError, match=r"the key of web2 has fingerprint .*, not aa:bb"):
        master.commands.dispatch(request)
    assert master.store.ids(keys.PENDING) == ["web2"]
    with pytest.raises(UsageError, match="'expect' must map minion ids to fingerprints"):
        master.commands.dispatch({**request, "expect": {"web2": 1}})


def test_the_table_imports_without_the_master() -> None:
    code = (
        "import sys, fluxforge.protocol.commands;"
        "assert not [m for m in sys.modules if m.startswith('fluxforge.master')]"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_deferred_resolves_in_work_and_publishes_in_done(master: Master) -> None:
    # The daemon runs ``work`` (the target's regexes) in a thread, ``done`` on its loop.
    request = {"cmd": "publish", "load": {**LOAD, "jid": "", "tgt": "w.b", "tgt_type": "pcre"}}
    deferred = master.commands.deferred(request)
    resolution = deferred.work()
    assert master.published == [] and resolution.expected == ["web1"]
    assert deferred.done is not None
    result = deferred.done(resolution)
    assert result["minions"] == ["web1"] and master.published[0][0]["jid"] == result["jid"]
    resolve = master.commands.deferred({"cmd": "resolve", "tgt": "web*"})
    assert resolve.done is not None
    assert resolve.done(resolve.work()) == {"minions": ["web1"], "unknown": []}
    with pytest.raises(TargetError, match=r"^invalid target: "):
        master.commands.deferred({"cmd": "resolve", "tgt": "(", "tgt_type": "pcre"}).work()
