"""The object-store contract k8ssnap needs, in its own vocabulary.

Only :class:`k8ssnap.store.snapshots.SnapshotStore` uses it directly (it owns
the keys); :mod:`k8ssnap.store.s3` implements it with aiobotocore, the CLI's
``LocalArchiveStore`` with one file, and :mod:`k8ssnap.testing` in memory.
Errors are :mod:`k8ssnap.errors` store errors.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class StoredObject:
    """One key in the bucket, as a listing or HEAD reports it."""

    key: str
    size: int
    last_modified: dt.datetime
    metadata: Mapping[str, str]


class Upload(Protocol):
    """A streaming upload: write chunks, then complete or abort.

    Nothing is visible under the key until :meth:`complete` returns; an
    aborted upload leaves neither an object nor an unfinished multipart
    upload behind.
    """

    async def write(self, chunk: bytes) -> None: ...

    async def complete(self) -> StoredObject: ...

    async def abort(self) -> None: ...


class ObjectStore(Protocol):
    """A bucket."""

    bucket: str

    async def check(self) -> None:
        """Raise a store error unless the store is reachable and the bucket exists."""
        ...

    async def create_bucket(self) -> None: ...

    def upload(self, key: str, *, metadata: Mapping[str, str]) -> Upload: ...

    async def put(self, key: str, data: bytes, *, metadata: Mapping[str, str]) -> StoredObject: ...

    def download(self, key: str) -> AsyncIterator[bytes]: ...

    async def get(self, key: str) -> bytes: ...

    async def head(self, key: str) -> StoredObject: ...

    def list(self, prefix: str) -> AsyncIterator[StoredObject]: ...

    async def delete(self, key: str) -> None: ...

    async def abort_uploads(
        self, prefix: str, *, older_than: dt.datetime, ours: Callable[[str], bool] | None = None
    ) -> int:
        """Abort unfinished uploads under ``prefix`` started before ``older_than`` (only of keys
        ``ours`` accepts, if given); how many."""
        ...

    async def close(self) -> None: ...
