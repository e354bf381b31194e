"""Frames on the wire: msgpack encoding, size limits and shape checks.

Every frame that arrives from the network passes through :func:`unpack`
(size checked before a byte is decoded) and then through :func:`check`
against the shape its type declares. The request types the master serves
over the request channel are the explicit, versioned allow-list
:data:`REQUEST_TYPES`; anything else is refused before dispatch.

Frames (all msgpack arrays; ``V`` is :data:`PROTOCOL_VERSION`)::

    publication  topic, ["pub", V, gen, sealed]   PUB -> SUB, two zmq frames
    targeted     topic, ["mpub", V, sealed]        PUB -> SUB, sealed to that topic's minion
    auth         ["auth", V, {id, pub, nonce, proof}]   DEALER -> ROUTER, clear
                 proof = nil, or Box({id, nonce, challenge}) from the minion's key
    auth reply   ["authrep", V, {status, nonce, challenge, master_pub, master_sign_pub, sealed}]
    request      ["req", V, id, boxed]             boxed = Box({t, rid, tok, seq, body})
    reply        ["rep", V, boxed]                 boxed = Box({rid, tok, seq, ok, body, error})

A publication's first zmq frame is its topic: :data:`BROADCAST_TOPIC` for
every minion, or :func:`minion_topic` for one. Topics are not secret (any
subscriber may ask for every topic); what keeps a targeted job from other
minions is that ``mpub`` is sealed to its minion's own key.
"""

from __future__ import annotations

import datetime
import pathlib
import threading
from collections.abc import Mapping
from typing import Any

import msgpack

from fluxforge.errors import FrameTooLarge, MalformedFrame

PROTOCOL_VERSION = 3
DEFAULT_MAX_FRAME = 16 * 1024 * 1024
# The most msgpack objects an outer frame may hold (see parse_frame).
OUTER_MOST = 32
# The largest auth frame: an id of 253 characters, a 32-byte key and a nonce of
# at most 64 bytes fit in under 400 bytes.
AUTH_MOST_BYTES = 1024
# The largest auth reply: two public keys and a sealed grant, about 350 bytes today.
AUTH_REPLY_MOST_BYTES = 4096
# The most msgpack objects, and the deepest nesting of containers, in a body
# decoded from inside a Box or a signed publication (see scan_objects). Both
# sides know them: a minion refuses to send a request that breaks them.
INNER_MOST = 100_000
INNER_DEPTH = 32

Number = (int, float)
Any_ = object

# The request types the master serves, and the body each must have.
# Adding a type here is a protocol change: document it in docs/protocol.md.
REQUEST_TYPES: dict[str, dict[str, Any]] = {
    "ret": {
        "jid": str,
        "fun": str,
        "fun_args": list,
        "return": Any_,
        "retcode": int,
        "success": bool,
        "duration": Number,
    },
    # A running job's heartbeat; ``data`` says what it is doing ({} for a bare heartbeat).
    "prog": {"jid": str, "fun": str, "elapsed": Number, "data": dict},
    "event": {"tag": str, "data": dict},
    # The minion's grains, sent after every authentication and on every change.
    "grains": {"grains": dict},
    # This minion's pillar, compiled on the master; ``env`` "" means every environment.
    "pillar": {"env": str},
    # The file server: list the files under a folder, one file's hash, a chunk of a file.
    "file_list": {"env": str, "prefix": str},
    "file_hash": {"env": str, "path": str},
    "file_fetch": {"env": str, "path": str, "offset": int},
}

