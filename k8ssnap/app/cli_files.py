"""A snapshot in local files, for ``k8ssnap snapshot --output`` and ``--file``.

:class:`LocalArchiveStore` is an :class:`~k8ssnap.store.objectstore.ObjectStore`
holding exactly one snapshot: its archive at the path the user named, and
its record beside it (``<archive>.record.json``, as in a bucket). Any
archive key maps to the archive file and any record key to the record
file, so the engines run on it unchanged whatever the snapshot's name.

Writes are atomic as the store contract requires: an upload goes to a
hidden temporary file in the same folder and is renamed over the target
only on :meth:`_FileUpload.complete`; an abort removes it. Object metadata
is not kept (files have none). Files are readable by their owner only
(``mkstemp``'s mode): an archive holds the cluster's Secrets. File I/O runs in worker threads so the
event loop keeps serving the engine's concurrent requests.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import BinaryIO

from k8ssnap import errors
from k8ssnap.store import layout
from k8ssnap.store.objectstore import StoredObject

CHUNK = 1 << 20
RECORD_EXTENSION = layout.RECORD_SUFFIX.removeprefix(layout.ARCHIVE_SUFFIX)


def record_path(archive: Path) -> Path:
    """Where the record of the archive at ``archive`` is kept."""
    return archive.with_name(archive.name + RECORD_EXTENSION)


class LocalArchiveStore:
    """One snapshot's archive and record as local files (see the module docstring)."""

    def __init__(self, archive: Path) -> None:
        self.archive = archive
        self.record = record_path(archive)
        self.bucket = str(archive.parent)

    def _path(self, key: str) -> Path:
        if key.endswith(layout.RECORD_SUFFIX):
            return self.record
        if key.endswith((layout.ARCHIVE_SUFFIX, layout.ENCRYPTED_SUFFIX)):
            return self.archive
        raise errors.StorePermanent(f"{key}: a local archive holds only an archive and its record")

    async def check(self) -> None:
        if not await asyncio.to_thread(self.archive.parent.is_dir):
            raise errors.StorePermanent(f"folder {str(self.archive.parent)!r} does not exist")

    async def create_bucket(self) -> None:
        await asyncio.to_thread(self.archive.parent.mkdir, parents=True, exist_ok=True)

    def upload(self, key: str, *, metadata: Mapping[str, str]) -> _FileUpload:
        return _FileUpload(self._path(key), key=key)

    async def put(self, key: str, data: bytes, *, metadata: Mapping[str, str]) -> StoredObject:
        upload = self.upload(key, metadata=metadata)
        try:
            await upload.write(data)
            return await upload.complete()
        except BaseException:
            await upload.abort()
            raise

    async def download(self, key: str) -> AsyncIterator[bytes]:
        path = self._path(key)
        handle = await asyncio.to_thread(_open_for_reading, path, key)
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk
        finally:
            await asyncio.to_thread(handle.close)

    async def get(self, key: str) -> bytes:
        return b"".join([chunk async for chunk in self.download(key)])

    async def head(self, key: str) -> StoredObject:
        return await asyncio.to_thread(_stat, self._path(key), key)

    async def list(self, prefix: str) -> AsyncIterator[StoredObject]:
        for path in (self.archive, self.record):
            if path.name.startswith(prefix):
                try:
                    yield await asyncio.to_thread(_stat, path, path.name)
                except errors.ObjectMissing:
                    continue

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    async def abort_uploads(
        self, prefix: str, *, older_than: dt.datetime, ours: Callable[[str], bool] | None = None
    ) -> int:
        """Uploads here are temp files renamed on completion: none is ever left to abort."""
        return 0

    async def close(self) -> None:
        return None


class _FileUpload:
    """A streaming write to a temporary file, renamed into place by :meth:`complete`."""

    def __init__(self, target: Path, *, key: str) -> None:
        self._target = target
        self._key = key
        self._handle: BinaryIO | None = None
        self._temp: Path | None = None

    async def write(self, chunk: bytes) -> None:
        handle = self._handle
        if handle is None:
            opened, self._temp = await asyncio.to_thread(_open_temporary, self._target)
            handle = self._handle = opened
        await asyncio.to_thread(handle.write, chunk)

    async def complete(self) -> StoredObject:
        if self._handle is None:
            await self.write(b"")
        assert self._handle is not None and self._temp is not None
        handle, temp = self._handle, self._temp
        self._handle = self._temp = None
        await asyncio.to_thread(_finish, handle, temp, self._target)
        return await asyncio.to_thread(_stat, self._target, self._key)

    async def abort(self) -> None:
        handle, temp = self._handle, self._temp
        self._handle = self._temp = None
        if handle is not None and temp is not None:
            await asyncio.to_thread(_discard, handle, temp)


def _open_for_reading(path: Path, key: str) -> BinaryIO:
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise errors.ObjectMissing(f"{key}: no such file {str(path)!r}") from None
    except OSError as exc:
        raise errors.StorePermanent(f"cannot read {str(path)!r}: {exc.strerror}") from None


def _stat(path: Path, key: str) -> StoredObject:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise errors.ObjectMissing(f"{key}: no such file {str(path)!r}") from None
    modified = dt.datetime.fromtimestamp(info.st_mtime, dt.UTC).replace(microsecond=0)
    return StoredObject(key=key, size=info.st_size, last_modified=modified, metadata={})


def _open_temporary(target: Path) -> tuple[BinaryIO, Path]:
    try:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    except OSError as exc:
        raise errors.StorePermanent(f"cannot write into {str(target.parent)!r}: {exc.strerror}") from None
    return os.fdopen(fd, "wb"), Path(name)


def _finish(handle: BinaryIO, temp: Path, target: Path) -> None:
    try:
        handle.flush()
        os.fsync(handle.fileno())
        handle.close()
        temp.replace(target)
    except OSError as exc:
        _discard(handle, temp)
        raise errors.StorePermanent(f"cannot write {str(target)!r}: {exc.strerror}") from None


def _discard(handle: BinaryIO, temp: Path) -> None:
    handle.close()
    temp.unlink(missing_ok=True)
