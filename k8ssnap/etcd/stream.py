"""Checking etcd's snapshot stream as it arrives.

etcd 3.5's ``Maintenance.Snapshot`` (server/etcdserver/api/v3rpc/maintenance.go)
sends the database in chunks, each with ``remaining_bytes`` still to come,
then one last message whose blob is the SHA-256 of all database bytes
(``remaining_bytes`` 0), then closes the stream. etcdctl's ``snapshot save``
writes blobs and checksum alike to the file, so a saved snapshot is the
database followed by 32 bytes, and ``etcdutl snapshot restore`` recognises
the checksum by the file size (``size % 512 == 32``) and verifies it.

:class:`SnapshotVerifier` enforces that protocol: the first message fixes
the database size, every later one must agree with it, the checksum must
follow exactly when the database is complete, match the bytes seen, and be
the last message. A stream that ends early, disagrees with itself, or whose
checksum differs is a :class:`k8ssnap.errors.SnapshotIntegrityError`; the
caller then aborts its upload, so no archive is left.

Memory: one chunk at a time and a running hash.
"""

from __future__ import annotations

import hashlib

from k8ssnap.errors import SnapshotIntegrityError
from k8ssnap.etcd.wire import SnapshotChunk

CHECKSUM_SIZE = 32


class SnapshotVerifier:
    """Feed each message with :meth:`feed`, then call :meth:`finish`. One stream per instance."""

    __slots__ = ("_checksum", "_hash", "_received", "_total")

    def __init__(self) -> None:
        self._total: int | None = None
        self._received = 0
        self._hash = hashlib.sha256()
        self._checksum: bytes | None = None

    def __repr__(self) -> str:
        return (
            f"<SnapshotVerifier {self._received}/{self._total} bytes, checksum {self._checksum is not None}>"
        )

    @property
    def db_size(self) -> int:
        """The database size the first message announced (ValueError before it)."""
        if self._total is None:
            raise ValueError("no message yet")
        return self._total

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the database, once :meth:`finish` accepted it."""
        if self._checksum is None:
            raise ValueError("the stream is not finished")
        return self._checksum.hex()

    def feed(self, chunk: SnapshotChunk) -> bytes:
        """The bytes of ``chunk`` to store (database or checksum); SnapshotIntegrityError if out of order."""
        if self._checksum is not None:
            raise SnapshotIntegrityError("etcd sent more data after the snapshot's SHA-256")
        if self._total is None:
            self._total = chunk.remaining_bytes + len(chunk.blob)
            if self._total == 0:
                raise SnapshotIntegrityError("etcd announced an empty database")
        if self._received < self._total:
            return self._data(chunk, total=self._total)
        return self._final(chunk)

    def _data(self, chunk: SnapshotChunk, *, total: int) -> bytes:
        after = self._received + len(chunk.blob)
        if after + chunk.remaining_bytes != total:
            raise SnapshotIntegrityError(
                f"etcd's snapshot stream is inconsistent: {after} bytes received and "
                f"{chunk.remaining_bytes} announced as remaining, of a {total}-byte database"
            )
        self._received = after
        self._hash.update(chunk.blob)
        return chunk.blob

    def _final(self, chunk: SnapshotChunk) -> bytes:
        if len(chunk.blob) != CHECKSUM_SIZE or chunk.remaining_bytes != 0:
            raise SnapshotIntegrityError(
                f"etcd ended the snapshot with {len(chunk.blob)} bytes where its 32-byte SHA-256 belongs"
            )
        if chunk.blob != self._hash.digest():
            raise SnapshotIntegrityError(
                f"the snapshot's SHA-256 does not match: etcd sent {chunk.blob.hex()[:16]}..., "
                f"the {self._received} bytes received hash to {self._hash.hexdigest()[:16]}..."
            )
        self._checksum = chunk.blob
        return chunk.blob

    def finish(self) -> None:
        """Call when the stream ended; SnapshotIntegrityError unless the checksum arrived."""
        if self._checksum is None:
            raise SnapshotIntegrityError(
                f"etcd's snapshot stream ended after {self._received} of "
                f"{self._total if self._total is not None else 'an unknown number of'} bytes, "
                "before its SHA-256 (truncated)"
            )
