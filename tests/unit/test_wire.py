"""Frames: msgpack with a size limit before decoding, and strict shape checks."""

from __future__ import annotations

import datetime
import pathlib
import random
from typing import Any

import msgpack
import pytest

from fluxforge.errors import FrameTooLarge, MalformedFrame, WireError
from fluxforge.protocol import wire
from fluxforge.protocol.wire import (
    PROTOCOL_VERSION,
    REQUEST_TYPES,
    check,
    frame,
    pack,
    parse_frame,
    unpack,
)

KINDS = {"pub": 2, "auth": 1, "req": 2}


# -- unpack -----------------------------------------------------------------


def test_pack_unpack_roundtrip() -> None:
    value = {"a": [1, 2.5, None, True, "x", b"\x00\xff"], "b": {"c": -3}}
    assert unpack(pack(value)) == value


def test_bytes_and_text_stay_distinct() -> None:
    assert unpack(pack([b"abc", "abc"])) == [b"abc", "abc"]


def test_oversize_frame_refused_without_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    data = pack({"x": "y" * 100})

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("msgpack was called on an oversize frame")

    monkeypatch.setattr(msgpack, "unpackb", boom)
    with pytest.raises(FrameTooLarge) as info:
        unpack(data, limit=len(data) - 1)
    assert str(len(data)) in str(info.value)
    assert str(len(data) - 1) in str(info.value)
    assert isinstance(info.value, WireError)


def test_frame_at_limit_is_decoded() -> None:
    data = pack({"x": "y" * 100})
    assert unpack(data, limit=len(data)) == {"x": "y" * 100}


def test_default_limit() -> None:
    assert wire.DEFAULT_MAX_FRAME == 16 * 1024 * 1024
    with pytest.raises(FrameTooLarge):
        unpack(b"\x00" * (wire.DEFAULT_MAX_FRAME + 1))


@pytest.mark.parametrize(
    "data",
    [
        b"\xc1",  # never used in msgpack
        b"\xc1\x00garbage",
        b"",
        b"\x01\x02",  # extra data after a complete object
        b"\xa5ab",  # str of 5 with 2 bytes
    ],
)
def test_invalid_bytes_are_malformed(data: bytes) -> None:
    with pytest.raises(MalformedFrame):
        unpack(data)


def test_random_bytes_are_malformed_or_decoded() -> None:
    rng = random.Random(1234)
    malformed = 0
    for _ in range(500):
        data = rng.randbytes(rng.randint(1, 64))
        try:
            unpack(data)
        except MalformedFrame:
            malformed += 1
    assert malformed > 400


