"""The Snapshot reconciler.

Phases as k8s-snap's: "" -> InQueue -> InProgress -> Completed | Failed,
then deletion at ``availableUntil``. Level-based: every call reads the
cached object and moves it one step. What changed from the original:

* A finalizer (``clustersnapshot.rywt.io/archive``) removes the archive
  when the CR is deleted, also if the controller was down at the time.
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
  stays InProgress. After :data:`~k8ssnap.controllers.attempts.MAX_INTERRUPTED`
  interrupted attempts it goes Failed instead: the snapshot itself may be
  what kills the process.
* The outcome is reported by :mod:`k8ssnap.controllers.outcomes`: retried,
  and never a reason to take the snapshot again.
* Any failure, also an unexpected one, ends in Failed with a reason.
* ``status.contents`` lists at most :data:`MAX_STATUS_CONTENTS` paths, to
  keep the object well under etcd's size limit; ``numberOfContents`` is
  always exact and the full list is in the archive's index.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from k8ssnap import errors, retry
from k8ssnap.api import constants, status
from k8ssnap.api.resources import Snapshot, parse_snapshot
from k8ssnap.archive.index import RecordedSpec
from k8ssnap.controllers import attempts, clusters, insecure, objectstores, outcomes
from k8ssnap.controllers.context import Context
from k8ssnap.domain import expiry
from k8ssnap.runtime.controller import Requeue
from k8ssnap.runtime.source import ObjectKey
from k8ssnap.snapshot.engine import SnapshotEngine, SnapshotJob, SnapshotOutcome
from k8ssnap.store import layout

log = logging.getLogger(__name__)

MAX_STATUS_CONTENTS = status.MAX_CONTENTS
RECREATED = constants.RECREATED
KIND = constants.SNAPSHOT


class SnapshotReconciler:
    """Reconciles Snapshots; the engine does the work."""

    def __init__(self, ctx: Context, engine: SnapshotEngine) -> None:
        self.ctx = ctx
        self.engine = engine
        m = ctx.metrics
        self._results = m.counter("k8ssnap_snapshots_total", "Snapshots taken, by result.", ["result"])
        self._duration = m.histogram(
            "k8ssnap_snapshot_duration_seconds", "Time to take a snapshot.", ["result"],
            buckets=(1, 2, 5, 10, 30, 60, 120, 300, 600, 1800),
        )  # fmt: skip
        self._objects = m.gauge("k8ssnap_snapshot_objects", "Objects in the last snapshot.", ["snapshot"])
        self._bytes = m.gauge("k8ssnap_snapshot_bytes", "Archive bytes of the last snapshot.", ["snapshot"])
        self._last = m.gauge("k8ssnap_snapshot_last_success_timestamp_seconds", "Time of the last success.")
        self._outcomes = outcomes.Outcomes(ctx, KIND)

    async def reconcile(self, key: ObjectKey) -> Requeue | None:
        raw = self.ctx.cached(KIND, key.name)
        if raw is None:
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
                await _remove_finalizer(self.ctx, raw)
                return None
            if (raw.get("status") or {}).get("phase") != constants.PHASE_FAILED:
                await self.ctx.write_status(
                    KIND,
                    raw,
                    status.snapshot_failed(exc.reason),
                    event=("Failed", exc.reason),
                    if_unchanged=True,
                )
            return None
        if snap.deleting:
            await self._finalize(raw, snap)
            return None
        if not snap.has_finalizer:
            await _add_finalizer(self.ctx, raw)
            return None
        phase = snap.status.phase
        if phase == constants.PHASE_NEW:
            await self._accept(raw, snap)
            return None
        if phase in (constants.PHASE_IN_QUEUE, constants.PHASE_IN_PROGRESS):
            await self._take(raw, snap, resumed=phase == constants.PHASE_IN_PROGRESS)
            return None
        return await self._expire(raw, snap)

    # -- phases -------------------------------------------------------------

    async def _accept(self, raw: dict[str, Any], snap: Snapshot) -> None:
        annotations = raw["metadata"].get("annotations") or {}
        if annotations.get(RECREATED) == "true":
            return  # housekeeping writes its Completed status (and finishes it at the next start)
        now = dt.datetime.now(dt.UTC)
        until = snap.spec.available_until
        if until is not None and until <= now:
            await self.ctx.write_status(
                KIND,
                raw,
                status.snapshot_failed("AvailableUntil is set as past."),
                event=("Failed", "AvailableUntil is set as past."),
                if_unchanged=True,
            )
            return
        await self.ctx.write_status(
            KIND,
            raw,
            status.snapshot_in_queue(observed_generation=snap.generation),
            event=("InQueue", "waiting for a worker"),
            if_unchanged=True,
        )

    async def _take(self, raw: dict[str, Any], snap: Snapshot, *, resumed: bool) -> None:
        """Claim the snapshot (InProgress, preconditioned), take it, and report the outcome.

        A snapshot whose work finished but whose report is not saved yet only has
        its report written again; one interrupted too often goes Failed
        (:mod:`k8ssnap.controllers.attempts`).
        """
        if self._outcomes.pending(raw):
            await self._outcomes.resend(raw)
            return
        started = time.monotonic()
        if resumed and attempts.exhausted(raw):
            reason = attempts.interrupted_reason(attempts.interrupted(raw))
            await self._fail(raw, snap, reason, started, if_unchanged=True)
            return
        await self._claim(raw, snap, resumed=resumed)
        try:
            outcome = await self._run(raw, snap)
        except errors.K8sSnapError as exc:
            await self._fail(raw, snap, exc.reason, started)
            return
        except Exception as exc:
            log.exception("snapshot %s failed unexpectedly", snap.name)
            await self._fail(raw, snap, f"internal error: {type(exc).__name__}: {exc}", started)
            return
        try:
            report = self._completed(snap, outcome, started)
        except Exception as exc:  # bookkeeping must never make a stored snapshot be taken again
            log.exception("snapshot %s was stored, but its outcome cannot be reported", snap.name)
            reason = f"stored, but the outcome cannot be reported: {type(exc).__name__}: {exc}"
            await self._fail(raw, snap, reason, started)
            return
        await self._outcomes.report(raw, report, failed=lambda why: self._failed_report(snap, why))

    async def _claim(self, raw: dict[str, Any], snap: Snapshot, *, resumed: bool) -> None:
        """InProgress, preconditioned; a resumed snapshot first counts its attempt."""
        if resumed:
            raw = await attempts.count_next(self.ctx, KIND, raw)
        await self.ctx.write_status(
            KIND,
            raw,
            status.snapshot_in_progress(observed_generation=snap.generation),
            event=("InProgress", "taking the snapshot"),
            if_unchanged=True,
        )
        if resumed:
            await self.ctx.events.record(
                raw,
                kind=KIND,
                reason="Resumed",
                message="controller restarted during the snapshot; taking it again",
            )

    def _completed(self, snap: Snapshot, outcome: SnapshotOutcome, started: float) -> outcomes.Report:
        """The Completed report of a stored snapshot (and its metrics)."""
        until = expiry.snapshot_expiry(
            taken_at=outcome.timestamp, ttl=snap.spec.ttl, available_until=snap.spec.available_until
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
            observed_generation=snap.generation,
        )
        elapsed = time.monotonic() - started
        self._results.labels(result="completed").inc()
        self._duration.labels(result="completed").observe(elapsed)
        self._objects.labels(snapshot=snap.name).set(outcome.index.total)
        self._bytes.labels(snapshot=snap.name).set(outcome.stored.size)
        self._last.set(time.time())
        message = (
            f"{outcome.index.total} objects, {outcome.stored.size} bytes "
            f"at resourceVersion {outcome.resource_version} in {elapsed:.1f} s"
        )
        return outcomes.Report(body=body, event=("Completed", message))

    async def _run(self, raw: dict[str, Any], snap: Snapshot) -> SnapshotOutcome:
        ctx = self.ctx
        subject = insecure.Subject(KIND, raw)
        spec = RecordedSpec(
            cluster_name=snap.spec.cluster_name,
            ttl=snap.spec.ttl,
            available_until=snap.spec.available_until,
            objectstore_config=snap.spec.objectstore_config or "",
        )
        backoff = retry.Backoff(max_elapsed=ctx.settings.max_retry_elapsed)
        async with objectstores.open_store(ctx, snap.spec.objectstore_config, subject=subject) as (
            store,
            prefix,
        ):
            await objectstores.ensure_bucket(ctx, store)
            async with clusters.connect(ctx, snap.spec.kubeconfig, subject=subject) as kube:
                job = SnapshotJob(
                    name=snap.name,
                    cluster_name=snap.spec.cluster_name,
                    spec=spec,
                    key_prefix=prefix,
                    backoff=backoff,
                )
                return await self.engine.run(job, kube=kube, store=store)

    async def _fail(
        self,
        raw: dict[str, Any],
        snap: Snapshot,
        reason: str,
        started: float,
        *,
        if_unchanged: bool = False,
    ) -> None:
        """Failed with ``reason``: preconditioned when decided from the cache (``if_unchanged``),
        else the report of claimed work (:mod:`k8ssnap.controllers.outcomes`)."""
        self._results.labels(result="failed").inc()
        self._duration.labels(result="failed").observe(time.monotonic() - started)
        report = self._failed_report(snap, reason)
        if if_unchanged:
            await self.ctx.write_status(KIND, raw, report.body, event=report.event, if_unchanged=True)
        else:
            await self._outcomes.report(raw, report, failed=lambda why: self._failed_report(snap, why))

    @staticmethod
    def _failed_report(snap: Snapshot, reason: str) -> outcomes.Report:
        created = snap.creation_timestamp or dt.datetime.now(dt.UTC)
        until = expiry.snapshot_expiry(
            taken_at=created, ttl=snap.spec.ttl, available_until=snap.spec.available_until
        )
        body = status.snapshot_failed(reason, available_until=until, observed_generation=snap.generation)
        return outcomes.Report(body=body, event=("Failed", reason))

    async def _expire(self, raw: dict[str, Any], snap: Snapshot) -> Requeue | None:
        now = dt.datetime.now(dt.UTC)
        until = snap.status.available_until
        wanted = snap.spec.available_until
        if wanted is not None and (until is None or int(wanted.timestamp()) != int(until.timestamp())):
            until = wanted
            await self.ctx.kube.merge_patch(
                self.ctx.path(KIND, snap.name, status=True),
                {
                    "metadata": {"resourceVersion": raw["metadata"]["resourceVersion"]},
                    "status": {"availableUntil": expiry.format_time(until)},
                },
            )
            return None  # its watch event brings the key back, with a fresh resourceVersion
        if until is None:
            created = snap.creation_timestamp or now
            until = expiry.snapshot_expiry(taken_at=created, ttl=snap.spec.ttl, available_until=None)
        failed = snap.status.phase == constants.PHASE_FAILED
        until = expiry.deletion_time(until, failed=failed, created=snap.creation_timestamp)
        return await self.ctx.expire(KIND, raw, until, what="available until")

    async def _finalize(self, raw: dict[str, Any], snap: Snapshot) -> None:
        if not snap.has_finalizer:
            return
        try:
            subject = insecure.Subject(KIND, raw)
            opening = objectstores.open_store(self.ctx, snap.spec.objectstore_config, subject=subject)
            async with opening as (store, prefix):
                await store.delete(layout.archive_key(snap.name, prefix=prefix))
                await store.delete(layout.record_key(snap.name, prefix=prefix))
            message = "archive deleted"
        except errors.ConfigError as exc:
            message = f"archive not deleted: {exc.reason}"
        except errors.StorePermanent as exc:
            if "does not exist" not in exc.reason:
                raise
            message = f"archive not deleted: {exc.reason}"
        await self.ctx.events.record(raw, kind=KIND, reason="Deleted", message=message)
        await _remove_finalizer(self.ctx, raw)


async def _add_finalizer(ctx: Context, raw: dict[str, Any]) -> None:
    meta = raw["metadata"]
    finalizers = [*list(meta.get("finalizers") or []), constants.FINALIZER]
    await ctx.kube.merge_patch(
        ctx.path(KIND, meta["name"]),
        {"metadata": {"finalizers": finalizers, "resourceVersion": meta["resourceVersion"]}},
    )


async def _remove_finalizer(ctx: Context, raw: dict[str, Any]) -> None:
    meta = raw["metadata"]
    finalizers = [f for f in meta.get("finalizers") or [] if f != constants.FINALIZER]
    try:
        await ctx.kube.merge_patch(
            ctx.path(KIND, meta["name"]),
            {"metadata": {"finalizers": finalizers, "resourceVersion": meta["resourceVersion"]}},
        )
    except errors.NotFound:
        return
