"""A streaming multipart upload with bounded memory and bounded parts in flight.

``write`` collects bytes into a part buffer; each full part is sent by its
own task, and ``write`` waits (back-pressure) while ``max_in_flight`` parts
are on the wire, so memory stays below ``(max_in_flight + 1) * part_size``
whatever the archive's size. Each part retries retriable errors within
the store's backoff budget.

A part that fails for good (a permanent error, or retriable errors past
the budget) fails the whole upload: the next ``write`` or ``complete``
raises it, and the upload is aborted. An object is never completed from
the parts that happened to succeed.

Nothing is visible under the key until ``complete``. ``abort`` (also
called when ``complete`` fails) cancels the parts and aborts the multipart
upload, so an interrupted upload leaves neither a completed-looking object
nor an unfinished multipart upload behind. An archive smaller than one
part is sent with a single PUT.

``complete`` checks the stored object: its size (HEAD) must equal the bytes
written, or the object is deleted and :class:`~k8ssnap.errors.StorePermanent`
raised. Once the object is in place it aborts any other unfinished
multipart upload of the same key (best effort): those are left by a
process killed mid-upload, and the store bills their parts until aborted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from k8ssnap import errors
from k8ssnap.store.objectstore import StoredObject

if TYPE_CHECKING:
    from k8ssnap.store.s3 import S3Store

log = logging.getLogger(__name__)

MIN_PART = 5 << 20


class MultipartUpload:
    """See the module docstring. Not safe for concurrent ``write`` calls."""

    def __init__(
        self,
        *,
        client: Any,
        store: S3Store,
        key: str,
        metadata: dict[str, str],
        part_size: int,
        max_in_flight: int = 2,
    ) -> None:
        self._client = client
        self._store = store
        self.key = key
        self._metadata = metadata
        self._part_size = max(part_size, MIN_PART)
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: dict[int, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(max_in_flight)
        self._next_part = 1
        self._failure: BaseException | None = None
        self.bytes_written = 0

    def __repr__(self) -> str:
        return (
            f"<MultipartUpload {self.key} [{len(self._parts)} parts done, "
            f"{len(self._tasks)} in flight, {len(self._buffer)} bytes buffered]>"
        )

    async def write(self, chunk: bytes) -> None:
        """Buffer ``chunk``; send full parts. If a part has failed, abort the upload and raise its error."""
        try:
            self._raise_failed()
            self._buffer += chunk
            self.bytes_written += len(chunk)
            while len(self._buffer) >= self._part_size:
                data = bytes(self._buffer[: self._part_size])
                del self._buffer[: self._part_size]
                await self._send(data)
        except BaseException:
            await self.abort()
            raise

    async def _start(self) -> str:
        if self._upload_id is None:
            resp = await self._store._call(
                f"start upload {self.key}",
                lambda: self._client.create_multipart_upload(
                    Bucket=self._store.bucket, Key=self.key, Metadata=self._metadata, **self._store.sse_params
                ),
            )
            self._upload_id = str(resp["UploadId"])
        return self._upload_id

    async def _send(self, data: bytes) -> None:
        upload_id = await self._start()
        await self._slots.acquire()
        if self._failure is not None:  # a part failed while we waited: start no more
            self._slots.release()
            raise self._failure
        number = self._next_part
        self._next_part += 1
        task = asyncio.create_task(self._part(upload_id, number, data))
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        """Forget a finished part, keeping the first failure for :meth:`_raise_failed`."""
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and self._failure is None:
            self._failure = task.exception()

    def _raise_failed(self) -> None:
        if self._failure is not None:
            raise self._failure

    async def _part(self, upload_id: str, number: int, data: bytes) -> None:
        try:
            resp = await self._store._call(
                f"upload part {number} of {self.key}",
                lambda: self._client.upload_part(
                    Bucket=self._store.bucket,
                    Key=self.key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=data,
                ),
            )
            self._parts[number] = str(resp["ETag"])
        except Exception as exc:
            self._failure = self._failure or exc  # before the slot is free, so no part starts after it
            raise
        finally:
            self._slots.release()

    async def complete(self) -> StoredObject:
        """Send what is buffered, wait for every part, make the object visible, and check it."""
        upload_id = self._upload_id
        try:
            if upload_id is None:
                await self._store.put(self.key, bytes(self._buffer), metadata=self._metadata)
            else:
                await self._complete_parts(upload_id)
            stored = await self._checked()
        except BaseException:
            await self.abort()
            raise
        await self._abort_others(keep=upload_id)
        return stored

    async def _complete_parts(self, upload_id: str) -> None:
        if self._buffer:
            await self._send(bytes(self._buffer))
            self._buffer.clear()
        await asyncio.gather(*self._tasks)
        self._raise_failed()
        numbers = sorted(self._parts)
        if numbers != list(range(1, self._next_part)):  # defensive: a failure is raised above
            raise errors.StorePermanent(f"the upload of {self.key} is missing parts")
        parts = [{"PartNumber": n, "ETag": self._parts[n]} for n in numbers]
        await self._store._call(
            f"complete upload {self.key}",
            lambda: self._client.complete_multipart_upload(
                Bucket=self._store.bucket,
                Key=self.key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            ),
        )

    async def _checked(self) -> StoredObject:
        """HEAD the completed object; delete it and raise unless it holds every byte written."""
        stored = await self._store.head(self.key)
        if stored.size != self.bytes_written:
            with contextlib.suppress(errors.StoreError):
                await self._store.delete(self.key)
            raise errors.StorePermanent(
                f"the object store kept {stored.size} bytes of {self.key}, "
                f"but {self.bytes_written} were written; the object was deleted"
            )
        return stored

    async def _abort_others(self, *, keep: str | None) -> None:
        """Abort unfinished multipart uploads of this key other than ``keep`` (best effort)."""
        try:
            await self._store.abort_uploads_of(self.key, keep=keep)
        except errors.StoreError as exc:
            log.warning("could not abort earlier unfinished uploads of %s: %s", self.key, exc.reason)

    async def abort(self) -> None:
        """Cancel parts in flight and abort the multipart upload (best effort, idempotent)."""
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._buffer.clear()
        upload_id, self._upload_id = self._upload_id, None
        if upload_id is not None:
            with contextlib.suppress(Exception):
                await self._store._call(
                    f"abort upload {self.key}",
                    lambda: self._client.abort_multipart_upload(
                        Bucket=self._store.bucket, Key=self.key, UploadId=upload_id
                    ),
                )