def test_truncated_msgpack_is_malformed() -> None:
    data = pack({"jid": "1" * 20, "arg": list(range(50)), "blob": b"x" * 100})
    for cut in (1, len(data) // 2, len(data) - 1):
        with pytest.raises(MalformedFrame, match="not valid msgpack"):
            unpack(data[:cut])


def test_non_string_map_keys_are_malformed() -> None:
    data = msgpack.packb({1: "a"})
    with pytest.raises(MalformedFrame):
        unpack(data)


# -- pack ---------------------------------------------------------------------


def test_pack_converts_types_msgpack_lacks() -> None:
    when = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    out = unpack(
        pack(
            {
                "set": {3},
                "frozen": frozenset({"a"}),
                "tuple": (1, 2),
                "dt": when,
                "date": datetime.date(2024, 1, 2),
                "path": pathlib.Path("/etc/hosts"),
                "pure": pathlib.PurePosixPath("a/b"),
            }
        )
    )
    assert out == {
        "set": [3],
        "frozen": ["a"],
        "tuple": [1, 2],
        "dt": "2024-01-02T03:04:05+00:00",
        "date": "2024-01-02",
        "path": "/etc/hosts",
        "pure": "a/b",
    }


def test_pack_falls_back_to_repr() -> None:
    class Thing:
        def __repr__(self) -> str:
            return "<thing>"

    assert unpack(pack([Thing()])) == ["<thing>"]


# -- check --------------------------------------------------------------------

GOOD_RET: dict[str, Any] = {
    "jid": "20240101000000000000",
    "fun": "test.ping",
    "fun_args": [],
    "return": True,
    "retcode": 0,
    "success": True,
    "duration": 0.01,
}


def test_check_accepts_good_shape() -> None:
    assert check(dict(GOOD_RET), REQUEST_TYPES["ret"], "ret") == GOOD_RET


def test_check_any_field_accepts_anything() -> None:
    for value in (None, {"a": 1}, [1], "x", b"y", 3):
        check({**GOOD_RET, "return": value}, REQUEST_TYPES["ret"], "ret")


def test_check_number_field_takes_int_and_float() -> None:
    check({**GOOD_RET, "duration": 1}, REQUEST_TYPES["ret"], "ret")
    check({**GOOD_RET, "duration": 1.5}, REQUEST_TYPES["ret"], "ret")


def test_check_rejects_missing_field() -> None:
    body = dict(GOOD_RET)
    del body["retcode"]
    with pytest.raises(MalformedFrame, match="ret: missing field 'retcode'"):
        check(body, REQUEST_TYPES["ret"], "ret")


def test_check_rejects_extra_field() -> None:
    with pytest.raises(MalformedFrame, match="ret: unexpected field 'evil'"):
        check({**GOOD_RET, "evil": 1}, REQUEST_TYPES["ret"], "ret")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("jid", 20240101000000000000),
        ("fun", b"test.ping"),
        ("fun_args", "a b"),
        ("retcode", "0"),
        ("retcode", 0.0),
        ("success", 1),
        ("duration", "0.1"),
        ("duration", None),
    ],
)
def test_check_rejects_wrong_types(field: str, value: Any) -> None:
    with pytest.raises(MalformedFrame, match=f"field '{field}' has the wrong type"):
        check({**GOOD_RET, field: value}, REQUEST_TYPES["ret"], "ret")


@pytest.mark.parametrize(("field", "value"), [("retcode", True), ("duration", False)])
def test_check_rejects_bool_as_int(field: str, value: bool) -> None:
    with pytest.raises(MalformedFrame, match="wrong type"):
        check({**GOOD_RET, field: value}, REQUEST_TYPES["ret"], "ret")


def test_check_rejects_bool_as_int_in_request_shape() -> None:
    body = {"t": "ret", "rid": True, "tok": b"t", "seq": 1, "body": {}}
    with pytest.raises(MalformedFrame):
        check(body, wire.REQUEST_SHAPE, "req")
    check({**body, "rid": 1}, wire.REQUEST_SHAPE, "req")


def test_check_optional_fields() -> None:
    reply = {"rid": 1, "tok": b"t" * 16, "seq": 0, "ok": True, "body": None, "error": None}
    check(reply, wire.REPLY_SHAPE, "rep")
    check({**reply, "error": "oops"}, wire.REPLY_SHAPE, "rep")
    with pytest.raises(MalformedFrame):
        check({**reply, "error": 3}, wire.REPLY_SHAPE, "rep")


def test_check_target_may_be_text_or_list() -> None:
    load = {
        "jid": "1" * 20,
        "tgt": "*",
        "tgt_type": "glob",
        "fun": "test.ping",
        "arg": [],
        "kwarg": {},
        "user": "root",
        "ret": "",
        "timeout": 5,
    }
    check(load, wire.PUBLICATION_SHAPE, "pub")
    check({**load, "tgt": ["a", "b"]}, wire.PUBLICATION_SHAPE, "pub")
    with pytest.raises(MalformedFrame):
        check({**load, "tgt": {"a": 1}}, wire.PUBLICATION_SHAPE, "pub")


@pytest.mark.parametrize("obj", [[1, 2], "text", None, 3])
def test_check_rejects_non_mapping(obj: Any) -> None:
    with pytest.raises(MalformedFrame, match="expected a mapping"):
        check(obj, wire.AUTH_SHAPE, "auth")


