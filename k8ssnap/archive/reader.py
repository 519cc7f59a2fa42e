"""ArchiveReader: a push-style decoder of k8ssnap and k8s-snap archives.

The restore engine feeds the bytes of an archive as they arrive from the
object store; :meth:`ArchiveReader.feed` returns the object entries each
chunk completed, and :meth:`ArchiveReader.close` checks the end and
returns a :class:`ReadSummary` with the sha256 and size of the compressed
input, to compare with the :class:`~k8ssnap.archive.index.StoredRecord`.

Everything wrong with the input raises :class:`~k8ssnap.errors.ArchiveError`:
bad gzip, bad tar headers, truncation (checked at close), an unknown format
version, data after the gzip member or after the tar end marker, entries
outside the snapshot directory, and for version 1 a missing or wrong index.

Version detection: an archive whose first entry is ``<snap>/k8ssnap-format.json``
is version 1 (and that file must say so); any other first entry means a
k8s-snap archive (version 0), whose legacy entry names are mapped to API
paths and whose ``snapshot.json`` (it holds a kubeconfig) is skipped.

Decompression happens in bounded steps, so a small compressed chunk that
inflates enormously is processed piecewise rather than in one allocation;
:meth:`ArchiveReader.steps` hands each step to the caller, which can yield
to its event loop in between. Every input is bounded (:mod:`k8ssnap.limits`):
an object entry's size and its JSON's shape (:mod:`k8ssnap.archive.bounds`),
the index's size, and the NUL padding after the tar end marker.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from k8ssnap import limits
from k8ssnap.archive import bounds, layout
from k8ssnap.archive.index import ArchiveIndex, count_key
from k8ssnap.archive.tarstream import MAX_ENTRY_SIZE, Member, TarParser
from k8ssnap.errors import ArchiveError

INFLATE_STEP = 1024 * 1024
_DIGEST_MODULUS = 2**128


def path_digest(paths: Iterable[str]) -> int:
    """An order-independent digest of a multiset of paths (sum of hashes).

    Lets the reader check that the archived objects are exactly the index's
    paths without keeping a second copy of 100k paths in memory.
    """
    total = 0
    for path in paths:
        total += int.from_bytes(hashlib.sha256(path.encode()).digest()[:16], "big")
    return total % _DIGEST_MODULUS


@dataclass(frozen=True, slots=True)
class Entry:
    """One archived object: its API path and its JSON body."""

    path: str
    body: bytes


@dataclass(frozen=True, slots=True)
class ReadSummary:
    """What :meth:`ArchiveReader.close` learned about a complete, valid archive."""

    sha256: str
    size: int
    version: int
    snapshot_name: str
    count: int
    counts: dict[str, int] = field(default_factory=dict)
    index: ArchiveIndex | None = None


class ArchiveReader:
    """Decodes one archive. Not thread-safe; use from one task."""

    __slots__ = (
        "_closed",
        "_counts",
        "_digest",
        "_index",
        "_inflate",
        "_sha256",
        "_size",
        "_snapshot",
        "_tar",
        "_version",
    )

    def __init__(self, *, max_entry_size: int = MAX_ENTRY_SIZE) -> None:
        self._inflate = zlib.decompressobj(wbits=31)  # 31: gzip wrapper only
        self._tar = TarParser(size_limit=lambda name: _size_limit(name, max_entry_size))
        self._sha256 = hashlib.sha256()
        self._size = 0
        self._snapshot: str | None = None
        self._version: int | None = None
        self._index: ArchiveIndex | None = None
        self._counts: dict[str, int] = {}
        self._digest = 0
        self._closed = False

    @property
    def sha256(self) -> str:
        """Hex sha256 of the compressed bytes fed so far."""
        return self._sha256.hexdigest()

    @property
    def size(self) -> int:
        """Number of compressed bytes fed so far."""
        return self._size

    def feed(self, chunk: bytes) -> list[Entry]:
        """Consume the next bytes of the archive; return the objects they completed."""
        return [entry for step in self.steps(chunk) for entry in step]

    def steps(self, chunk: bytes) -> Iterator[list[Entry]]:
        """Like :meth:`feed`, one inflate step (at most INFLATE_STEP bytes out) per item.

        Consume the iterator to its end before the next call. An async caller
        yields to its loop between items, so a chunk that inflates a
        thousandfold does not hold the loop for the whole inflation.
        """
        if self._closed:
            raise RuntimeError("the reader is closed")
        self._sha256.update(chunk)
        self._size += len(chunk)
        if self._inflate.eof:
            if chunk:
                raise ArchiveError("archive has trailing data after the gzip stream")
            return
        yield from self._inflate_steps(chunk)

    def _inflate_steps(self, chunk: bytes) -> Iterator[list[Entry]]:
        """Inflate ``chunk`` in bounded steps, parsing tar members as they complete."""
        pending = chunk
        while True:
            try:
                data = self._inflate.decompress(pending, INFLATE_STEP)
            except zlib.error as error:
                raise ArchiveError(f"archive is corrupt: bad gzip data ({error})") from None
            yield [entry for member in self._tar.feed(data) for entry in self._entry(member)]
            pending = self._inflate.unconsumed_tail
            if self._inflate.eof:
                if self._inflate.unused_data:
                    raise ArchiveError("archive has trailing data after the gzip stream")
                return
            if not pending and len(data) < INFLATE_STEP:
                return

    def close(self) -> ReadSummary:
        """Check that the archive was complete and valid; return what was read."""
        self._closed = True
        if self._size == 0:
            raise ArchiveError("archive is empty")
        if not self._inflate.eof:
            raise ArchiveError("archive is truncated: the gzip stream did not end")
        self._tar.close()
        if self._snapshot is None or self._version is None:
            raise ArchiveError("archive holds no entries")
        if self._version == layout.FORMAT_VERSION:
            self._check_index()
        counts = dict(sorted(self._counts.items()))
        return ReadSummary(
            sha256=self.sha256,
            size=self._size,
            version=self._version,
            snapshot_name=self._snapshot,
            count=sum(counts.values()),
            counts=counts,
            index=self._index,
        )

    def _entry(self, member: Member) -> list[Entry]:
        snapshot, rest = layout.split_entry(member.name)
        if self._snapshot is None:
            self._snapshot = snapshot
            if rest == layout.MARKER:
                self._version = _marker_version(member.body)
                return []
            self._version = layout.LEGACY_VERSION
        elif snapshot != self._snapshot:
            raise ArchiveError(f"archive entry {member.name!r} is outside {self._snapshot}/")
        if self._index is not None:
            raise ArchiveError(f"archive entry {member.name!r} follows the index")
        if self._version == layout.FORMAT_VERSION and rest == layout.INDEX:
            bounds.check_json(member.body, what=member.name, max_commas=limits.MAX_INDEX_SIZE)
            self._index = ArchiveIndex.from_json(member.body)
            return []
        if self._version == layout.LEGACY_VERSION and rest == layout.LEGACY_SNAPSHOT:
            return []  # k8s-snap's Snapshot resource, kubeconfig included: never surfaced
        bounds.check_json(member.body, what=member.name)
        path = layout.object_path(rest, member.body)
        key = count_key(path)
        self._counts[key] = self._counts.get(key, 0) + 1
        self._digest = (self._digest + path_digest((path,))) % _DIGEST_MODULUS
        return [Entry(path, member.body)]

    def _check_index(self) -> None:
        index = self._index
        if index is None:
            raise ArchiveError("archive is truncated: it has no index")
        if index.snapshot_name != self._snapshot:
            raise ArchiveError(
                f"archive index names snapshot {index.snapshot_name!r}, not {self._snapshot!r}"
            )
        if dict(index.counts) != self._counts or path_digest(index.paths) != self._digest:
            raise ArchiveError("archive index does not match the archived objects")


def _size_limit(name: str, max_entry_size: int) -> int:
    """The index may be larger than an object (one path per object); every other entry is an object."""
    _, _, rest = name.partition("/")
    return max(limits.MAX_INDEX_SIZE, max_entry_size) if rest == layout.INDEX else max_entry_size


def _marker_version(body: bytes) -> int:
    try:
        marker: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ArchiveError("archive format marker is not JSON") from None
    if not isinstance(marker, dict) or marker.get("format") != layout.FORMAT_NAME:
        raise ArchiveError("archive format marker is not a k8ssnap-archive marker")
    version = marker.get("version")
    if version != layout.FORMAT_VERSION or isinstance(version, bool):
        raise ArchiveError(f"unknown archive format version {version!r}")
    return layout.FORMAT_VERSION