AUTH_SHAPE = {"id": str, "pub": bytes, "nonce": bytes, "proof": (bytes, type(None))}
# Inside an auth request's proof: the Box from the minion's key is the proof of
# possession, the challenge (from the master's first answer) makes it fresh.
PROOF_SHAPE = {"id": str, "nonce": bytes, "challenge": bytes}
AUTH_REPLY_SHAPE = {
    "status": str,
    "nonce": bytes,
    "challenge": (bytes, type(None)),
    "master_pub": bytes,
    "master_sign_pub": bytes,
    "sealed": (bytes, type(None)),
}
SESSION_SHAPE = {
    "nonce": bytes,
    "sign_pub": bytes,
    "session": bytes,
    "gen": int,
    "token": bytes,
    "time": Number,
}
REQUEST_SHAPE = {"t": str, "rid": int, "tok": bytes, "seq": int, "body": dict}
# A reply names the request it answers by its token and sequence as well as its id.
REPLY_SHAPE = {
    "rid": int,
    "tok": bytes,
    "seq": int,
    "ok": bool,
    "body": Any_,
    "error": (str, type(None)),
}
PUBLICATION_SHAPE = {
    "jid": str,
    "tgt": (str, list),
    "tgt_type": str,
    "fun": str,
    "arg": list,
    "kwarg": dict,
    "user": str,
    "ret": str,
    "timeout": Number,
}


def _default(obj: Any) -> Any:
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    if isinstance(obj, datetime.datetime | datetime.date):
        return obj.isoformat()
    if isinstance(obj, pathlib.PurePath):
        return str(obj)
    return repr(obj)


def plain(value: Any) -> Any:
    """``value`` with every mapping key made text, as a peer's strict decoder needs.

    Frames are decoded with string-only map keys (no hash games with
    arbitrary keys), so a return such as ``{1: "x"}`` travels as ``{"1": "x"}``.
    A value nested past Python's recursion limit is a :class:`MalformedFrame`.
    """
    try:
        return _plain(value)
    except RecursionError:
        raise MalformedFrame("value nests too deeply") from None


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k if isinstance(k, str) else str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


_local = threading.local()


def pack(obj: Any) -> bytes:
    """Encode ``obj`` as msgpack; values msgpack lacks become strings or lists."""
    # One Packer per thread: msgpack.packb would build a new one for every call.
    try:
        packer = _local.packer
    except AttributeError:
        packer = _local.packer = msgpack.Packer(use_bin_type=True, default=_default)
    try:
        return packer.pack(obj)
    except BaseException:
        _local.packer = msgpack.Packer(use_bin_type=True, default=_default)
        raise


# What the marker byte of each msgpack type says: (bytes of a length or count
# field, fixed bytes after it, the kind of what follows: "" scalar or bytes,
# "array" or "map" a container of that many items).
_SIZED: dict[int, tuple[int, int, str]] = {
    0xC4: (1, 0, ""), 0xC5: (2, 0, ""), 0xC6: (4, 0, ""),  # bin 8/16/32
    0xC7: (1, 1, ""), 0xC8: (2, 1, ""), 0xC9: (4, 1, ""),  # ext 8/16/32 (+ type byte)
    0xD9: (1, 0, ""), 0xDA: (2, 0, ""), 0xDB: (4, 0, ""),  # str 8/16/32
    0xDC: (2, 0, "array"), 0xDD: (4, 0, "array"),
    0xDE: (2, 0, "map"), 0xDF: (4, 0, "map"),
}  # fmt: skip
_FIXED = {0xCA: 4, 0xCB: 8, 0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8, 0xD0: 1, 0xD1: 2, 0xD2: 4}
_FIXED |= {0xD3: 8, 0xD4: 2, 0xD5: 3, 0xD6: 5, 0xD7: 9, 0xD8: 17}  # int64, fixext + type


def count_objects(data: bytes, most: int) -> int:
    """How many msgpack objects ``data`` holds, read from the marker bytes alone.

    Nothing is decoded and no object is made: each marker says how long its
    value is or how many items follow, so a frame that would hold more than
    ``most`` objects (a few bytes can declare millions of empty arrays) is
    refused with :class:`MalformedFrame` after reading at most ``most``
    markers. Truncated data is refused too.
    """
    return scan_objects(data, most)[0]


