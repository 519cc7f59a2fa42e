"""etcd's snapshot stream protocol: the SHA-256 that ends it, and every way it can be broken."""

from __future__ import annotations

import hashlib

import pytest

from k8ssnap.errors import SnapshotIntegrityError
from k8ssnap.etcd import wire
from k8ssnap.etcd.stream import SnapshotVerifier
from k8ssnap.etcd.wire import SnapshotChunk

DB = bytes(range(256)) * 40  # 10240 bytes
SHA = hashlib.sha256(DB).digest()
END = SnapshotChunk(remaining_bytes=0, blob=SHA)
WRONG = SnapshotChunk(remaining_bytes=0, blob=hashlib.sha256(b"x").digest())


def _chunks(db: bytes, size: int) -> list[SnapshotChunk]:
    out, sent = [], 0
    while sent < len(db):
        blob = db[sent : sent + size]
        sent += len(blob)
        out.append(SnapshotChunk(remaining_bytes=len(db) - sent, blob=blob))
    return out


def _run(messages: list[SnapshotChunk]) -> tuple[SnapshotVerifier, bytes]:
    verifier = SnapshotVerifier()
    stored = b"".join(verifier.feed(m) for m in messages)
    verifier.finish()
    return verifier, stored


@pytest.mark.parametrize("size", [1, 4096, 5000, 10240, 20000])
def test_a_whole_stream_is_stored_as_etcdctl_saves_it(size: int) -> None:
    verifier, stored = _run([*_chunks(DB, size), SnapshotChunk(remaining_bytes=0, blob=SHA)])
    assert stored == DB + SHA  # database then checksum, as `etcdctl snapshot save` writes
    assert verifier.db_size == len(DB)
    assert verifier.sha256 == SHA.hex()


def test_an_empty_last_data_chunk_before_the_checksum_is_accepted() -> None:
    # etcd sends remaining 0 with a full last buffer; a DB of exactly N buffers is the same case
    messages = [*_chunks(DB, 5120), SnapshotChunk(remaining_bytes=0, blob=SHA)]
    assert _run(messages)[1] == DB + SHA


@pytest.mark.parametrize(
    ("messages", "says"),
    [
        (_chunks(DB, 4096)[:1], "truncated"),
        (_chunks(DB, 4096), "before its SHA-256"),
        ([], "unknown number"),
        ([*_chunks(DB, 4096), WRONG], "does not match"),
        ([*_chunks(DB, 4096), SnapshotChunk(remaining_bytes=0, blob=SHA[:16])], "32-byte SHA-256"),
        ([*_chunks(DB, 4096), SnapshotChunk(remaining_bytes=5, blob=SHA)], "32-byte SHA-256"),
        ([*_chunks(DB, 4096), END, SnapshotChunk(remaining_bytes=0, blob=b"more")], "after"),
        ([_chunks(DB, 4096)[0], SnapshotChunk(remaining_bytes=9999, blob=b"abc")], "inconsistent"),
        ([SnapshotChunk(remaining_bytes=0, blob=b"")], "empty database"),
    ],
)  # fmt: skip
def test_a_broken_stream_is_refused(messages: list[SnapshotChunk], says: str) -> None:
    with pytest.raises(SnapshotIntegrityError) as caught:
        _run(messages)
    assert says in caught.value.reason


def test_a_flipped_byte_is_caught_by_the_checksum() -> None:
    chunks = _chunks(DB, 4096)
    bad = bytearray(chunks[1].blob)
    bad[7] ^= 1
    chunks[1] = SnapshotChunk(remaining_bytes=chunks[1].remaining_bytes, blob=bytes(bad))
    with pytest.raises(SnapshotIntegrityError, match="does not match"):
        _run([*chunks, SnapshotChunk(remaining_bytes=0, blob=SHA)])


def test_wire_round_trip_of_a_snapshot_response() -> None:
    raw = wire.encode_snapshot_response(remaining_bytes=1 << 40, blob=b"abc")
    assert wire.decode_snapshot_response(raw) == SnapshotChunk(remaining_bytes=1 << 40, blob=b"abc")


def test_wire_skips_unknown_fields_and_decodes_status() -> None:
    header = wire.encode_varint_field(3, 1234) + wire.encode_varint_field(99, 7)
    raw = (
        wire.encode_bytes_field(1, header)
        + wire.encode_bytes_field(2, b"3.5.35")
        + wire.encode_varint_field(3, 4096)
        + wire.encode_bytes_field(50, b"future field")
    )
    status = wire.decode_status(raw)
    assert (status.version, status.db_size, status.header.revision) == ("3.5.35", 4096, 1234)


@pytest.mark.parametrize(
    "raw", [b"\x1a\x05ab", b"\x10", b"\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", b"\x1b"]
)
def test_wire_refuses_malformed_messages(raw: bytes) -> None:
    with pytest.raises(wire.WireError):
        wire.decode_snapshot_response(raw)
