"""ArchiveWriter: a push-style, incremental encoder of version-1 archives.

The snapshot engine calls :meth:`ArchiveWriter.add` per object and
:meth:`ArchiveWriter.finish` once; each returns the gzip bytes produced so
far (often ``b""``: deflate buffers internally), which the caller appends
to its upload. Nothing is kept but the deflate state, a running sha256
and byte count of the output, and the index (paths and counts), so memory
does not grow with object bodies.

Output is deterministic for equal input on one zlib build: the gzip header
carries no name and mtime 0, every tar member has mode 0644, uid/gid 0, no
user names, and the mtime given to the constructor (the time the snapshot
started, the only time known before the first object is written).

Each API path may be added once. Resolving several versions of an object
(e.g. a watch event after a LIST) is the engine's job, before ``add``.
"""

from __future__ import annotations

import hashlib
import zlib
from datetime import datetime

import orjson

from k8ssnap.archive import layout, tarstream
from k8ssnap.archive.index import ArchiveIndex, SnapshotMeta, count_key


class ArchiveWriter:
    """Encodes one archive. Not thread-safe; use from one task."""

    __slots__ = (
        "_counts",
        "_deflate",
        "_index",
        "_mtime",
        "_paths",
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
        self._deflate = zlib.compressobj(level, zlib.DEFLATED, 31)  # 31: gzip wrapper
        self._sha256 = hashlib.sha256()
        self._size = 0
        self._tar_bytes = 0
        self._paths: set[str] = set()
        self._counts: dict[str, int] = {}
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
        self._check_open()
        key = count_key(path)  # validates the path
        if path in self._paths:
            raise ValueError(f"duplicate archive path {path!r}")
        out = self._start()
        self._paths.add(path)
        self._counts[key] = self._counts.get(key, 0) + 1
        return out + self._member(layout.entry_name(self._snapshot, path), body)

    def finish(self, meta: SnapshotMeta) -> bytes:
        """Write the index and the end of the archive; return the remaining output."""
        self._check_open()
        out = self._start()
        index = ArchiveIndex.build(snapshot_name=self._snapshot, meta=meta, paths=self._paths)
        out += self._member(layout.index_name(self._snapshot), index.to_json())
        tail = self._deflate.compress(tarstream.encode_end(self._tar_bytes))
        self._index = index
        self._paths.clear()  # the index holds them now
        return out + self._emit(tail + self._deflate.flush())

    def _check_open(self) -> None:
        if self._index is not None:
            raise RuntimeError("the archive is already finished")

    def _start(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        marker = {"format": layout.FORMAT_NAME, "version": layout.FORMAT_VERSION}
        body = orjson.dumps(marker, option=orjson.OPT_SORT_KEYS)
        return self._member(layout.marker_name(self._snapshot), body)

    def _member(self, name: str, body: bytes) -> bytes:
        raw = tarstream.encode_member(name, body, mtime=self._mtime)
        self._tar_bytes += len(raw)
        return self._emit(self._deflate.compress(raw))

    def _emit(self, data: bytes) -> bytes:
        self._sha256.update(data)
        self._size += len(data)
        return data
