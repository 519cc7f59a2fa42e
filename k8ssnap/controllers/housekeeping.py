"""Store housekeeping: orphans, missing and altered archives, and disaster recovery.

Every ``housekeeping_interval`` seconds (300 by default), for each
ObjectstoreConfig:

* an archive in k8ssnap's layout (:mod:`k8ssnap.store.layout`) that no
  Snapshot names is an orphan and is deleted with its record -- but only if
  the object carries k8ssnap's format metadata, so other keys in a shared
  bucket are never touched; multipart uploads of ours left unfinished for
  more than a day by a crashed process are aborted;
* a Completed Snapshot whose archive is gone becomes Failed, "Snapshot file
  not found";
* with ``--validatefileinfo``, a Completed Snapshot whose archive's size or
  timestamp (to the second) differs from its status, or whose stored
  record's sha256 differs from ``status.storedSha256``, becomes Failed. (The
  full checksum is verified on every restore, before anything is created.)

At start, with ``--restoresnapshots``, every archive that has no Snapshot
gets one, recreated Completed from the record stored beside it: a new
controller on a new cluster then sees the old snapshots. This runs before
any worker starts, so one bad record costs only itself: it is logged, posted
as a Warning Event on the ObjectstoreConfig and skipped (a record taken "in
year 9999" is not even bad: its expiry is held at the end of that year).
Bucket listings are paginated, so any number of keys works.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from typing import Any

from k8ssnap import errors
from k8ssnap.api import constants, status
from k8ssnap.api.resources import Snapshot, parse_snapshot
from k8ssnap.archive.index import StoredRecord
from k8ssnap.controllers.context import Context, Subject
from k8ssnap.domain import expiry, stores
from k8ssnap.runtime import memory
from k8ssnap.store.objectstore import StoredObject
from k8ssnap.store.snapshots import SnapshotStore

log = logging.getLogger(__name__)

NOT_FOUND = status.REASON_FILE_NOT_FOUND
RECREATED = constants.RECREATED
MISMATCH = status.REASON_FILE_MISMATCH  # k8s-snap's words; also used for a checksum mismatch
_MIN_KEEP = dt.timedelta(days=30)
RECORD_SKIPPED = "RecordSkipped"
"""Event reason on an ObjectstoreConfig: a stored record could not be recreated as a Snapshot."""


class Housekeeper:
    """Runs the passes above for one controller process."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._records: dict[str, tuple[dt.datetime, str, int]] = {}
        """Record key -> (its LastModified, sha256, size): a record is downloaded again only
        when it changed, not on every sweep."""

    def _configs(self) -> list[str]:
        return [
            str(o["metadata"]["name"]) for o in self.ctx.informers[constants.OBJECTSTORE_CONFIG.plural].list()
        ]

    def _snapshots(self, config: str) -> dict[str, Snapshot]:
        configs = self._configs()
        found: dict[str, Snapshot] = {}
        for raw in self.ctx.informers[constants.SNAPSHOT.plural].list():
            try:
                snap = parse_snapshot(raw)
            except errors.ConfigError:
                continue
            if stores.uses_config(snap.spec.objectstore_config, config=config, configs=configs):
                found[snap.name] = snap
        return found

    def _subject(self, config: str) -> Subject:
        """The ObjectstoreConfig ``config``, for Events about using its store."""
        raw = self.ctx.cached(constants.OBJECTSTORE_CONFIG, config) or {"metadata": {"name": config}}
        return Subject(constants.OBJECTSTORE_CONFIG, raw)

    async def run(self) -> None:
        """Sweep now and then every interval, until cancelled."""
        while True:
            await self.sweep()
            await asyncio.sleep(self.ctx.settings.housekeeping_interval)

    async def sweep(self) -> None:
        """One housekeeping pass over every ObjectstoreConfig; errors are logged, not raised."""
        for config in self._configs():
            try:
                async with self.ctx.stores(self.ctx, config, subject=self._subject(config)) as store:
                    await self._sweep(config, store)
            except errors.K8sSnapError as exc:
                log.warning("housekeeping of ObjectstoreConfig %s failed: %s", config, exc.reason)
        memory.give_back()  # records parsed for their checksums hold each snapshot's index: 20 MB at 140k

    async def _sweep(self, config: str, store: SnapshotStore) -> None:
        # The listing may take long (paged), and the cache moves on meanwhile. Completed
        # Snapshots are read before it: their archives were complete before their status was,
        # so the listing shows them. Names are read after it: a Snapshot created while it ran
        # still protects its new archive from being taken for an orphan.
        snapshots = self._snapshots(config)
        listing = await store.listing()
        # any Snapshot of that name protects an archive, whatever config it names and even if
        # its spec does not parse: two configs may share a bucket
        named = {str(o["metadata"]["name"]) for o in self.ctx.informers[constants.SNAPSHOT.plural].list()}
        for name in sorted(listing.archives.keys() - named):
            await self._delete_orphan(store, name)
        for name in listing.records.keys() - listing.archives.keys() - named:
            await store.delete_record(name)
        for snap in snapshots.values():
            if snap.status.phase != constants.PHASE_COMPLETED or snap.deleting:
                continue
            archive = listing.archives.get(snap.name)
            if archive is None:
                await self._invalidate(snap, NOT_FOUND)
            elif self.ctx.settings.validate_file_info and not await self._matches(
                store, snap, archive, listing.records.get(snap.name)
            ):
                await self._invalidate(snap, MISMATCH)
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        await store.abort_stale_uploads(older_than=cutoff)

    async def _matches(
        self, store: SnapshotStore, snap: Snapshot, archive: StoredObject, record: StoredObject | None
    ) -> bool:
        """Size and time (to the second) as in the status, and the record's sha256 and size."""
        stored = snap.status.stored_timestamp
        if archive.size != snap.status.stored_file_size or stored is None:
            return False
        if int(archive.last_modified.timestamp()) != int(stored.timestamp()):
            return False
        if not snap.status.stored_sha256:
            return True
        if record is None:
            return False
        cached = self._records.get(record.key)
        if cached is None or cached[0] != record.last_modified:
            try:
                parsed = await store.record(snap.name)
            except (errors.ObjectMissing, errors.ArchiveError):
                return False
            cached = (record.last_modified, parsed.sha256, parsed.size)
            self._records[record.key] = cached
        return cached[1] == snap.status.stored_sha256 and cached[2] == archive.size

    async def _delete_orphan(self, store: SnapshotStore, name: str) -> None:
        if not await store.is_ours(name):
            return
        log.info("deleting orphan archive %s", store.where(name))
        await store.delete(name)

    async def _invalidate(self, snap: Snapshot, reason: str) -> None:
        log.warning("snapshot %s: %s", snap.name, reason)
        body = status.snapshot_invalidated(snap.status, reason=reason)
        with contextlib.suppress(errors.NotFound):  # deleted (with its archive) meanwhile
            await self.ctx.kube.merge_patch(
                self.ctx.path(constants.SNAPSHOT, snap.name, status=True), {"status": body}
            )

    # -- disaster recovery ------------------------------------------------------

    async def restore_snapshots(self) -> int:
        """Recreate a Completed Snapshot for every archive without one; returns how many."""
        made = 0
        for config in self._configs():
            try:
                async with self.ctx.stores(self.ctx, config, subject=self._subject(config)) as store:
                    listing = await store.listing()
                    cached = self.ctx.informers[constants.SNAPSHOT.plural].list()
                    known = {str(o["metadata"]["name"]): o for o in cached}
                    for name, archive in listing.archives.items():
                        if name not in listing.records or (name in known and not _unfinished(known[name])):
                            continue
                        made += await self._recreate_one(config, store, name, archive)
            except errors.K8sSnapError as exc:
                log.warning("restoring snapshots from ObjectstoreConfig %s failed: %s", config, exc.reason)
        return made

    async def _recreate_one(self, config: str, store: SnapshotStore, name: str, archive: StoredObject) -> int:
        """:meth:`_recreate`, where one bad record costs only itself.

        This runs before any worker starts, on every start: an error that escaped
        it would stop the process at every restart. So any error about one record
        is logged, posted as a Warning Event ``RecordSkipped`` on the
        ObjectstoreConfig, and that record is skipped.
        """
        try:
            return await self._recreate(config, store, name, archive)
        except errors.K8sSnapError as exc:
            reason = exc.reason
            log.warning("could not recreate Snapshot %s from the bucket: %s", name, reason)
        except Exception as exc:
            reason = f"internal error: {type(exc).__name__}: {exc}"
            log.exception("could not recreate Snapshot %s from the bucket", name)
        raw = self.ctx.cached(constants.OBJECTSTORE_CONFIG, config)
        if raw is not None:
            await self.ctx.events.record(
                raw,
                kind=constants.OBJECTSTORE_CONFIG,
                reason=RECORD_SKIPPED,
                message=f"Snapshot {name} not recreated from the bucket: {reason}",
                warning=True,
            )
        return 0

    async def _recreate(self, config: str, store: SnapshotStore, name: str, archive: StoredObject) -> int:
        try:
            record = await store.record(name)
        except errors.ArchiveError as exc:
            log.warning("archive %s has an unreadable record: %s", name, exc.reason)
            return 0
        body = _snapshot_body(self.ctx.settings.namespace, name, config, record)
        completed = _completed_status(record, archive)  # before creating: a bad record creates nothing
        try:
            await self.ctx.kube.create(self.ctx.path(constants.SNAPSHOT), body)
        except errors.AlreadyExists:
            # finish one an earlier pass created but could not complete; leave anyone else's alone
            if not _unfinished(await self.ctx.kube.get(self.ctx.path(constants.SNAPSHOT, name))):
                return 0
        await self.ctx.kube.merge_patch(
            self.ctx.path(constants.SNAPSHOT, name, status=True), {"status": completed}
        )
        log.info("recreated Snapshot %s from the bucket", name)
        return 1


