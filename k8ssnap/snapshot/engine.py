"""Taking one snapshot, streamed: memory does not grow with the cluster.

Point in time, without watches: the engine reads the cluster's current
resourceVersion R once (a quorum LIST, no writes), then lists every
resource with ``resourceVersion=R&resourceVersionMatch=Exact``. The API
server answers each page exactly as the cluster was at R, and the continue
token keeps R across pages, so every archived object is as it was at R
however the cluster changes during the walk. (k8s-snap instead listed
unpaged and folded watch events in; this needs neither.) If etcd compacts
R away mid-walk (410), the walk restarts at a new R, a bounded number of
times.

Pipeline::

    lister tasks (bounded by a shared semaphore, one per resource)
      -> paginated LIST pages, split natively into items' bytes (kube.itemsplit)
      -> (path, JSON bytes) batches -> bounded queue (back-pressure)
      -> one writer task: ArchiveWriter tar, then deflate + sha256 on a worker
         thread (they release the GIL) -> Upload.write (multipart)
                          [-> age encryption in a worker thread, if the job has recipients]

Objects are archived as the API server sent them (with ``apiVersion`` and
``kind`` added), never parsed into Python objects: parsing and re-encoding
them was most of a snapshot's CPU (docs/performance.md).

At most ``slots`` pages are being parsed and ``queue_pages`` batches wait,
and the upload holds at most a few parts, whatever the cluster's size.
The archive becomes visible only when the upload completes; on any failure
the upload is aborted. Before the engine returns (and the Snapshot can be
marked Completed) the stored object's size must equal the bytes the
archive writer produced; otherwise the object is deleted and the snapshot
fails with :class:`~k8ssnap.errors.StorePermanent`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from k8ssnap import errors, retry
from k8ssnap.archive.index import (
    ArchiveIndex,
    RecordedEncryption,
    RecordedSpec,
    SnapshotMeta,
    StoredRecord,
)
from k8ssnap.archive.writer import ArchiveWriter
from k8ssnap.domain.paths import ApiResource, object_path
from k8ssnap.domain.selection import discovery_failures, select_resources
from k8ssnap.kube import discovery, listing
from k8ssnap.kube.api import KubeApi
from k8ssnap.store import age
from k8ssnap.store.objectstore import StoredObject, Upload
from k8ssnap.store.snapshots import SnapshotStore

log = logging.getLogger(__name__)

Batch = list[tuple[str, bytes]]
_MAX_RESTARTS = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotJob:
    """What to snapshot and where to put it."""

    name: str
    cluster_name: str
    spec: RecordedSpec
    page_size: int = 500
    backoff: retry.Backoff = field(default_factory=retry.Backoff)
    recipients: age.Recipients | None = None
    """Encrypt the archive to these age recipients (stored as ``<name>.tgz.age``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotOutcome:
    """A completed snapshot: its version, time, index, stored archive and the stored object's sha256."""

    resource_version: str
    timestamp: dt.datetime
    index: ArchiveIndex
    stored: StoredObject
    sha256: str
    skipped: tuple[str, ...]


class _Restart(Exception):
    """The snapshot's resourceVersion was compacted away; start again."""


Progress = Callable[[int], None]


class SnapshotEngine:
    """Takes snapshots. ``slots`` bounds concurrent LISTs across all snapshots."""

    def __init__(self, *, slots: asyncio.Semaphore, queue_pages: int = 4, gzip_level: int = 6) -> None:
        """``gzip_level``: deflate's 1 (fast) to 9 (small). Deflate is about half of a
        snapshot's CPU at 6; 1 takes about 40 % less CPU for archives about 10-20 % larger."""
        self._slots = slots
        self._queue_pages = queue_pages
        self._gzip_level = gzip_level

    async def run(
        self,
        job: SnapshotJob,
        *,
        kube: KubeApi,
        store: SnapshotStore,
        progress: Progress | None = None,
    ) -> SnapshotOutcome:
        """Take the snapshot; raise a k8ssnap error with a person-readable reason on failure."""
        found = await retry.retrying(lambda: discovery.discover(kube), backoff=job.backoff, what="discovery")
        resources = select_resources(found.groups)
        skipped = discovery_failures(found.failed)
        for attempt in range(_MAX_RESTARTS):
            rv = await retry.retrying(
                lambda: listing.current_resource_version(kube),
                backoff=job.backoff,
                what="resourceVersion",
            )
            walk = _Walk(job=job, kube=kube, rv=rv, slots=self._slots, notes=list(skipped), progress=progress)
            try:
                return await walk.run(
                    store, resources, queue_pages=self._queue_pages, gzip_level=self._gzip_level
                )
            except _Restart:
                log.warning(
                    "snapshot %s: resourceVersion %s compacted, restarting (%d)",
                    job.name,
                    rv,
                    attempt + 1,
                )
        raise errors.RetriableError(
            "the cluster's history was compacted faster than the snapshot could read it"
        )


@dataclass(slots=True, kw_only=True)
class _Walk:
    """One attempt at one resourceVersion."""

    job: SnapshotJob
    kube: KubeApi
    rv: str
    slots: asyncio.Semaphore
    notes: list[str]
    progress: Progress | None

    async def run(
        self, store: SnapshotStore, resources: tuple[ApiResource, ...], *, queue_pages: int, gzip_level: int
    ) -> SnapshotOutcome:
        job = self.job
        taken_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
        writer = ArchiveWriter(snapshot_name=job.name, mtime=taken_at, level=gzip_level)
        plain = store.upload_archive(job.name, encrypted=job.recipients is not None)
        sealed = None if job.recipients is None else age.EncryptingUpload(plain, job.recipients)
        upload: Upload = plain if sealed is None else sealed
        try:
            batches: asyncio.Queue[Batch | None] = asyncio.Queue(maxsize=queue_pages)
            async with asyncio.TaskGroup() as group:
                group.create_task(self._write(batches, writer, upload))
                async with asyncio.TaskGroup() as listers:
                    for resource in resources:
                        listers.create_task(self._list(resource, batches))
                await batches.put(None)
            meta = SnapshotMeta(
                cluster_name=job.cluster_name,
                snapshot_resource_version=self.rv,
                snapshot_timestamp=taken_at,
            )
            await upload.write(writer.finish(meta))
            stored = await upload.complete()
        except BaseException:
            await upload.abort()
            raise
        sha256, size, encryption = writer.sha256, writer.size, None
        if sealed is not None and job.recipients is not None:  # the stored object is the ciphertext
            sha256, size = sealed.sha256, sealed.size
            encryption = RecordedEncryption(format=age.FORMAT, recipients=job.recipients.keys)
        await _check_stored(store, job.name, stored, written=size)
        record = StoredRecord(
            index=writer.index, sha256=sha256, size=size, spec=job.spec, encryption=encryption
        )
        await store.put_record(job.name, record)
        return SnapshotOutcome(
            resource_version=self.rv,
            timestamp=taken_at,
            index=writer.index,
            stored=stored,
            sha256=sha256,
            skipped=tuple(self.notes),
        )

    async def _list(self, resource: ApiResource, batches: asyncio.Queue[Batch | None]) -> None:
        job = self.job
        async with self.slots:
            try:
                pages = listing.list_pages(
                    self.kube,
                    resource,
                    limit=job.page_size,
                    resource_version=self.rv,
                    exact=True,
                    backoff=job.backoff,
                )
                async for page in pages:
                    await batches.put(_batch(resource, page.items))
            except errors.Gone:
                raise _Restart from None
            except (errors.NotFound, errors.Invalid) as exc:
                self.notes.append(f"{resource.group_resource}: not listed: {exc.reason}")

    async def _write(
        self, batches: asyncio.Queue[Batch | None], writer: ArchiveWriter, upload: Upload
    ) -> None:
        while True:
            batch = await batches.get()
            if batch is None:
                return
            out = await asyncio.to_thread(writer.compress, writer.encode(batch))
            if out:
                await upload.write(out)
            if self.progress is not None:
                self.progress(writer.count)


async def _check_stored(store: SnapshotStore, name: str, stored: StoredObject, *, written: int) -> None:
    """Delete ``name``'s archive and raise StorePermanent unless it holds exactly ``written`` bytes."""
    if stored.size == written:
        return
    with contextlib.suppress(errors.StoreError):
        await store.delete(name)
    raise errors.StorePermanent(
        f"the object store kept {stored.size} bytes of archive {store.where(name)}, "
        f"but {written} were written; the broken archive was deleted"
    )


def _batch(resource: ApiResource, items: list[listing.RawItem]) -> Batch:
    """The archive paths and bodies of one page's items.

    An item whose name or namespace cannot make its API path (the namespace
    does not fit the resource's scope, a name with ``/``) fails the snapshot
    with that reason rather than being archived under another object's path.
    """
    try:
        return [
            (object_path(resource, namespace=item.namespace or None, name=item.name), item.body)
            for item in items
        ]
    except ValueError as exc:
        raise errors.PermanentError(f"{resource.group_resource}: cannot archive an object: {exc}") from None