def scan_objects(data: bytes, most: int, deepest: int | None = None) -> tuple[int, int]:
    """``(objects, depth)`` of the msgpack value in ``data``, from its marker bytes alone.

    As :func:`count_objects`, and with ``deepest``, a value whose containers
    nest more than ``deepest`` levels (a scalar is depth 0, ``[1]`` depth 1)
    is refused when the marker that goes too deep is read: 500 nested
    arrays cost 33 markers, not a recursion through every decoder after it.
    """
    pos, end, count, pending = 0, len(data), 0, 1
    # Items still to read in each open container; the depth is its length.
    open_items: list[int] = []
    depth = 0
    limit = deepest if deepest is not None else most + 1
    while pending:
        if pos >= end:
            raise MalformedFrame("frame is not valid msgpack (truncated)")
        marker = data[pos]
        pos += 1
        pending -= 1
        count += 1
        items = 0
        if marker <= 0x7F or marker >= 0xE0 or marker in (0xC0, 0xC2, 0xC3):
            pass  # fixint, nil, false, true
        elif marker <= 0x8F:
            items = 2 * (marker & 0x0F)  # fixmap: keys and values
        elif marker <= 0x9F:
            items = marker & 0x0F  # fixarray
        elif marker <= 0xBF:
            pos += marker & 0x1F  # fixstr
        elif marker in _FIXED:
            pos += _FIXED[marker]
        elif marker in _SIZED:
            width, extra, kind = _SIZED[marker]
            size = int.from_bytes(data[pos : pos + width], "big")
            pos += width
            if kind == "array":
                items = size
            elif kind == "map":
                items = 2 * size
            else:
                pos += extra + size
        else:
            raise MalformedFrame(f"frame is not valid msgpack (marker 0x{marker:02x})")
        pending += items
        if count + pending > most:
            raise MalformedFrame(f"frame holds more than {most} msgpack objects")
        if open_items:
            open_items[-1] -= 1
        if items:
            open_items.append(items)
            if len(open_items) > depth:
                depth = len(open_items)
                if depth > limit:
                    raise MalformedFrame(f"frame nests containers more than {limit} deep")
        else:
            while open_items and not open_items[-1]:
                open_items.pop()
    if pos > end:
        raise MalformedFrame("frame is not valid msgpack (truncated)")
    return count, depth


def unpack(
    data: bytes, limit: int = DEFAULT_MAX_FRAME, most: int | None = None, deepest: int | None = None
) -> Any:
    """Decode one frame, refusing it before decoding when it is over ``limit`` bytes.

    With ``most``, a frame that holds more than ``most`` msgpack objects (or,
    with ``deepest``, nests deeper) is refused before decoding as well
    (:func:`scan_objects`), and msgpack's own limits refuse any string,
    binary, array or map longer than these bounds, and every extension type
    (the protocol uses none).
    """
    if len(data) > limit:
        raise FrameTooLarge(f"frame of {len(data)} bytes is over the limit of {limit}")
    try:
        if most is None:
            return msgpack.unpackb(data, raw=False, strict_map_key=True)
        scan_objects(data, most, deepest)
        return msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            max_str_len=limit,
            max_bin_len=limit,
            max_array_len=most,
            max_map_len=most,
            max_ext_len=0,
        )
    except MalformedFrame:
        raise
    except Exception as exc:  # msgpack raises many unrelated types
        raise MalformedFrame(f"frame is not valid msgpack ({type(exc).__name__})")


def unpack_inner(data: bytes, limit: int = DEFAULT_MAX_FRAME) -> Any:
    """Decode a body opened from a Box or a signed publication, within the inner limits.

    :data:`INNER_MOST` objects and :data:`INNER_DEPTH` levels, checked from
    the marker bytes before anything is decoded.
    """
    return unpack(data, limit, INNER_MOST, INNER_DEPTH)


def check_inner(data: bytes, what: str) -> None:
    """Refuse (:class:`MalformedFrame`) packed ``data`` that a peer's :func:`unpack_inner` would."""
    try:
        scan_objects(data, INNER_MOST, INNER_DEPTH)
    except MalformedFrame as exc:
        raise MalformedFrame(f"{what}: {exc}") from None


_COMPILED: dict[int, list[tuple[str, Any, bool]]] = {}


