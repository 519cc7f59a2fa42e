"""The Snapshot reconciler.

Phases as k8s-snap's: "" -> InQueue -> InProgress -> Completed | Failed,
then deletion at ``availableUntil``. Level-based: every call reads the
cached object and moves it one step. What changed from the original:

* A finalizer (``clustersnapshot.rywt.io/archive``) removes the archive
  when the CR is deleted, also if the controller was down at the time; while
  a Restore reads the archive, the finalizer waits (a ``DeletionWaiting``
  Event names the readers; rule in :mod:`k8ssnap.domain.readers`).
* Expiry is scheduled with ``Requeue(after=...)`` to happen on time, not
  left to a 30 s resync.
* Every transition decided from the cache (accepting, claiming with
  InProgress, expiring) is preconditioned on the cached resourceVersion.
  The cache lags behind our own writes: right after a snapshot completes,
  the key can come round again with the InProgress object still cached,
  and an unconditional claim would overwrite Completed and take the
  snapshot twice. The precondition turns that into a Conflict, retried
  once the cache has caught up.
* A Snapshot found InProgress (at the server's current version) was
  interrupted by a controller restart (the work queue never hands one key
  to two workers), so the snapshot is taken again from the start; it never
  stays InProgress.
* Any failure, also an unexpected one, ends in Failed with a reason.
* ``status.contents`` lists at most :data:`MAX_STATUS_CONTENTS` paths, to
  keep the object well under etcd's size limit; ``numberOfContents`` is
  always exact and the full list is in the archive's index.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from k8ssnap import errors, retry
from k8ssnap.api import constants, status
from k8ssnap.api.resources import Snapshot, parse_snapshot
from k8ssnap.archive.index import RecordedSpec
from k8ssnap.controllers import encryption, lifecycle
from k8ssnap.controllers.context import Context, Subject
from k8ssnap.domain import expiry, readers, timestamps
from k8ssnap.runtime.controller import Requeue
from k8ssnap.runtime.source import ObjectKey
from k8ssnap.snapshot.engine import SnapshotJob, SnapshotOutcome

log = logging.getLogger(__name__)

MAX_STATUS_CONTENTS = status.MAX_CONTENTS
RECREATED = constants.RECREATED
KIND = constants.SNAPSHOT
_READERS_POLL = 5.0
"""Seconds between looks at whether a deleted Snapshot's archive is still being read."""


SnapshotRunner = lifecycle.Engine[SnapshotJob, SnapshotOutcome]
"""What the reconciler runs: the engine, or a fake."""


