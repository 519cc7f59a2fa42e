"""A local folder as the object store: a mounted volume for clusters without S3.

An ObjectstoreConfig names it with ``endpoint: file:///backups``; its
``bucket`` is a folder inside (``/backups/<bucket>``), so ``check`` and
``create_bucket`` mean what they mean for S3. The controller only opens a
folder inside the operator's ``--folder-store-root``
(:func:`k8ssnap.domain.hostpaths.folder_store_path`, then resolved, so a
symbolic link cannot lead out of it either).

Layout inside the bucket folder::

    <key>                         the object's bytes
    .k8ssnap-meta/<key>.json      its user metadata (absent when empty)
    .k8ssnap-uploads/<random>     uploads in progress (never listed)

The semantics are S3's, so the same contract tests pass:

* writes are atomic: bytes go to a temporary file in the bucket folder,
  are flushed to disk, and are renamed over the key, so a reader sees the
  old object or the new one, never a part;
* an upload shows nothing until :meth:`FolderUpload.complete`; ``abort``
  (also on a failed ``complete``) removes the temporary file, leaving nothing;
* keys are ``/``-separated relative paths; ``..``, empty parts and names
  starting with ``.k8ssnap-`` are refused, so a key never leaves the folder;
* listing is by prefix, sorted, and streams (any number of keys);
* deleting a missing key is not an error.

File I/O runs in worker threads so the event loop never blocks on a disk,
and uploads append chunk by chunk, so memory stays flat.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import datetime as dt
import errno
import functools
import os
import secrets
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import BinaryIO, TypeVar
from urllib.parse import unquote, urlsplit

import orjson

from k8ssnap import errors, retry
from k8ssnap.domain import hostpaths
from k8ssnap.store.objectstore import StoredObject

T = TypeVar("T")

SCHEME = "file"
META = ".k8ssnap-meta"
UPLOADS = ".k8ssnap-uploads"
_RESERVED = ".k8ssnap-"
_CHUNK = 1 << 20
_RETRIABLE_ERRNOS = frozenset({errno.EAGAIN, errno.EINTR, errno.EBUSY})


def is_folder_endpoint(endpoint: str) -> bool:
    """Whether an ObjectstoreConfig endpoint names a local folder (``file:///path``)."""
    return endpoint.startswith(f"{SCHEME}://")


def endpoint_path(endpoint: str) -> str:
    """The folder of a ``file:///path`` endpoint; ConfigError for a host or a relative path."""
    parts = urlsplit(endpoint)
    if parts.scheme != SCHEME or parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
        raise errors.ConfigError(f"endpoint {endpoint!r} must look like file:///absolute/folder")
    return unquote(parts.path)


def _map(exc: OSError, *, what: str) -> errors.StoreError:
    if isinstance(exc, FileNotFoundError):
        return errors.ObjectMissing(f"{what}: no such object")
    if isinstance(exc, PermissionError):
        return errors.StorePermanent(f"{what}: the controller may not use this folder (permission denied)")
    if exc.errno in _RETRIABLE_ERRNOS:
        return errors.StoreRetriable(f"{what}: {exc.strerror}")
    return errors.StorePermanent(f"{what}: {exc.strerror or exc}")


def _check_key(key: str) -> PurePosixPath:
    path = PurePosixPath(key)
    if (
        not key
        or key.startswith("/")
        or "\x00" in key
        or any(part in ("", ".", "..") for part in key.split("/"))
        or any(part.startswith(_RESERVED) for part in path.parts)
    ):
        raise errors.StorePermanent(f"key {key!r} cannot be stored in a folder")
    return path


def _utc(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC)


def _fsync_rename(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dst)
    fd = os.open(dst.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FolderStore:
    """One bucket folder. Create with :meth:`open`; ``close`` is a no-op kept for the protocol."""

    def __init__(self, *, base: Path, bucket: str) -> None:
        if not bucket or "/" in bucket or bucket.startswith(".") or "\x00" in bucket:
            raise errors.ConfigError(f"bucket {bucket!r} must be one folder name")
        self.bucket = bucket
        self.folder = base / bucket
        self.backoff = retry.Backoff(initial=0.5, max_elapsed=300.0)

    def __repr__(self) -> str:
        return f"<FolderStore {self.folder}>"

    @classmethod
    def open(cls, *, endpoint: str, bucket: str, root: str | None) -> FolderStore:
        """The store for ``endpoint`` (``file:///path``) inside ``root``; HostPathRefused if not."""
        wanted = hostpaths.folder_store_path(endpoint_path(endpoint), root=root)
        assert root is not None
        real_root = Path(os.path.realpath(root))
        real = Path(os.path.realpath(wanted))
        if real != real_root and real_root not in real.parents:
            raise errors.HostPathRefused(
                f"the folder store path {str(wanted)!r} leads outside --folder-store-root through a link"
            )
        return cls(base=real, bucket=bucket)

    async def close(self) -> None:
        return None

    async def _io(self, what: str, op: Callable[[], T]) -> T:
        async def once() -> T:
            try:
                return await asyncio.to_thread(op)
            except OSError as exc:
                raise _map(exc, what=what) from None

        return await retry.retrying(once, backoff=self.backoff, what=what)

    def _path(self, key: str) -> Path:
        return self.folder / _check_key(key)

    def _meta_path(self, key: str) -> Path:
        return self.folder / META / f"{_check_key(key)}.json"

    # -- bucket -------------------------------------------------------------

    async def check(self) -> None:
        def op() -> None:
            if not self.folder.is_dir():
                raise errors.StorePermanent(
                    f"bucket {self.bucket!r} does not exist (no folder {self.folder})"
                )
            if not os.access(self.folder, os.W_OK | os.X_OK):
                raise errors.StorePermanent(f"the folder {self.folder} is not writable by the controller")

        await self._io(f"check {self.folder}", op)

    async def create_bucket(self) -> None:
        await self._io(f"create {self.folder}", lambda: self.folder.mkdir(mode=0o700, exist_ok=True))

    # -- objects ------------------------------------------------------------

    def upload(self, key: str, *, metadata: Mapping[str, str]) -> FolderUpload:
        return FolderUpload(store=self, key=key, metadata=dict(metadata))

    def _temp(self) -> Path:
        folder = self.folder / UPLOADS
        folder.mkdir(mode=0o700, exist_ok=True)
        return folder / secrets.token_hex(8)

    def _publish(self, temp: Path, key: str, metadata: Mapping[str, str]) -> None:
        """Metadata first, then the bytes: a visible object always has its metadata."""
        target, meta = self._path(key), self._meta_path(key)
        if metadata:
            meta_temp = self._temp()
            meta_temp.write_bytes(orjson.dumps(dict(metadata)))
            _fsync_rename(meta_temp, meta)
        else:
            meta.unlink(missing_ok=True)
        _fsync_rename(temp, target)

    async def put(self, key: str, data: bytes, *, metadata: Mapping[str, str]) -> StoredObject:
        self._path(key)

        def op() -> None:
            temp = self._temp()
            try:
                with temp.open("wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                self._publish(temp, key, metadata)
            finally:
                temp.unlink(missing_ok=True)

        await self._io(f"PUT {key}", op)
        return await self.head(key)

    async def head(self, key: str) -> StoredObject:
        def op() -> StoredObject:
            info = self._path(key).stat()
            try:
                metadata = orjson.loads(self._meta_path(key).read_bytes())
            except FileNotFoundError:
                metadata = {}
            return StoredObject(
                key=key, size=info.st_size, last_modified=_utc(info.st_mtime), metadata=metadata
            )

        return await self._io(f"HEAD {key}", op)

    async def get(self, key: str) -> bytes:
        return b"".join([chunk async for chunk in self.download(key)])

    async def download(self, key: str) -> AsyncIterator[bytes]:
        path = self._path(key)
        handle = await self._io(f"GET {key}", lambda: path.open("rb"))
        try:
            while chunk := await self._io(f"GET {key}", lambda: handle.read(_CHUNK)):
                yield chunk
        finally:
            handle.close()

    async def list(self, prefix: str) -> AsyncIterator[StoredObject]:
        """Every key starting with ``prefix``, sorted: names gathered by one walk, sizes and
        times read and yielded a thousand at a time."""
        keys = await self._io(f"LIST {prefix!r}", lambda: sorted(self._walk(prefix)))
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            for found in await self._io(f"LIST {prefix!r}", functools.partial(self._stat_all, batch)):
                yield found

    def _stat_all(self, keys: Sequence[str]) -> tuple[StoredObject, ...]:
        found: builtins.list[StoredObject] = []
        for key in keys:
            try:
                info = self._path(key).stat()
            except FileNotFoundError:
                continue  # deleted since the walk
            found.append(
                StoredObject(key=key, size=info.st_size, last_modified=_utc(info.st_mtime), metadata={})
            )
        return tuple(found)

    def _walk(self, prefix: str) -> Iterator[str]:
        start = self.folder
        head = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        if head and ".." not in head.split("/"):
            start = self.folder / head
        if not start.is_dir():
            return
        for dirpath, dirs, files in os.walk(start):
            dirs[:] = [d for d in dirs if not d.startswith(_RESERVED)]
            rel = Path(dirpath).relative_to(self.folder).as_posix()
            for name in files:
                key = name if rel == "." else f"{rel}/{name}"
                if key.startswith(prefix):
                    yield key

    async def delete(self, key: str) -> None:
        def op() -> None:
            self._path(key).unlink(missing_ok=True)
            self._meta_path(key).unlink(missing_ok=True)

        await self._io(f"DELETE {key}", op)

    async def abort_uploads(
        self, prefix: str, *, older_than: dt.datetime, ours: Callable[[str], bool] | None = None
    ) -> int:
        """Remove upload files of crashed processes started before ``older_than`` (all are ours:
        they live in the folder's own ``.k8ssnap-uploads``)."""

        def op() -> int:
            removed = 0
            folder = self.folder / UPLOADS
            for path in folder.iterdir() if folder.is_dir() else ():
                if _utc(path.stat().st_mtime) < older_than:
                    path.unlink(missing_ok=True)
                    removed += 1
            return removed

        return await self._io("sweep uploads", op)


class FolderUpload:
    """A streaming upload into a temporary file, renamed into place by :meth:`complete`."""

    def __init__(self, *, store: FolderStore, key: str, metadata: dict[str, str]) -> None:
        store._path(key)  # refuse a bad key before any byte is written
        self._store = store
        self.key = key
        self._metadata = metadata
        self._temp: Path | None = None
        self._file: BinaryIO | None = None
        self._closed = False
        self.bytes_written = 0

    def __repr__(self) -> str:
        return f"<FolderUpload {self.key} [{self.bytes_written} bytes written]>"

    def _open(self) -> BinaryIO:
        if self._closed:
            raise errors.StorePermanent(f"upload of {self.key} was already completed or aborted")
        if self._file is None:
            self._temp = self._store._temp()
            self._file = self._temp.open("wb")
        return self._file

    async def write(self, chunk: bytes) -> None:
        def op() -> None:
            self._open().write(chunk)

        await self._store._io(f"write {self.key}", op)
        self.bytes_written += len(chunk)

    async def complete(self) -> StoredObject:
        """Flush, fsync and rename into place; the object becomes visible only now."""

        def op() -> None:
            handle = self._open()
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
            assert self._temp is not None
            self._store._publish(self._temp, self.key, self._metadata)
            self._closed = True

        try:
            await self._store._io(f"complete {self.key}", op)
        except BaseException:
            await self.abort()
            raise
        return await self._store.head(self.key)

    async def abort(self) -> None:
        """Remove the temporary file (idempotent); nothing is left under the key."""
        self._closed = True
        temp, self._temp = self._temp, None
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
        if temp is not None:
            await asyncio.to_thread(temp.unlink, missing_ok=True)
