"""Snapshots in a bucket, in k8ssnap's vocabulary (Velero's ``persistence.BackupStore``).

:class:`SnapshotStore` sits over a minimal :class:`~k8ssnap.store.objectstore.ObjectStore`
and is the one owner of the key prefix and the layout (:mod:`k8ssnap.store.layout`):
nothing above it builds a key. Engines, controllers and the CLI name snapshots;
this class turns names into keys, records into JSON, and missing objects into
typed errors:

* :class:`~k8ssnap.errors.BucketMissing` -- the bucket does not exist;
* :class:`~k8ssnap.errors.ArchiveMissing` -- a snapshot has no archive;
* :class:`~k8ssnap.errors.RecordMissing` -- a snapshot has no record (k8s-snap's
  archives never had one).

It is also where a wrapper around the archive *bytes* goes (encryption: wrap
:meth:`upload_archive` and :meth:`download_archive`, and record the recipient
in the record), and any ObjectStore can be put under it (a local folder, the
CLI's single archive file, an in-memory fake), without a controller knowing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass

from k8ssnap import errors, limits
from k8ssnap.archive import bounds
from k8ssnap.archive.index import StoredRecord
from k8ssnap.store import layout
from k8ssnap.store.objectstore import ObjectStore, StoredObject, Upload


@dataclass(frozen=True, slots=True)
class Listing:
    """Our snapshots in a store: name -> archive object, and name -> record object."""

    archives: dict[str, StoredObject]
    records: dict[str, StoredObject]


class SnapshotStore:
    """The snapshots under one key prefix of one bucket. See the module docstring."""

    def __init__(self, objects: ObjectStore, *, prefix: str = "") -> None:
        self.objects = objects
        """The bucket underneath (for tests and tools that must see raw keys)."""
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"<SnapshotStore {self.where()}>"

    @property
    def bucket(self) -> str:
        return self.objects.bucket

    def where(self, name: str | None = None, *, encrypted: bool = False) -> str:
        """``s3://bucket/prefix/name.tgz`` (``.tgz.age`` if ``encrypted``; or the prefix), for messages."""
        key = layout.archive_key(name, prefix=self.prefix, encrypted=encrypted) if name else self.prefix
        return f"s3://{self.bucket}/{key}"

    # -- the bucket -------------------------------------------------------------

    async def check(self, *, create: bool = False) -> None:
        """Raise a store error unless reachable with the bucket there; ``create`` makes a
        missing bucket (``--createbucket``) instead of raising :class:`~k8ssnap.errors.BucketMissing`."""
        try:
            await self.objects.check()
        except errors.BucketMissing:
            if not create:
                raise
            await self.objects.create_bucket()
            await self.objects.check()

    async def close(self) -> None:
        await self.objects.close()

    # -- one snapshot -----------------------------------------------------------

    def upload_archive(self, name: str, *, encrypted: bool = False) -> Upload:
        """A streaming upload of ``name``'s archive (its ``.tgz.age`` key if ``encrypted``: the
        caller encrypts, see :mod:`k8ssnap.store.age`), marked as ours from its first byte."""
        return self.objects.upload(
            layout.archive_key(name, prefix=self.prefix, encrypted=encrypted),
            metadata=layout.archive_metadata(name),
        )

    async def put_record(self, name: str, record: StoredRecord) -> None:
        """Store ``name``'s record beside its archive."""
        await self.objects.put(layout.record_key(name, prefix=self.prefix), record.to_json(), metadata={})

    async def archive(self, name: str, *, encrypted: bool = False) -> StoredObject:
        """The archive's size, time and metadata; :class:`~k8ssnap.errors.ArchiveMissing` if none."""
        try:
            return await self.objects.head(layout.archive_key(name, prefix=self.prefix, encrypted=encrypted))
        except errors.ObjectMissing:
            raise errors.ArchiveMissing(f"no snapshot {name!r} at {self.where(name)}") from None

    async def download_archive(self, name: str, *, encrypted: bool = False) -> AsyncIterator[bytes]:
        """Stream ``name``'s archive (as stored: ciphertext if ``encrypted``); ArchiveMissing if none."""
        key = layout.archive_key(name, prefix=self.prefix, encrypted=encrypted)
        try:
            async for chunk in self.objects.download(key):
                yield chunk
        except errors.ArchiveMissing:
            raise
        except errors.ObjectMissing:
            raise errors.ArchiveMissing(f"no snapshot {name!r} at {self.where(name)}") from None

    async def record(self, name: str) -> StoredRecord:
        """``name``'s stored record; :class:`~k8ssnap.errors.RecordMissing` if none,
        :class:`~k8ssnap.errors.ArchiveError` if it does not parse or is larger than
        :data:`~k8ssnap.limits.MAX_RECORD_SIZE` (whoever may write the bucket wrote it:
        the download stops there, so a huge record never reaches memory)."""
        key = layout.record_key(name, prefix=self.prefix)
        try:
            raw = await _bounded(self.objects.download(key), limit=limits.MAX_RECORD_SIZE, what=key)
        except errors.ObjectMissing:
            raise errors.RecordMissing(f"snapshot {name!r} has no record at {self.where(name)}") from None
        bounds.check_json(raw, what=key, max_commas=limits.MAX_INDEX_SIZE)
        return StoredRecord.from_json(raw)

    async def record_if_any(self, name: str) -> StoredRecord | None:
        """``name``'s record, or None for an archive without one (k8s-snap's)."""
        try:
            return await self.record(name)
        except errors.RecordMissing:
            return None

    async def is_ours(self, name: str) -> bool:
        """Whether ``name``'s archive carries k8ssnap's format metadata (so we may delete it)."""
        try:
            head = await self.archive(name)
        except errors.ArchiveMissing:
            return False
        return layout.is_ours(dict(head.metadata))

    async def delete(self, name: str) -> None:
        """Delete ``name``'s archive, plain or encrypted, and record (missing ones are not an error)."""
        for key in layout.archive_keys(name, prefix=self.prefix):
            await self._delete_key(key)
        await self.delete_record(name)

    async def delete_record(self, name: str) -> None:
        """Delete ``name``'s record only (a record whose archive is gone)."""
        await self._delete_key(layout.record_key(name, prefix=self.prefix))

    async def _delete_key(self, key: str) -> None:
        try:
            await self.objects.delete(key)
        except errors.ObjectMissing:
            return

    # -- all snapshots ----------------------------------------------------------

    async def listing(self) -> Listing:
        """Every key under the prefix that fits the layout (any number: listings are paged)."""
        archives: dict[str, StoredObject] = {}
        records: dict[str, StoredObject] = {}
        async for obj in self.objects.list(self.prefix):
            parsed = layout.snapshot_of(obj.key, prefix=self.prefix)
            if parsed is not None:
                (archives if parsed[1] == "archive" else records)[parsed[0]] = obj
        return Listing(archives=archives, records=records)

    async def abort_stale_uploads(self, *, older_than: dt.datetime) -> int:
        """Abort unfinished uploads of archives (:func:`~k8ssnap.store.layout.is_archive_key`) under
        the prefix started before ``older_than``; other keys' uploads are never touched."""
        prefix = self.prefix
        return await self.objects.abort_uploads(
            prefix, older_than=older_than, ours=lambda key: layout.is_archive_key(key, prefix=prefix)
        )


async def _bounded(chunks: AsyncIterator[bytes], *, limit: int, what: str) -> bytes:
    """All of ``chunks``; ArchiveError (and the download closed) once more than ``limit`` bytes came."""
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise errors.ArchiveError(f"{what} is more than {limit} bytes: not a record k8ssnap wrote")
            parts.append(chunk)
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()
    return b"".join(parts)