def _completed_status(record: StoredRecord, archive: StoredObject) -> Any:
    """The Completed status of a Snapshot recreated from ``record``, kept at least 30 days."""
    until = max(
        expiry.snapshot_expiry(
            taken_at=record.index.snapshot_timestamp,
            ttl=record.spec.ttl,
            available_until=record.spec.available_until,
        ),
        dt.datetime.now(dt.UTC) + _MIN_KEEP,
    )
    return status.snapshot_completed(
        contents=record.index.paths,
        resource_version=record.index.snapshot_resource_version,
        timestamp=record.index.snapshot_timestamp,
        stored_file_size=archive.size,
        stored_timestamp=archive.last_modified,
        available_until=until,
        stored_sha256=record.sha256,
    )


def _unfinished(raw: dict[str, Any]) -> bool:
    """A Snapshot recreated from the bucket whose Completed status was never written."""
    annotations = raw["metadata"].get("annotations") or {}
    return annotations.get(RECREATED) == "true" and not (raw.get("status") or {}).get("phase")


def _snapshot_body(namespace: str, name: str, config: str, record: StoredRecord) -> dict[str, Any]:
    spec: dict[str, Any] = {"clusterName": record.spec.cluster_name, "objectstoreConfig": config}
    if record.spec.ttl:
        spec["ttl"] = record.spec.ttl
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "finalizers": [constants.FINALIZER],
        "annotations": {RECREATED: "true"},
    }
    if record.spec.schedule:  # it still belongs to its schedule (retention, spec.latest)
        metadata["labels"] = {constants.SCHEDULE_LABEL: record.spec.schedule}
    return {
        "apiVersion": constants.API_VERSION,
        "kind": constants.SNAPSHOT.kind,
        "metadata": metadata,
        "spec": spec,
    }
