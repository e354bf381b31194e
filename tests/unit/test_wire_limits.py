"""Counting a frame's msgpack objects from its marker bytes, before anything is decoded."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fluxforge.errors import MalformedFrame
from fluxforge.protocol import wire

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=300)
    | st.binary(max_size=70_000)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=20) | st.dictionaries(st.text(max_size=5), inner, max_size=20)
    ),
    max_leaves=200,
)


def objects_in(value: Any) -> int:
    if isinstance(value, list):
        return 1 + sum(objects_in(v) for v in value)
    if isinstance(value, dict):
        return 1 + sum(1 + objects_in(v) for v in value.values())
    return 1


@given(values)
def test_the_count_matches_what_the_frame_holds(value: Any) -> None:
    data = msgpack.packb(value, use_bin_type=True)
    assert wire.count_objects(data, 10**7) == objects_in(value)


def test_ext_types_and_big_containers_are_counted() -> None:
    data = msgpack.packb([msgpack.ExtType(5, b"x" * 300), list(range(70_000))], use_bin_type=True)
    assert wire.count_objects(data, 10**6) == 1 + 1 + 1 + 70_000


def test_millions_of_declared_objects_are_refused_without_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("decoded")

    monkeypatch.setattr(msgpack, "unpackb", boom)
    bomb = b"\xdd" + (15_000_000).to_bytes(4, "big") + b"\x90" * 1000
    with pytest.raises(MalformedFrame, match="more than 32 msgpack objects"):
        wire.parse_frame(bomb, wire.DEFAULT_MAX_FRAME, {"req": 2})
    nested = b"\x93\xa3req\x02" + b"\x91" * 40 + b"\xc0"  # a chain of one-item arrays
    with pytest.raises(MalformedFrame, match="more than 32"):
        wire.parse_frame(nested, wire.DEFAULT_MAX_FRAME, {"req": 2})


@pytest.mark.parametrize(
    "data",
    [b"", b"\x92\x01", b"\xc4\x05ab", b"\xdb\x00\x00\x00\x10abc", b"\xc1", b"\x93\x01\xc1\x02"],
)
def test_truncated_or_invalid_msgpack_is_refused(data: bytes) -> None:
    with pytest.raises(MalformedFrame):
        wire.count_objects(data, 100)


def test_every_outer_frame_of_the_protocol_fits() -> None:
    body = {"id": "w" * 253, "pub": b"p" * 32, "nonce": b"n" * 64, "proof": b"x" * 120}
    auth = wire.frame("auth", body)
    reply = wire.frame(
        "authrep",
        {
            "status": "accepted",
            "nonce": b"n" * 64,
            "challenge": b"c" * 24,
            "master_pub": b"a" * 32,
            "master_sign_pub": b"s" * 32,
            "sealed": b"x",
        },
    )
    for data, kinds in [
        (auth, {"auth": 1}),
        (reply, {"authrep": 1}),
        (wire.frame("req", "web1", b"boxed" * 1000), {"req": 2}),
        (wire.frame("rep", b"boxed"), {"rep": 1}),
        (wire.frame("pub", 7, b"sealed" * 1000), {"pub": 2}),
    ]:
        wire.parse_frame(data, wire.DEFAULT_MAX_FRAME, kinds)
