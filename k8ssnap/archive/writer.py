"""ArchiveWriter: a push-style, incremental encoder of version-1 archives.

The snapshot engine calls :meth:`ArchiveWriter.encode` per batch of objects,
:meth:`ArchiveWriter.compress` on the tar bytes it returned (on a worker
thread: deflate and sha256 release the GIL, so they run beside the listers),
and :meth:`ArchiveWriter.finish` once; :meth:`ArchiveWriter.add` does the
first two for one object. Each returns the gzip bytes produced so far (often
``b""``: deflate buffers internally), which the caller appends to its upload.
Nothing is kept but the deflate state, a running sha256 and byte count of
the output, and the index (paths and counts), so memory does not grow with
object bodies.

Deflate is ISA-L's (python-isal) for levels 1 to 6: about ten times zlib's
speed on API JSON, for archives about 8 % larger than zlib's level 6. The
output is a standard gzip stream whatever the level.

Output is deterministic for equal input on one deflate build: the gzip header
carries no name and mtime 0, every tar member has mode 0644, uid/gid 0, no
user names, and the mtime given to the constructor (the time the snapshot
started, the only time known before the first object is written).

Each API path may be added once. Resolving several versions of an object
(e.g. a watch event after a LIST) is the engine's job, before ``add``.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

import orjson
from isal import isal_zlib

from k8ssnap.archive import layout, tarstream
from k8ssnap.archive.index import ArchiveIndex, SnapshotMeta, count_key

_FLUSH_EVERY = 64 * 1024
"""Uncompressed bytes after which :meth:`ArchiveWriter.compress` makes deflate
give out what it holds (ISA-L keeps up to ~128 KiB otherwise): output keeps
streaming, for about 5 bytes per flush."""


class Deflate(Protocol):
    """A compressobj: zlib's or ISA-L's."""

    def compress(self, data: bytes, /) -> bytes: ...

    def flush(self, mode: int = ..., /) -> bytes: ...


def deflater(level: int) -> Deflate:
    """A gzip-wrapped deflate stream for ``level`` 1 (fast) to 9 (small).

    1 to 6 use ISA-L: its level 1 for 1, its best (3) for 2 to 6. 7 to 9
    keep zlib at that level, for whoever wants the smallest archive.
    """
    if not 1 <= level <= 9:
        raise ValueError(f"gzip level must be 1 to 9, not {level}")
    if level >= 7:
        return zlib.compressobj(level, zlib.DEFLATED, 31)  # 31: gzip wrapper
    return _IsalGzip(level)


class _IsalGzip:
    """ISA-L's raw deflate in the gzip header and trailer zlib writes (RFC 1952).

    The header is byte for byte zlib's for the level: mtime 0, no name, OS 3,
    and XFL 4 for level 1 ("fastest"), else 0, which readers may show.
    """

    __slots__ = ("_crc", "_header", "_raw", "_size")

    def __init__(self, level: int) -> None:
        self._raw = isal_zlib.compressobj(1 if level == 1 else 3, isal_zlib.DEFLATED, -15)
        self._header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00" + (b"\x04" if level == 1 else b"\x00") + b"\x03"
        self._crc = 0
        self._size = 0

    def compress(self, data: bytes, /) -> bytes:
        self._crc = isal_zlib.crc32(data, self._crc)
        self._size += len(data)
        return self._with_header(self._raw.compress(data))

    def flush(self, mode: int = zlib.Z_FINISH, /) -> bytes:
        out = self._with_header(self._raw.flush(mode))
        if mode == zlib.Z_FINISH:
            out += struct.pack("<II", self._crc, self._size & 0xFFFFFFFF)
        return out

    def _with_header(self, out: bytes) -> bytes:
        if not self._header:
            return out
        header, self._header = self._header, b""
        return header + out


class ArchiveWriter:
    """Encodes one archive. Not thread-safe: use it from one task; :meth:`compress`
    may run on a worker thread while that task waits for it."""

    __slots__ = (
        "_counts",
        "_deflate",
        "_index",
        "_keys",
        "_mtime",
        "_paths",
        "_pending",
        "_sha256",
        "_size",
        "_snapshot",
        "_started",
        "_tar_bytes",
    )

    def __init__(self, *, snapshot_name: str, mtime: datetime, level: int = 6) -> None:
        if mtime.tzinfo is None:
            raise ValueError("mtime must be timezone-aware")
        self._snapshot = layout.check_snapshot_name(snapshot_name)
        self._mtime = int(mtime.timestamp())
        self._deflate = deflater(level)
        self._sha256 = hashlib.sha256()
        self._size = 0
        self._tar_bytes = 0
        self._pending = 0
        self._paths: set[str] = set()
        self._counts: dict[str, int] = {}
        self._keys: dict[str, str] = {}  # count key per collection prefix
        self._started = False
        self._index: ArchiveIndex | None = None

    @property
    def sha256(self) -> str:
        """Hex sha256 of all compressed bytes returned so far."""
        return self._sha256.hexdigest()

    @property
    def size(self) -> int:
        """Number of compressed bytes returned so far."""
        return self._size

    @property
    def count(self) -> int:
        """Number of objects added so far."""
        return sum(self._counts.values())

    @property
    def counts(self) -> dict[str, int]:
        """Objects added so far per resource (``v1/pods``, ``apps/v1/deployments``)."""
        return dict(sorted(self._counts.items()))

    @property
    def index(self) -> ArchiveIndex:
        """The index written by :meth:`finish`; RuntimeError before that."""
        if self._index is None:
            raise RuntimeError("the archive is not finished")
        return self._index

    def add(self, path: str, body: bytes) -> bytes:
        """Append the object at API ``path`` with JSON ``body``; return new output.

        ValueError for an invalid or duplicate path; RuntimeError after finish.
        """
        return self.compress(self.encode([(path, body)]))

    def encode(self, entries: Iterable[tuple[str, bytes]]) -> bytes:
        """Record each ``(path, body)`` and return their tar members, not yet compressed.

        The result must go through :meth:`compress` before the next call's.
        ValueError for an invalid or duplicate path, with nothing of the
        batch recorded; RuntimeError after finish.
        """
        self._check_open()
        batch = list(entries)
        keys = [self._count_key(path) for path, _ in batch]  # validates the paths
        paths = {path for path, _ in batch}
        if len(paths) != len(batch) or not paths.isdisjoint(self._paths):
            raise ValueError(f"duplicate archive path {_first_duplicate(batch, self._paths)!r}")
        parts = [self._tar_start()]
        self._paths |= paths
        counts = self._counts
        for (path, body), key in zip(batch, keys, strict=True):
            counts[key] = counts.get(key, 0) + 1
            parts.append(self._tar_member(layout.entry_name(self._snapshot, path), body))
        return b"".join(parts)

    def compress(self, tar: bytes) -> bytes:
        """Deflate ``tar`` (from :meth:`encode`), in order; return the new gzip output.

        Deflate and sha256 release the GIL, so this may run on a worker thread.
        """
        out = self._deflate.compress(tar)
        self._pending += len(tar)
        if self._pending >= _FLUSH_EVERY:
            out += self._deflate.flush(zlib.Z_SYNC_FLUSH)
            self._pending = 0
        return self._emit(out)

    def finish(self, meta: SnapshotMeta) -> bytes:
        """Write the index and the end of the archive; return the remaining output."""
        self._check_open()
        tar = self._tar_start()
        index = ArchiveIndex.build(
            snapshot_name=self._snapshot, meta=meta, paths=self._paths, counts=self._counts
        )
        tar += self._tar_member(layout.index_name(self._snapshot), index.to_json())
        tar += tarstream.encode_end(self._tar_bytes)
        self._index = index
        self._paths.clear()  # the index holds them now
        return self._emit(self._deflate.compress(tar) + self._deflate.flush())

    def _check_open(self) -> None:
        if self._index is not None:
            raise RuntimeError("the archive is already finished")

    def _count_key(self, path: str) -> str:
        """:func:`count_key`, parsing each collection's prefix once: a valid
        prefix and a valid last segment make a valid object path."""
        prefix, _, name = path.rpartition("/")
        key = self._keys.get(prefix)
        if key is None or name in ("", ".", "..") or "%" in name:
            key = count_key(path)  # parses and validates the whole path
            self._keys[prefix] = key
        return key

    def _tar_start(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        marker = {"format": layout.FORMAT_NAME, "version": layout.FORMAT_VERSION}
        body = orjson.dumps(marker, option=orjson.OPT_SORT_KEYS)
        return self._tar_member(layout.marker_name(self._snapshot), body)

    def _tar_member(self, name: str, body: bytes) -> bytes:
        raw = tarstream.encode_member(name, body, mtime=self._mtime)
        self._tar_bytes += len(raw)
        return raw

    def _emit(self, data: bytes) -> bytes:
        self._sha256.update(data)
        self._size += len(data)
        return data


def _first_duplicate(batch: list[tuple[str, bytes]], seen: set[str]) -> str:
    fresh: set[str] = set()
    for path, _ in batch:
        if path in seen or path in fresh:
            return path
        fresh.add(path)
    return ""
