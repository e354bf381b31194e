"""Wire limits: a frame's msgpack objects and depth counted from its marker bytes before
anything is decoded, and frame sizes by kind."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fluxforge.config import MasterConfig, MinionConfig
from fluxforge.errors import FrameTooLarge, MalformedFrame
from fluxforge.grains.core import all_grains
from fluxforge.master.requests import GRAINS_DEPTH
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


# -- inner bodies: objects and depth, before decoding ---------------------------


def nested(levels: int) -> bytes:
    """``levels`` one-item arrays around a nil."""
    return b"\x91" * levels + b"\xc0"


@given(values)
def test_the_depth_matches_how_deep_containers_nest(value: Any) -> None:
    def depth(v: Any) -> int:
        items = list(v.values()) if isinstance(v, dict) else v if isinstance(v, list) else None
        return 1 + max((depth(i) for i in items), default=-1) if items else 0

    data = msgpack.packb(value, use_bin_type=True)
    assert wire.scan_objects(data, 10**7, 1000) == (objects_in(value), depth(value))


def test_deep_nesting_is_refused_at_the_first_marker_too_deep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert wire.scan_objects(nested(wire.INNER_DEPTH), 100, wire.INNER_DEPTH)[1] == 32
    monkeypatch.setattr(msgpack, "unpackb", lambda *a, **k: pytest.fail("decoded"))
    with pytest.raises(MalformedFrame, match="more than 32 deep"):
        wire.unpack_inner(nested(500))


def test_a_body_of_a_million_keys_is_refused_from_its_header(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = msgpack.packb({"t": "event", "body": {str(i): 0 for i in range(1_000_000)}})
    monkeypatch.setattr(msgpack, "unpackb", lambda *a, **k: pytest.fail("decoded"))
    with pytest.raises(MalformedFrame, match="more than 100000 msgpack objects"):
        wire.unpack_inner(body)


def test_the_inner_limits_let_big_ordinary_bodies_through() -> None:
    ret = {"pkgs": {f"package-{i}": f"1.{i}" for i in range(20_000)}, "blob": b"x" * 2**20}
    assert wire.unpack_inner(wire.pack(ret)) == ret


def test_extension_types_are_refused_inside() -> None:
    data = msgpack.packb({"x": msgpack.ExtType(1, b"abc")})
    assert isinstance(wire.unpack(data)["x"], msgpack.ExtType)
    with pytest.raises(MalformedFrame, match="not valid msgpack"):
        wire.unpack_inner(data)


def test_check_inner_names_what_it_refuses() -> None:
    wire.check_inner(wire.pack({"a": [1, 2]}), "a ret request")
    with pytest.raises(MalformedFrame, match="a ret request: frame nests"):
        wire.check_inner(nested(40), "a ret request")


# -- outer frames: size by kind -------------------------------------------------


def test_an_auth_frame_over_its_size_is_refused_before_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sizes = {"auth": wire.AUTH_MOST_BYTES}
    kinds = {"auth": 1, "req": 2}
    biggest = wire.frame("auth", {"id": "w" * 253, "pub": b"p" * 32, "nonce": b"n" * 64})
    assert len(biggest) < wire.AUTH_MOST_BYTES
    wire.parse_frame(biggest, wire.DEFAULT_MAX_FRAME, kinds, sizes)
    big = wire.frame("auth", {"id": "w", "pub": b"p" * 32, "nonce": b"n" * 2**20})
    # A req frame of the same size is fine: the limit is the kind's.
    wire.parse_frame(wire.frame("req", "w", b"n" * 2**20), wire.DEFAULT_MAX_FRAME, kinds, sizes)
    with monkeypatch.context() as m:
        m.setattr(msgpack, "unpackb", lambda *a, **k: pytest.fail("decoded"))
        too_big = r"auth frame of 1048\d+ bytes is over the limit of 1024"
        with pytest.raises(FrameTooLarge, match=too_big):
            wire.parse_frame(big, wire.DEFAULT_MAX_FRAME, kinds, sizes)
    # Spelled with a longer string header, the kind is found after decoding.
    sly = b"\x93\xd9\x04auth" + bytes([wire.PROTOCOL_VERSION]) + big[7:]
    assert wire.unpack(sly)[0] == "auth"
    with pytest.raises(FrameTooLarge, match="over the limit of 1024"):
        wire.parse_frame(sly, wire.DEFAULT_MAX_FRAME, kinds, sizes)


def test_ordinary_grains_are_far_inside_the_limits() -> None:
    packed = wire.pack(wire.plain(all_grains(MinionConfig())))
    objects, depth = wire.scan_objects(packed, wire.INNER_MOST, wire.INNER_DEPTH)
    master = MasterConfig()
    assert len(packed) * 20 < master.max_grains_size
    assert objects * 20 < master.max_grains_objects
    assert depth * 4 <= GRAINS_DEPTH
