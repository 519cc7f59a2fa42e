"""Spool: the archive's kept objects, parked on local disk one file per tier.

A restore must see the whole archive before it creates anything (the
checksum is known only at the end, and the exclusion rules need facts
about every object), yet an archive may hold 100k objects. So the first
pass writes each kept object's raw JSON to a temporary file of its tier,
and the second pass reads the tier files back in order. Memory holds one
read or write buffer per file, whatever the archive's size.

Record format, repeated to the end of a file::

    u32 big-endian  length of the UTF-8 path
    u32 big-endian  length of the body
    path bytes, then body bytes

:func:`encode_record` and :class:`RecordDecoder` are pure; :class:`Spool`
does the file I/O through aiofiles, in batches of about 1 MiB, so the
event loop never blocks on disk and thread hops stay few.

Contract: :class:`Spool` is an async context manager; on leaving it, for
whatever reason (error, cancellation), its directory and every file in it
are removed. The removal is synchronous on purpose: a cancelled task
cannot be stopped half-way through its clean-up.
"""

from __future__ import annotations

import asyncio
import shutil
import struct
import tempfile
from collections.abc import AsyncGenerator
from pathlib import Path
from types import TracebackType

import aiofiles
from aiofiles.threadpool.binary import AsyncBufferedIOBase

from k8ssnap import tempdirs
from k8ssnap.domain.tiers import Tier

HEADER = struct.Struct(">II")
MAX_FIELD = 2**32 - 1
FLUSH_AT = 1 << 20
READ_CHUNK = 1 << 20

Record = tuple[str, bytes]


def encode_record(path: str, body: bytes) -> bytes:
    """One spool record for the object at ``path`` with JSON ``body``."""
    raw_path = path.encode()
    if len(raw_path) > MAX_FIELD or len(body) > MAX_FIELD:
        raise ValueError(f"object too large to spool: {path!r}")
    return HEADER.pack(len(raw_path), len(body)) + raw_path + body


class RecordDecoder:
    """Incremental decoder: feed arbitrary chunks, get the records they complete."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[Record]:
        """Consume ``chunk``; return every record completed so far, in order."""
        self._buffer += chunk
        records: list[Record] = []
        view = memoryview(self._buffer)
        offset = 0
        try:
            while len(view) - offset >= HEADER.size:
                path_len, body_len = HEADER.unpack_from(view, offset)
                start = offset + HEADER.size
                end = start + path_len + body_len
                if end > len(view):
                    break
                path = bytes(view[start : start + path_len]).decode()
                records.append((path, bytes(view[start + path_len : end])))
                offset = end
        finally:
            view.release()
        del self._buffer[:offset]
        return records

    def close(self) -> None:
        """Raise ValueError if a partial record is left over (a truncated file)."""
        if self._buffer:
            raise ValueError(f"spool file ends inside a record ({len(self._buffer)} bytes left)")


class _TierFile:
    """One tier's file while it is being written: a handle and a pending buffer."""

    __slots__ = ("buffer", "count", "handle", "path")

    def __init__(self, path: Path, handle: AsyncBufferedIOBase) -> None:
        self.path = path
        self.handle = handle
        self.buffer = bytearray()
        self.count = 0


class Spool:
    """Per-tier temporary files. Write with :meth:`add`, :meth:`seal`, then read."""

    __slots__ = ("_counts", "_directory", "_open", "_sealed", "max_bytes", "size")

    def __init__(self, directory: Path, *, max_bytes: int | None = None) -> None:
        self._directory = directory
        self.max_bytes = max_bytes
        """A fixed cap on :attr:`size` for intake; None (production): :func:`k8ssnap.limits.spool_limit`
        of the archive's recorded size."""
        self.size = 0
        """Bytes of records added so far (what the tier files will hold)."""
        self._open: dict[Tier, _TierFile] = {}
        self._counts: dict[Tier, int] = {}
        self._sealed = False

    @classmethod
    async def create(cls, *, parent: Path | None = None, max_bytes: int | None = None) -> Spool:
        """A spool in a fresh private temporary directory (under ``parent`` if given)."""
        directory = await asyncio.to_thread(tempfile.mkdtemp, prefix=tempdirs.prefix("restore"), dir=parent)
        return cls(Path(directory), max_bytes=max_bytes)

    @property
    def directory(self) -> Path:
        """Where the tier files live (removed when the spool is left)."""
        return self._directory

    async def __aenter__(self) -> Spool:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._close_all()
        finally:
            self.remove()

    async def add(self, tier: Tier, path: str, body: bytes) -> None:
        """Append one object to ``tier``'s file."""
        if self._sealed:
            raise RuntimeError("the spool is sealed")
        file = self._open.get(tier)
        if file is None:
            file = await self._open_tier(tier)
        record = encode_record(path, body)
        file.buffer += record
        file.count += 1
        self.size += len(record)
        if len(file.buffer) >= FLUSH_AT:
            await _flush(file)

    async def seal(self) -> None:
        """Flush and close every file; after this only reading is allowed."""
        self._sealed = True
        await self._close_all()

    def count(self, tier: Tier) -> int:
        """How many objects ``tier`` holds."""
        file = self._open.get(tier)
        return file.count if file is not None else self._counts.get(tier, 0)

    async def records(self, tier: Tier) -> AsyncGenerator[Record, None]:
        """Yield ``tier``'s records in the order they were added. Requires :meth:`seal`."""
        if not self._sealed:
            raise RuntimeError("seal the spool before reading it")
        if not self._counts.get(tier):
            return
        decoder = RecordDecoder()
        async with aiofiles.open(self._file_of(tier), "rb") as handle:
            while chunk := await handle.read(READ_CHUNK):
                for record in decoder.feed(chunk):
                    yield record
        decoder.close()

    def remove(self) -> None:
        """Delete the directory and its files (idempotent, never raises)."""
        shutil.rmtree(self._directory, ignore_errors=True)

    def _file_of(self, tier: Tier) -> Path:
        return self._directory / f"tier-{int(tier)}-{tier.name.lower()}.spool"

    async def _open_tier(self, tier: Tier) -> _TierFile:
        path = self._file_of(tier)
        handle = await aiofiles.open(path, "wb")
        file = _TierFile(path, handle)
        self._open[tier] = file
        return file

    async def _close_all(self) -> None:
        while self._open:
            tier, file = self._open.popitem()
            self._counts[tier] = file.count
            try:
                await _flush(file)
            finally:
                await file.handle.close()


async def _flush(file: _TierFile) -> None:
    if file.buffer:
        data = bytes(file.buffer)
        file.buffer.clear()
        await file.handle.write(data)
