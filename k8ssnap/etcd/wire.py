"""The few etcd protobuf messages k8ssnap reads, decoded by hand.

k8ssnap calls three RPCs of etcd's v3 API (``Maintenance.Status``,
``Maintenance.Snapshot``, ``Cluster.MemberList``), all with empty requests,
and reads a handful of scalar fields from their answers. Decoding those
fields straight from the protobuf wire format (field numbers from etcd's
``api/etcdserverpb/rpc.proto`` at v3.5.35) costs about a hundred lines and
spares a protobuf runtime, generated stubs and their version pinning.
Unknown fields are skipped, as protobuf requires, so newer servers that add
fields still decode.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from k8ssnap.errors import PermanentError

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5


class WireError(PermanentError):
    """A message that is not valid protobuf for the expected type."""


def _varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise WireError("truncated or oversized varint in an etcd message")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def fields(data: bytes | memoryview) -> Iterator[tuple[int, int | bytes]]:
    """``(field number, value)`` per field: ints for varint and fixed, bytes for length-delimited."""
    view = memoryview(data)
    pos = 0
    while pos < len(view):
        tag, pos = _varint(view, pos)
        number, kind = tag >> 3, tag & 7
        if kind == _VARINT:
            value, pos = _varint(view, pos)
            yield number, value
        elif kind == _LEN:
            size, pos = _varint(view, pos)
            if pos + size > len(view):
                raise WireError("a length-delimited field runs past the end of an etcd message")
            yield number, bytes(view[pos : pos + size])
            pos += size
        elif kind in (_I64, _I32):
            width = 8 if kind == _I64 else 4
            if pos + width > len(view):
                raise WireError("a fixed-width field runs past the end of an etcd message")
            yield number, int.from_bytes(view[pos : pos + width], "little")
            pos += width
        else:
            raise WireError(f"unsupported protobuf wire type {kind} in an etcd message")


def _int(value: int | bytes) -> int:
    if not isinstance(value, int):
        raise WireError("expected an integer field in an etcd message")
    return value


def _bytes(value: int | bytes) -> bytes:
    if not isinstance(value, bytes):
        raise WireError("expected a length-delimited field in an etcd message")
    return value


def _signed(value: int) -> int:
    """int64 fields travel as two's-complement varints."""
    return value - (1 << 64) if value >= 1 << 63 else value


@dataclass(frozen=True, slots=True)
class Header:
    """etcdserverpb.ResponseHeader."""

    cluster_id: int = 0
    member_id: int = 0
    revision: int = 0
    raft_term: int = 0


def decode_header(data: bytes) -> Header:
    values: dict[int, int] = {}
    for number, value in fields(data):
        if number in (1, 2, 3, 4):
            values[number] = _int(value)
    return Header(
        cluster_id=values.get(1, 0),
        member_id=values.get(2, 0),
        revision=_signed(values.get(3, 0)),
        raft_term=values.get(4, 0),
    )


@dataclass(frozen=True, slots=True)
class SnapshotChunk:
    """etcdserverpb.SnapshotResponse: ``remaining_bytes`` of database after ``blob``."""

    remaining_bytes: int
    blob: bytes


def decode_snapshot_response(data: bytes) -> SnapshotChunk:
    remaining, blob = 0, b""
    for number, value in fields(data):
        if number == 2:
            remaining = _int(value)
        elif number == 3:
            blob = _bytes(value)
    return SnapshotChunk(remaining_bytes=remaining, blob=blob)


@dataclass(frozen=True, slots=True)
class Status:
    """etcdserverpb.StatusResponse, the fields k8ssnap records."""

    header: Header
    version: str
    db_size: int
    leader: int
    raft_index: int


def decode_status(data: bytes) -> Status:
    header, version, db_size, leader, raft_index = Header(), "", 0, 0, 0
    for number, value in fields(data):
        if number == 1:
            header = decode_header(_bytes(value))
        elif number == 2:
            version = _bytes(value).decode("utf-8", "replace")
        elif number == 3:
            db_size = _signed(_int(value))
        elif number == 4:
            leader = _int(value)
        elif number == 5:
            raft_index = _int(value)
    return Status(header=header, version=version, db_size=db_size, leader=leader, raft_index=raft_index)


@dataclass(frozen=True, slots=True)
class Member:
    """etcdserverpb.Member (IDs as the hex strings etcdctl prints)."""

    id: str
    name: str
    peer_urls: tuple[str, ...]
    client_urls: tuple[str, ...]
    is_learner: bool


def _decode_member(data: bytes) -> Member:
    ident, name, learner = 0, "", False
    peers: list[str] = []
    clients: list[str] = []
    for number, value in fields(data):
        if number == 1:
            ident = _int(value)
        elif number == 2:
            name = _bytes(value).decode("utf-8", "replace")
        elif number == 3:
            peers.append(_bytes(value).decode("utf-8", "replace"))
        elif number == 4:
            clients.append(_bytes(value).decode("utf-8", "replace"))
        elif number == 5:
            learner = bool(_int(value))
    return Member(
        id=f"{ident:x}", name=name, peer_urls=tuple(peers), client_urls=tuple(clients), is_learner=learner
    )


def decode_member_list(data: bytes) -> tuple[Member, ...]:
    """etcdserverpb.MemberListResponse: its members (field 2)."""
    return tuple(_decode_member(_bytes(value)) for number, value in fields(data) if number == 2)


def encode_varint_field(number: int, value: int) -> bytes:
    """One varint field (for tests and fakes that speak etcd's wire format)."""
    return _encode_varint(number << 3 | _VARINT) + _encode_varint(value)


def encode_bytes_field(number: int, value: bytes) -> bytes:
    """One length-delimited field (for tests and fakes that speak etcd's wire format)."""
    return _encode_varint(number << 3 | _LEN) + _encode_varint(len(value)) + value


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_snapshot_response(*, remaining_bytes: int, blob: bytes) -> bytes:
    """A SnapshotResponse as etcd sends it (for fakes)."""
    return encode_varint_field(2, remaining_bytes) + encode_bytes_field(3, blob)
