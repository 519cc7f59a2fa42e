"""The Restore reconciler.

Phases as k8s-snap's: "" -> InQueue -> InProgress -> Completed | Failed,
then deletion at ``preserveUntil``. The Snapshot must be Completed
("Snapshot data is not in status 'Completed'"); its own ObjectstoreConfig
and the record stored beside the archive say where the archive is and what
its checksum must be. The archive is verified before anything is created.

Every transition decided from the cache (accepting, claiming with
InProgress, expiring) is preconditioned on the cached resourceVersion, so
a cache that lags behind our own last write cannot restart a finished
restore (see :mod:`k8ssnap.controllers.snapshots`).

A Restore found InProgress (at the server's current version) was
interrupted by a controller restart; it runs again. That is safe because a restore creates
and never updates (unless overwriteExisting): what the first run created
is reported as alreadyExisted. After :data:`~k8ssnap.controllers.attempts.MAX_INTERRUPTED`
interrupted attempts it goes Failed instead (the archive may be what kills the process).

The outcome of a finished restore is reported by :mod:`k8ssnap.controllers.outcomes`:
retried, and never a reason to run the restore again.

Result lists in the status keep at most :data:`MAX_STATUS_ENTRIES` entries
each (etcd's object size limit); the counts are always exact.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from k8ssnap import errors
from k8ssnap.api import constants, status
from k8ssnap.api.resources import Restore, Snapshot, parse_restore, parse_restore_preference, parse_snapshot
from k8ssnap.archive.index import StoredRecord
from k8ssnap.controllers import attempts, clusters, insecure, objectstores, outcomes
from k8ssnap.controllers.context import Context
from k8ssnap.domain import expiry
from k8ssnap.domain.preference import Preference
from k8ssnap.restore.engine import RestoreEngine
from k8ssnap.restore.job import RestoreJob, RestoreResult
from k8ssnap.runtime.controller import Requeue
from k8ssnap.runtime.source import ObjectKey
from k8ssnap.store import layout

log = logging.getLogger(__name__)

KIND = constants.RESTORE
MAX_STATUS_ENTRIES = 2000
NOT_COMPLETED = "Snapshot data is not in status 'Completed'"
_LISTS = ("excluded", "created", "updated", "alreadyExisted", "failed")


class RestoreReconciler:
    """Reconciles Restores; the engine does the work."""

    def __init__(self, ctx: Context, engine: RestoreEngine) -> None:
        self.ctx = ctx
        self.engine = engine
        m = ctx.metrics
        self._results = m.counter("k8ssnap_restores_total", "Restores, by result.", ["result"])
        self._duration = m.histogram(
            "k8ssnap_restore_duration_seconds", "Time to restore a snapshot.", ["result"],
            buckets=(1, 2, 5, 10, 30, 60, 120, 300, 600, 1800),
        )  # fmt: skip
        self._objects = m.gauge(
            "k8ssnap_restore_objects",
            "Objects of the last run of a restore, by outcome.",
            ["restore", "outcome"],
        )
        self._last = m.gauge("k8ssnap_restore_last_success_timestamp_seconds", "Time of the last success.")
        self._outcomes = outcomes.Outcomes(ctx, KIND)

    async def reconcile(self, key: ObjectKey) -> Requeue | None:
        raw = self.ctx.cached(KIND, key.name)
        if raw is None:
            return None
        try:
            restore = parse_restore(raw)
        except errors.ConfigError as exc:
            if (raw.get("status") or {}).get("phase") != constants.PHASE_FAILED:
                await self.ctx.write_status(
                    KIND,
                    raw,
                    status.restore_failed(exc.reason),
                    event=("Failed", exc.reason),
                    if_unchanged=True,
                )
            return None
        if restore.deleting:
            return None
        phase = restore.status.phase
        if phase == constants.PHASE_NEW:
            until = restore.spec.available_until
            if until is not None and until <= dt.datetime.now(dt.UTC):
                reason = "AvailableUntil is set as past."
                await self.ctx.write_status(
                    KIND, raw, status.restore_failed(reason), event=("Failed", reason), if_unchanged=True
                )
            else:
                await self.ctx.write_status(
                    KIND,
                    raw,
                    status.restore_in_queue(),
                    event=("InQueue", "waiting for a worker"),
                    if_unchanged=True,
                )
            return None
        if phase in (constants.PHASE_IN_QUEUE, constants.PHASE_IN_PROGRESS):
            await self._restore(raw, restore)
            return None
        return await self._expire(raw, restore)

    async def _restore(self, raw: dict[str, Any], restore: Restore) -> None:
        """Claim the restore (InProgress, preconditioned), run it, and report the outcome.

        A restore whose work finished but whose report is not saved yet only has
        its report written again; one interrupted too often goes Failed
        (:mod:`k8ssnap.controllers.attempts`).
        """
        if self._outcomes.pending(raw):
            await self._outcomes.resend(raw)
            return
        started = time.monotonic()
        resumed = restore.status.phase == constants.PHASE_IN_PROGRESS
        if resumed and attempts.exhausted(raw):
            reason = attempts.interrupted_reason(attempts.interrupted(raw))
            await self._fail(raw, restore, reason, started, if_unchanged=True)
            return
        try:
            snapshot = self._snapshot(restore)
        except errors.ConfigError as exc:
            await self._fail(raw, restore, exc.reason, started, if_unchanged=True)
            return
        await self._claim(raw, snapshot, resumed=resumed)
        try:
            result = await self._run(
                raw, restore, snapshot.spec.objectstore_config, self._preference(restore)
            )
        except errors.K8sSnapError as exc:
            await self._fail(raw, restore, exc.reason, started)
            return
        except Exception as exc:
            log.exception("restore %s failed unexpectedly", restore.name)
            await self._fail(raw, restore, f"internal error: {type(exc).__name__}: {exc}", started)
            return
        try:
            report = self._completed(restore, result, started)
        except Exception as exc:  # bookkeeping must never make a finished restore run again
            log.exception("restore %s finished, but its outcome cannot be reported", restore.name)
            reason = f"restored, but the outcome cannot be reported: {type(exc).__name__}: {exc}"
            await self._fail(raw, restore, reason, started)
            return
        await self._outcomes.report(raw, report, failed=lambda why: self._failed_report(restore, why))

    async def _claim(self, raw: dict[str, Any], snapshot: Snapshot, *, resumed: bool) -> None:
        """InProgress, preconditioned; a resumed restore first counts its attempt."""
        if resumed:
            raw = await attempts.count_next(self.ctx, KIND, raw)
        contents = snapshot.status.number_of_contents
        await self.ctx.write_status(
            KIND,
            raw,
            status.restore_in_progress(num_snapshot_contents=contents),
            event=("InProgress", f"restoring snapshot {snapshot.name} ({contents} objects)"),
            if_unchanged=True,
        )

    def _completed(self, restore: Restore, result: RestoreResult, started: float) -> outcomes.Report:
        """The Completed report of a finished restore (and its metrics)."""
        until = expiry.restore_expiry(
            taken_at=result.timestamp, ttl=restore.spec.ttl, available_until=restore.spec.available_until
        )
        outcome = status.RestoreOutcome(
            excluded=result.excluded,
            created=result.created,
            updated=result.updated,
            already_existed=result.already_existed,
            failed=result.failed,
            converted=result.converted,
            num_preference_excluded=result.num_preference_excluded,
            num_snapshot_contents=result.num_snapshot_contents,
        )
        body = status.restore_completed(
            outcome=outcome,
            resource_version=result.resource_version,
            timestamp=result.timestamp,
            preserve_until=until,
        )
        elapsed = time.monotonic() - started
        self._record(restore.name, result, elapsed)
        message = (
            f"created {len(result.created)}, updated {len(result.updated)}, "
            f"existed {len(result.already_existed)}, failed {len(result.failed)}, "
            f"excluded {len(result.excluded)} in {elapsed:.1f} s"
        )
        return outcomes.Report(body=_capped(body), event=("Completed", message))

    def _snapshot(self, restore: Restore) -> Snapshot:
        name = restore.spec.snapshot_name
        raw = self.ctx.cached(constants.SNAPSHOT, name)
        if raw is None:
            raise errors.ConfigError(f"Snapshot {name!r} not found")
        snapshot = parse_snapshot(raw)
        if snapshot.status.phase != constants.PHASE_COMPLETED:
            raise errors.ConfigError(NOT_COMPLETED)
        return snapshot

    def _preference(self, restore: Restore) -> Preference:
        name = restore.spec.restore_preference_name
        if not name:
            return Preference.default()
        raw = self.ctx.cached(constants.RESTORE_PREFERENCE, name)
        if raw is None:
            raise errors.ConfigError(f"RestorePreference {name!r} not found")
        try:
            return Preference.from_spec(parse_restore_preference(raw).spec)
        except ValueError as exc:
            raise errors.ConfigError(f"RestorePreference {name!r} is invalid: {exc}") from None

    async def _run(
        self, raw: dict[str, Any], restore: Restore, store_name: str | None, preference: Preference
    ) -> RestoreResult:
        name = restore.spec.snapshot_name
        subject = insecure.Subject(KIND, raw)
        async with objectstores.open_store(self.ctx, store_name, subject=subject) as (store, prefix):
            try:
                record = StoredRecord.from_json(await store.get(layout.record_key(name, prefix=prefix)))
                sha256, size = record.sha256, record.size
            except errors.ObjectMissing:
                sha256, size = "", 0
            job = RestoreJob(
                snapshot_name=name,
                archive_key=layout.archive_key(name, prefix=prefix),
                expected_sha256=sha256,
                expected_size=size,
                preference=preference,
                overwrite_existing=preference.overwrite_existing,
                dry_run=restore.spec.dry_run,
            )
            async with clusters.connect(self.ctx, restore.spec.kubeconfig, subject=subject) as kube:
                return await self.engine.run(job, kube=kube, store=store)

    def _record(self, name: str, result: RestoreResult, elapsed: float) -> None:
        self._results.labels(result="completed").inc()
        self._duration.labels(result="completed").observe(elapsed)
        for outcome, entries in (
            ("created", result.created),
            ("updated", result.updated),
            ("already_existed", result.already_existed),
            ("failed", result.failed),
            ("excluded", result.excluded),
        ):
            self._objects.labels(restore=name, outcome=outcome).set(len(entries))
        self._last.set(time.time())

    async def _fail(
        self,
        raw: dict[str, Any],
        restore: Restore,
        reason: str,
        started: float,
        *,
        if_unchanged: bool = False,
    ) -> None:
        """Failed with ``reason``: preconditioned when decided from the cache (``if_unchanged``),
        else the report of claimed work (:mod:`k8ssnap.controllers.outcomes`)."""
        self._results.labels(result="failed").inc()
        self._duration.labels(result="failed").observe(time.monotonic() - started)
        report = self._failed_report(restore, reason)
        if if_unchanged:
            await self.ctx.write_status(KIND, raw, report.body, event=report.event, if_unchanged=True)
        else:
            await self._outcomes.report(raw, report, failed=lambda why: self._failed_report(restore, why))

    @staticmethod
    def _failed_report(restore: Restore, reason: str) -> outcomes.Report:
        created = restore.creation_timestamp or dt.datetime.now(dt.UTC)
        until = expiry.restore_expiry(
            taken_at=created, ttl=restore.spec.ttl, available_until=restore.spec.available_until
        )
        return outcomes.Report(
            body=status.restore_failed(reason, preserve_until=until), event=("Failed", reason)
        )

    async def _expire(self, raw: dict[str, Any], restore: Restore) -> Requeue | None:
        now = dt.datetime.now(dt.UTC)
        until = restore.spec.available_until or restore.status.preserve_until
        if until is None:
            created = restore.creation_timestamp or now
            until = expiry.restore_expiry(taken_at=created, ttl=restore.spec.ttl, available_until=None)
        failed = restore.status.phase == constants.PHASE_FAILED
        until = expiry.deletion_time(until, failed=failed, created=restore.creation_timestamp)
        return await self.ctx.expire(KIND, raw, until, what="preserved until")


def _capped(body: Any) -> Any:
    capped = dict(body)
    for key in _LISTS:
        entries = capped.get(key)
        if isinstance(entries, list) and len(entries) > MAX_STATUS_ENTRIES:
            capped[key] = entries[:MAX_STATUS_ENTRIES]
    return capped
