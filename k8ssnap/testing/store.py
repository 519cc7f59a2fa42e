"""An in-memory :class:`~k8ssnap.store.objectstore.ObjectStore`: a bucket as a dict.

:meth:`FakeObjectStore.fail` makes one operation on one key raise;
``check_errors`` are raised by the next ``check`` calls, in order; ``calls``
records ``(operation, key)``. Downloads come in ``chunk``-byte pieces, so
readers see archives split anywhere. Listings carry no user metadata, as S3's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass

from k8ssnap import errors
from k8ssnap.store.objectstore import StoredObject


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


@dataclass
class Blob:
    """One stored object."""

    data: bytes
    metadata: dict[str, str]
    last_modified: dt.datetime
    size: int


class FakeUpload:
    def __init__(self, store: FakeObjectStore, key: str, metadata: Mapping[str, str]) -> None:
        self._store = store
        self._key = key
        self._metadata = dict(metadata)
        self._chunks: list[bytes] = []
        self.aborted = False

    async def write(self, chunk: bytes) -> None:
        self._chunks.append(chunk)

    async def complete(self) -> StoredObject:
        data = b"".join(self._chunks)
        return self._store.add(self._key, data[: len(data) - self._store.short_by], metadata=self._metadata)

    async def abort(self) -> None:
        self.aborted = True


class FakeObjectStore:
    """A bucket in memory. ``fail(op, key, error)`` makes one operation on one key raise."""

    def __init__(
        self, *, bucket: str = "bkt", objects: Mapping[str, bytes] | None = None, chunk: int = 1 << 20
    ) -> None:
        self.bucket = bucket
        self.chunk = chunk
        self.blobs: dict[str, Blob] = {}
        self.calls: list[tuple[str, str]] = []
        self.check_errors: list[Exception] = []
        self.stale_cutoffs: list[tuple[str, dt.datetime]] = []
        self.closed = False
        self.short_by = 0
        """Uploads are stored this many bytes short (a store that loses the tail)."""
        self.chunks_served = 0
        self.downloads_closed = 0
        self._errors: dict[tuple[str, str], Exception] = {}
        for key, data in (objects or {}).items():
            self.add(key, data)

    def fail(self, op: str, key: str, error: Exception) -> None:
        self._errors[(op, key)] = error

    def _op(self, op: str, key: str) -> None:
        self.calls.append((op, key))
        error = self._errors.get((op, key))
        if error is not None:
            raise error

    def add(
        self,
        key: str,
        data: bytes = b"",
        *,
        metadata: Mapping[str, str] | None = None,
        last_modified: dt.datetime | None = None,
        size: int | None = None,
    ) -> StoredObject:
        blob = Blob(
            data=data,
            metadata=dict(metadata or {}),
            last_modified=last_modified or _now(),
            size=len(data) if size is None else size,
        )
        self.blobs[key] = blob
        return StoredObject(key=key, size=blob.size, last_modified=blob.last_modified, metadata=blob.metadata)

    def deleted(self) -> list[str]:
        return [key for op, key in self.calls if op == "delete"]

    # -- the ObjectStore surface -----------------------------------------------------

    async def check(self) -> None:
        self.calls.append(("check", self.bucket))
        if self.check_errors:
            raise self.check_errors.pop(0)

    async def create_bucket(self) -> None:
        self.calls.append(("create_bucket", self.bucket))

    def upload(self, key: str, *, metadata: Mapping[str, str]) -> FakeUpload:
        return FakeUpload(self, key, metadata)

    async def put(self, key: str, data: bytes, *, metadata: Mapping[str, str]) -> StoredObject:
        self._op("put", key)
        return self.add(key, data, metadata=metadata)

    async def download(self, key: str) -> AsyncIterator[bytes]:
        """``key`` in ``chunk``-byte pieces; counts the pieces served and the downloads closed."""
        data = await self.get(key)
        try:
            for start in range(0, len(data), self.chunk):
                self.chunks_served += 1
                yield data[start : start + self.chunk]
        finally:
            self.downloads_closed += 1

    async def get(self, key: str) -> bytes:
        self._op("get", key)
        if key not in self.blobs:
            raise errors.ObjectMissing(f"GET {key}: the key does not exist")
        return self.blobs[key].data

    async def head(self, key: str) -> StoredObject:
        self._op("head", key)
        blob = self.blobs.get(key)
        if blob is None:
            raise errors.ObjectMissing(f"HEAD {key}: the key does not exist")
        return StoredObject(key=key, size=blob.size, last_modified=blob.last_modified, metadata=blob.metadata)

    async def list(self, prefix: str) -> AsyncIterator[StoredObject]:
        self._op("list", prefix)
        for key in sorted(self.blobs):
            if key.startswith(prefix):
                blob = self.blobs[key]
                # as S3's LIST: no user metadata
                yield StoredObject(key=key, size=blob.size, last_modified=blob.last_modified, metadata={})

    async def delete(self, key: str) -> None:
        self._op("delete", key)
        self.blobs.pop(key, None)

    async def abort_uploads(
        self, prefix: str, *, older_than: dt.datetime, ours: Callable[[str], bool] | None = None
    ) -> int:
        self.stale_cutoffs.append((prefix, older_than))
        return 0

    async def close(self) -> None:
        self.closed = True