class SnapshotReconciler:
    """Reconciles Snapshots: finalizers and deletion here, phases in :mod:`lifecycle`, work in the engine.

    It is the Snapshot :class:`~k8ssnap.controllers.lifecycle.JobKind`."""

    kind: constants.ResourceKind = KIND
    until_label: str = "available until"
    done_label: str = "stored"
    resumed_message: str | None = "controller restarted during the snapshot; taking it again"

    def __init__(self, ctx: Context, engine: SnapshotRunner) -> None:
        self.ctx = ctx
        self.engine = engine
        m = ctx.metrics
        metrics = lifecycle.JobMetrics(
            m,
            noun="snapshot",
            plural="snapshots",
            results_help="Snapshots taken, by result.",
            duration_help="Time to take a snapshot.",
        )
        self._objects = m.gauge("k8ssnap_snapshot_objects", "Objects in the last snapshot.", ["snapshot"])
        self._bytes = m.gauge("k8ssnap_snapshot_bytes", "Archive bytes of the last snapshot.", ["snapshot"])
        #: Snapshot name -> the readers its last DeletionWaiting Event named (one Event per change).
        self._held: dict[str, tuple[str, ...]] = {}
        self._lifecycle: lifecycle.Lifecycle[Snapshot, SnapshotOutcome] = lifecycle.Lifecycle(
            ctx, self, metrics
        )

    async def reconcile(self, key: ObjectKey) -> Requeue | None:
        raw = self.ctx.cached(KIND, key.name)
        if raw is None:
            self._forget(key.name)
            return None
        try:
            snap = parse_snapshot(raw)
        except errors.ConfigError as exc:
            if raw["metadata"].get("deletionTimestamp"):  # never block a delete on a bad spec
                await self.ctx.events.record(
                    raw,
                    kind=KIND,
                    reason="Deleted",
                    message=f"archive not deleted: {exc.reason}",
                    warning=True,
                )
                await self.ctx.remove_finalizer(KIND, raw)
                return None
            await self._lifecycle.unparsable(raw, exc.reason)
            return None
        if snap.deleting:
            return await self._finalize(raw, snap)
        if not snap.has_finalizer:
            await self.ctx.add_finalizer(KIND, raw)
            return None
        phase = snap.status.phase
        if (
            phase == constants.PHASE_NEW
            and (raw["metadata"].get("annotations") or {}).get(RECREATED) == "true"
        ):
            return None  # housekeeping writes its Completed status (and finishes it at the next start)
        if phase in (constants.PHASE_COMPLETED, constants.PHASE_FAILED) and await self._sync_available_until(
            raw, snap
        ):
            return None  # its watch event brings the key back, with a fresh resourceVersion
        return await self._lifecycle.step(raw, snap, phase=phase, available_until=snap.spec.available_until)

    def _forget(self, name: str) -> None:
        """Drop the per-Snapshot series of a Snapshot that is gone (else they live forever)."""
        self._held.pop(name, None)
        for family in (self._objects, self._bytes):
            with contextlib.suppress(KeyError):
                family.remove(name)

    # -- the JobKind ----------------------------------------------------------

    def failed(self, reason: str, job: Snapshot | None) -> Mapping[str, Any]:
        if job is None:
            return status.snapshot_failed(reason)
        created = job.creation_timestamp or dt.datetime.now(dt.UTC)
        until = expiry.snapshot_expiry(
            taken_at=created, ttl=job.spec.ttl, available_until=job.spec.available_until
        )
        return status.snapshot_failed(reason, available_until=until, observed_generation=job.generation)

    def in_queue(self, job: Snapshot) -> Mapping[str, Any]:
        return status.snapshot_in_queue(observed_generation=job.generation)

    async def claim(self, job: Snapshot) -> lifecycle.Claim:
        return lifecycle.Claim(
            status=status.snapshot_in_progress(observed_generation=job.generation),
            message="taking the snapshot",
        )

    async def run(self, job: Snapshot, *, subject: Subject) -> SnapshotOutcome:
        return await self._run(job, subject)

    def report(self, job: Snapshot, outcome: SnapshotOutcome) -> lifecycle.Done:
        until = expiry.snapshot_expiry(
            taken_at=outcome.timestamp, ttl=job.spec.ttl, available_until=job.spec.available_until
        )
        body = status.snapshot_completed(
            contents=outcome.index.paths,
            resource_version=outcome.resource_version,
            timestamp=outcome.timestamp,
            stored_file_size=outcome.stored.size,
            stored_timestamp=outcome.stored.last_modified,
            available_until=until,
            stored_sha256=outcome.sha256,
            skipped_apis=outcome.skipped,
            observed_generation=job.generation,
        )

        def record() -> None:
            self._objects.labels(snapshot=job.name).set(outcome.index.total)
            self._bytes.labels(snapshot=job.name).set(outcome.stored.size)

        message = (
            f"{outcome.index.total} objects, {outcome.stored.size} bytes "
            f"at resourceVersion {outcome.resource_version}"
        )
        return lifecycle.Done(status=body, message=message, record=record)

    def deletion_time(self, job: Snapshot) -> dt.datetime:
        until = job.status.available_until
        if until is None:
            created = job.creation_timestamp or dt.datetime.now(dt.UTC)
            until = expiry.snapshot_expiry(taken_at=created, ttl=job.spec.ttl, available_until=None)
        failed = job.status.phase == constants.PHASE_FAILED
        return expiry.deletion_time(until, failed=failed, created=job.creation_timestamp)

    # -- what only Snapshots do -----------------------------------------------

    async def _sync_available_until(self, raw: dict[str, Any], snap: Snapshot) -> bool:
        """Copy a changed ``spec.availableUntil`` into the status (preconditioned); True if written."""
        until, wanted = snap.status.available_until, snap.spec.available_until
        if wanted is None or (until is not None and int(wanted.timestamp()) == int(until.timestamp())):
            return False
        await self.ctx.kube.merge_patch(
            self.ctx.path(KIND, snap.name, status=True),
            {
                "metadata": {"resourceVersion": raw["metadata"]["resourceVersion"]},
                "status": {"availableUntil": timestamps.format_time(wanted)},
            },
        )
        return True

    async def _run(self, snap: Snapshot, subject: Subject) -> SnapshotOutcome:
        ctx = self.ctx
        spec = RecordedSpec(
            cluster_name=snap.spec.cluster_name,
            ttl=snap.spec.ttl,
            available_until=snap.spec.available_until,
            objectstore_config=snap.spec.objectstore_config or "",
            schedule=snap.labels.get(constants.SCHEDULE_LABEL, ""),
        )
        backoff = retry.Backoff(max_elapsed=ctx.settings.max_retry_elapsed)
        recipients = await encryption.recipients_for(ctx, snap)
        async with ctx.stores(ctx, snap.spec.objectstore_config, subject=subject) as store:
            await store.check(create=ctx.settings.create_bucket)
            async with ctx.clusters(ctx, snap.spec.kubeconfig, subject=subject) as kube:
                job = SnapshotJob(
                    name=snap.name,
                    cluster_name=snap.spec.cluster_name,
                    spec=spec,
                    backoff=backoff,
                    recipients=recipients,
                )
                return await self.engine.run(job, kube=kube, store=store)

    async def _finalize(self, raw: dict[str, Any], snap: Snapshot) -> Requeue | None:
        """Delete the archive, then let the Snapshot go; while a Restore reads it, wait."""
        if not snap.has_finalizer:
            return None
        reading = readers.readers(snap.name, self._restores(), claims=self.ctx.reading)
        if reading:
            if self._held.get(snap.name) != reading:
                self._held[snap.name] = reading
                await self.ctx.events.record(
                    raw,
                    kind=KIND,
                    reason="DeletionWaiting",
                    message=f"archive kept until Restore {', '.join(reading)} no longer reads it",
                )
            return Requeue(after=_READERS_POLL)
        self._held.pop(snap.name, None)
        try:
            subject = Subject(KIND, raw)
            async with self.ctx.stores(self.ctx, snap.spec.objectstore_config, subject=subject) as store:
                await store.delete(snap.name)  # the plain and the encrypted key, and the record
            message = "archive deleted"
        except (errors.ConfigError, errors.BucketMissing) as exc:
            message = f"archive not deleted: {exc.reason}"
        await self.ctx.events.record(raw, kind=KIND, reason="Deleted", message=message)
        await self.ctx.remove_finalizer(KIND, raw)
        return None

    def _restores(self) -> list[readers.RestoreFacts]:
        """The cached Restores, as :func:`k8ssnap.domain.readers.readers` sees them."""
        found = []
        for raw in self.ctx.informers[constants.RESTORE.plural].list():
            spec, state = _mapping(raw.get("spec")), _mapping(raw.get("status"))
            phase = state.get("phase") or ""
            found.append(
                readers.RestoreFacts(
                    name=str(raw["metadata"]["name"]),
                    active=phase == constants.PHASE_IN_PROGRESS,
                    waiting=phase in (constants.PHASE_NEW, constants.PHASE_IN_QUEUE),
                    named=str(spec.get("snapshotName") or ""),
                    claimed=str(state.get("snapshotName") or ""),
                )
            )
        return found


def _mapping(value: object) -> dict[str, Any]:
    """``value`` if it is a JSON object, else empty: one odd Restore must not stop a deletion."""
    return value if isinstance(value, dict) else {}
