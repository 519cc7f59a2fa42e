"""A streaming multipart upload with bounded memory and bounded parts in flight.

``write`` collects bytes into a part buffer; each full part is sent by its
own task, and ``write`` waits (back-pressure) while ``max_in_flight`` parts
are on the wire, so memory stays below ``(max_in_flight + 1) * part_size``
whatever the archive's size. Each part retries retriable errors within
the store's backoff budget.

Nothing is visible under the key until ``complete``. ``abort`` (also
called when ``complete`` fails) cancels the parts and aborts the multipart
upload, so an interrupted upload leaves neither a completed-looking object
nor an unfinished multipart upload behind. An archive smaller than one
part is sent with a single PUT.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from k8ssnap.store.objectstore import StoredObject

if TYPE_CHECKING:
    from k8ssnap.store.s3 import S3Store

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
        self.bytes_written = 0

    def __repr__(self) -> str:
        return (
            f"<MultipartUpload {self.key} [{len(self._parts)} parts done, "
            f"{len(self._tasks)} in flight, {len(self._buffer)} bytes buffered]>"
        )

    async def write(self, chunk: bytes) -> None:
        self._buffer += chunk
        self.bytes_written += len(chunk)
        while len(self._buffer) >= self._part_size:
            data = bytes(self._buffer[: self._part_size])
            del self._buffer[: self._part_size]
            await self._send(data)

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
        number = self._next_part
        self._next_part += 1
        task = asyncio.create_task(self._part(upload_id, number, data))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._raise_failed()

    def _raise_failed(self) -> None:
        for task in list(self._tasks):
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

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
        finally:
            self._slots.release()

    async def complete(self) -> StoredObject:
        """Send what is buffered, wait for every part, and make the object visible."""
        try:
            if self._upload_id is None:
                return await self._store.put(self.key, bytes(self._buffer), metadata=self._metadata)
            if self._buffer:
                await self._send(bytes(self._buffer))
                self._buffer.clear()
            await asyncio.gather(*self._tasks)
            parts = [{"PartNumber": n, "ETag": self._parts[n]} for n in sorted(self._parts)]
            upload_id = self._upload_id
            await self._store._call(
                f"complete upload {self.key}",
                lambda: self._client.complete_multipart_upload(
                    Bucket=self._store.bucket,
                    Key=self.key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                ),
            )
            return await self._store.head(self.key)
        except BaseException:
            await self.abort()
            raise

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