def test_request_types_allow_list() -> None:
    assert set(REQUEST_TYPES) == {
        "ret",
        "prog",
        "event",
        "grains",
        "pillar",
        "file_list",
        "file_hash",
        "file_fetch",
    }
    with pytest.raises(MalformedFrame, match="unexpected field 'id'"):
        # A minion cannot name whose pillar it wants: the id is the Box's sender.
        check({"env": "", "id": "other"}, REQUEST_TYPES["pillar"], "pillar")
    check({"tag": "x/y", "data": {}}, REQUEST_TYPES["event"], "event")
    check({"jid": "1" * 20, "fun": "f", "elapsed": 2, "data": {}}, REQUEST_TYPES["prog"], "prog")
    with pytest.raises(MalformedFrame):
        check({"tag": "x/y", "data": []}, REQUEST_TYPES["event"], "event")


# -- parse_frame ----------------------------------------------------------------


def test_frame_roundtrip() -> None:
    data = frame("pub", 3, b"sealed")
    assert unpack(data) == ["pub", PROTOCOL_VERSION, 3, b"sealed"]
    assert parse_frame(data, 1000, KINDS) == ("pub", [3, b"sealed"])


def test_parse_frame_rejects_unknown_kind() -> None:
    with pytest.raises(MalformedFrame, match="unknown frame kind 'evil'"):
        parse_frame(frame("evil", 1), 1000, KINDS)
    with pytest.raises(MalformedFrame, match="unknown frame kind"):
        parse_frame(pack([5, PROTOCOL_VERSION, 1]), 1000, KINDS)


@pytest.mark.parametrize("version", [0, 1, 2, 4, "3", None])
def test_parse_frame_rejects_wrong_version(version: Any) -> None:
    with pytest.raises(MalformedFrame, match="protocol version"):
        parse_frame(pack(["auth", version, {}]), 1000, KINDS)


def test_parse_frame_rejects_bool_version() -> None:
    with pytest.raises(MalformedFrame):
        parse_frame(pack(["auth", True, {}]), 1000, KINDS)


@pytest.mark.parametrize("parts", [[], [1, 2], [1, 2, 3]])
def test_parse_frame_rejects_wrong_part_count(parts: list[Any]) -> None:
    with pytest.raises(MalformedFrame, match="auth frame has"):
        parse_frame(pack(["auth", PROTOCOL_VERSION, *parts]), 1000, KINDS)


@pytest.mark.parametrize("obj", [{"kind": "pub"}, ["pub"], [], "pub", 1])
def test_parse_frame_rejects_non_arrays(obj: Any) -> None:
    with pytest.raises(MalformedFrame):
        parse_frame(pack(obj), 1000, KINDS)


def test_parse_frame_checks_size_first(monkeypatch: pytest.MonkeyPatch) -> None:
    data = frame("auth", {"id": "x" * 50})

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("decoded")

    monkeypatch.setattr(msgpack, "unpackb", boom)
    with pytest.raises(FrameTooLarge):
        parse_frame(data, 10, KINDS)


def test_reply_names_the_request_by_token_and_sequence() -> None:
    reply = {"rid": 1, "tok": b"t" * 16, "seq": 0, "ok": True, "body": None, "error": None}
    for field in ("tok", "seq"):
        without = {k: v for k, v in reply.items() if k != field}
        with pytest.raises(MalformedFrame, match=f"missing field {field!r}"):
            check(without, wire.REPLY_SHAPE, "rep")
    with pytest.raises(MalformedFrame, match="wrong type"):
        check({**reply, "seq": True}, wire.REPLY_SHAPE, "rep")


def test_auth_proof_is_bytes_or_nil() -> None:
    body = {"id": "web1", "pub": b"p" * 32, "nonce": b"n" * 24, "proof": None}
    check(body, wire.AUTH_SHAPE, "auth")
    check({**body, "proof": b"boxed"}, wire.AUTH_SHAPE, "auth")
    with pytest.raises(MalformedFrame, match="wrong type"):
        check({**body, "proof": "text"}, wire.AUTH_SHAPE, "auth")
    with pytest.raises(MalformedFrame, match="missing field 'proof'"):
        check({k: v for k, v in body.items() if k != "proof"}, wire.AUTH_SHAPE, "auth")