def _compiled(shape: Mapping[str, Any]) -> list[tuple[str, Any, bool]]:
    """``(key, type, refuse bool)`` for each typed field of ``shape``, computed once."""
    fields = _COMPILED.get(id(shape))
    if fields is None:
        fields = [
            (key, tp, tp in (int, Number) and tp is not bool)
            for key, tp in shape.items()
            if tp is not Any_
        ]
        _COMPILED[id(shape)] = fields
    return fields


def check(obj: Any, shape: Mapping[str, Any], what: str) -> dict[str, Any]:
    """Check that ``obj`` is a mapping with exactly the keys of ``shape`` and their types."""
    if not isinstance(obj, dict):
        raise MalformedFrame(f"{what}: expected a mapping, got {type(obj).__name__}")
    if obj.keys() != shape.keys():
        missing = [k for k in shape if k not in obj]
        if missing:
            raise MalformedFrame(f"{what}: missing field {missing[0]!r}")
        extra = [k for k in obj if k not in shape]
        raise MalformedFrame(f"{what}: unexpected field {str(extra[0])[:40]!r}")
    for key, tp, no_bool in _compiled(shape):
        value = obj[key]
        if not isinstance(value, tp) or (no_bool and value.__class__ is bool):
            raise MalformedFrame(f"{what}: field {key!r} has the wrong type")
    return obj


BROADCAST_TOPIC = b"*"


def minion_topic(minion_id: str) -> bytes:
    """The publication topic of one minion; the NUL keeps ``web1`` from matching ``web10``."""
    return b"m:" + minion_id.encode() + b"\x00"


def frame(kind: str, *parts: Any) -> bytes:
    """Build an outer frame ``[kind, version, *parts]``."""
    return pack([kind, PROTOCOL_VERSION, *parts])


def _peek_kind(data: bytes) -> bytes:
    """The kind of an outer frame as the minimal encoding spells it (a fixstr
    after a fixarray marker), or ``b""``: read without decoding anything."""
    if len(data) < 2 or not 0x92 <= data[0] <= 0x9F or not 0xA0 <= data[1] <= 0xBF:
        return b""
    return data[2 : 2 + (data[1] & 0x1F)]


def parse_frame(
    data: bytes,
    limit: int,
    kinds: Mapping[str, int],
    sizes: Mapping[str, int] | None = None,
) -> tuple[str, list[Any]]:
    """Decode an outer frame and check its kind, version and part count.

    ``kinds`` maps each accepted kind to its number of parts after the version.
    An outer frame holds a handful of objects (the biggest, an auth reply,
    16), so one that declares more than :data:`OUTER_MOST` is
    refused from its marker bytes, before anything is decoded: this is what
    an unauthenticated peer can make the master or a minion decode.

    ``sizes`` gives some kinds a byte limit smaller than ``limit`` (an auth
    frame is a few hundred bytes): the kind is read from the first bytes and
    a larger frame is refused before decoding, and checked again after (a
    peer may spell the kind in a longer encoding).
    """
    if sizes:
        small = sizes.get(_peek_kind(data).decode("ascii", "replace"))
        if small is not None and len(data) > small:
            kind = _peek_kind(data).decode("ascii", "replace")
            raise FrameTooLarge(f"{kind} frame of {len(data)} bytes is over the limit of {small}")
    obj = unpack(data, limit, OUTER_MOST)
    if not isinstance(obj, list) or len(obj) < 2:
        raise MalformedFrame("frame is not a [kind, version, ...] array")
    kind, version = obj[0], obj[1]
    if not isinstance(kind, str) or kind not in kinds:
        raise MalformedFrame(f"unknown frame kind {str(kind)[:40]!r}")
    if type(version) is not int or version != PROTOCOL_VERSION:
        raise MalformedFrame(
            f"protocol version {version!r} is not {PROTOCOL_VERSION}; upgrade the older side"
        )
    parts = obj[2:]
    if len(parts) != kinds[kind]:
        raise MalformedFrame(f"{kind} frame has {len(parts)} parts, expected {kinds[kind]}")
    if sizes and kind in sizes and len(data) > sizes[kind]:
        raise FrameTooLarge(f"{kind} frame of {len(data)} bytes is over the limit of {sizes[kind]}")
    return kind, parts
