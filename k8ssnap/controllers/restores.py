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

A Restore may ask for ``spec.latest`` instead of a name: the newest
Completed snapshot of a schedule or a cluster, no older than ``maxAge``
(:func:`k8ssnap.domain.schedule.choose_latest`). It is chosen when the
restore is claimed, kept for its run and report, and recorded in
``status.snapshotName``; a resumed restore keeps that choice. When none
fits, the Restore fails with the reason.

A Restore found InProgress (at the server's current version) was
interrupted by a controller restart; it runs again. That is safe because a restore creates
and never updates (unless overwriteExisting): what the first run created
is reported as alreadyExisted.

Result lists in the status keep at most :data:`MAX_STATUS_ENTRIES` entries
each (etcd's object size limit; the status builders cap them); the counts
are always exact.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from k8ssnap import errors
from k8ssnap.api import constants, status
from k8ssnap.api.resources import Restore, Snapshot, parse_restore, parse_restore_preference, parse_snapshot
from k8ssnap.controllers import encryption, lifecycle
from k8ssnap.controllers.context import Context, Subject
from k8ssnap.controllers.schedules import snapshot_facts
from k8ssnap.domain import expiry, schedule
from k8ssnap.domain.preference import Preference
from k8ssnap.restore.job import RestoreJob, RestoreResult
from k8ssnap.runtime.controller import Requeue
from k8ssnap.runtime.source import ObjectKey

log = logging.getLogger(__name__)

KIND = constants.RESTORE
MAX_STATUS_ENTRIES = status.MAX_RESULT_ENTRIES
_OUTCOMES = ("created", "updated", "already_existed", "failed", "excluded")
"""The ``outcome`` label values of ``k8ssnap_restore_objects``."""


RestoreRunner = lifecycle.Engine[RestoreJob, RestoreResult]
"""What the reconciler runs: the engine, or a fake."""


class RestoreReconciler:
    """Reconciles Restores: phases in :mod:`lifecycle`, work in the engine.

    It is the Restore :class:`~k8ssnap.controllers.lifecycle.JobKind`."""

    kind: constants.ResourceKind = KIND
    until_label: str = "preserved until"
    done_label: str = "restored"
    resumed_message: str | None = None
    """None: the InProgress Event already says what runs again (a restore never updates)."""

    def __init__(self, ctx: Context, engine: RestoreRunner) -> None:
        self.ctx = ctx
        self.engine = engine
        m = ctx.metrics
        metrics = lifecycle.JobMetrics(
            m,
            noun="restore",
            plural="restores",
            results_help="Restores, by result.",
            duration_help="Time to restore a snapshot.",
        )
        self._objects = m.gauge(
            "k8ssnap_restore_objects",
            "Objects of the last run of a restore, by outcome.",
            ["restore", "outcome"],
        )
        self._lifecycle: lifecycle.Lifecycle[Restore, RestoreResult] = lifecycle.Lifecycle(ctx, self, metrics)
        #: Restore name -> (uid, Snapshot name) chosen at the claim, for its run and report.
        self._chosen: dict[str, tuple[str, str]] = {}

    async def reconcile(self, key: ObjectKey) -> Requeue | None:
        raw = self.ctx.cached(KIND, key.name)
        if raw is None:
            self._forget(key.name)
            return None
        try:
            restore = parse_restore(raw)
        except errors.ConfigError as exc:
            await self._lifecycle.unparsable(raw, exc.reason)
            return None
        if restore.deleting:
            return None
        if restore.status.phase not in (constants.PHASE_IN_QUEUE, constants.PHASE_IN_PROGRESS):
            self.ctx.reading.pop(key.name, None)  # a claim whose InProgress write never landed
        return await self._lifecycle.step(
            raw, restore, phase=restore.status.phase, available_until=restore.spec.available_until
        )

    def _forget(self, name: str) -> None:
        """Drop the per-Restore series of a Restore that is gone (else they live forever)."""
        self._chosen.pop(name, None)
        self.ctx.reading.pop(name, None)
        for outcome in _OUTCOMES:
            with contextlib.suppress(KeyError):
                self._objects.remove(name, outcome)

    # -- the JobKind ----------------------------------------------------------

    def failed(self, reason: str, job: Restore | None) -> Mapping[str, Any]:
        if job is None:
            return status.restore_failed(reason)
        created = job.creation_timestamp or dt.datetime.now(dt.UTC)
        until = expiry.restore_expiry(
            taken_at=created, ttl=job.spec.ttl, available_until=job.spec.available_until
        )
        return status.restore_failed(reason, preserve_until=until, snapshot_name=self._claimed(job))

    def in_queue(self, job: Restore) -> Mapping[str, Any]:
        return status.restore_in_queue()

    async def claim(self, job: Restore) -> lifecycle.Claim:
        snapshot = self._snapshot(job)
        if snapshot.deleting:
            raise errors.ConfigError(f"Snapshot {snapshot.name!r} is being deleted")
        # no await between the check above and this: the Snapshot's finalizer reads both
        self.ctx.reading[job.name] = snapshot.name
        contents = snapshot.status.number_of_contents
        return lifecycle.Claim(
            status=status.restore_in_progress(num_snapshot_contents=contents, snapshot_name=snapshot.name),
            message=f"restoring snapshot {snapshot.name} ({contents} objects)",
        )

    async def run(self, job: Restore, *, subject: Subject) -> RestoreResult:
        try:
            snapshot = self._snapshot(job)
            return await self._run(job, snapshot, self._preference(job), subject)
        finally:
            self.ctx.reading.pop(job.name, None)

    def report(self, job: Restore, result: RestoreResult) -> lifecycle.Done:
        until = expiry.restore_expiry(
            taken_at=result.timestamp, ttl=job.spec.ttl, available_until=job.spec.available_until
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
            counts=result.counts,
        )
        body = status.restore_completed(
            outcome=outcome,
            resource_version=result.resource_version,
            timestamp=result.timestamp,
            preserve_until=until,
            snapshot_name=self._claimed(job),
        )
        totals = result.totals
        counts = (totals.created, totals.updated, totals.already_existed, totals.failed)
        done = (
            "would create {}, would update {}, exist {}, would fail {}"
            if job.spec.dry_run
            else ("created {}, updated {}, existed {}, failed {}")
        )
        message = f"{'dry run, nothing written: ' if job.spec.dry_run else ''}{done.format(*counts)}, " + (
            f"excluded {totals.excluded}"
        )
        return lifecycle.Done(status=body, message=message, record=lambda: self._record(job.name, result))

    def deletion_time(self, job: Restore) -> dt.datetime:
        until = job.spec.available_until or job.status.preserve_until
        if until is None:
            created = job.creation_timestamp or dt.datetime.now(dt.UTC)
            until = expiry.restore_expiry(taken_at=created, ttl=job.spec.ttl, available_until=None)
        failed = job.status.phase == constants.PHASE_FAILED
        return expiry.deletion_time(until, failed=failed, created=job.creation_timestamp)

    # -- what only Restores do ------------------------------------------------

    def _snapshot(self, restore: Restore) -> Snapshot:
        """The Snapshot to restore: as named, or as ``spec.latest`` chose it at the claim."""
        name = self._chosen_name(restore) or self._latest(restore)
        raw = self.ctx.cached(constants.SNAPSHOT, name)
        if raw is None:
            raise errors.ConfigError(f"Snapshot {name!r} not found")
        snapshot = parse_snapshot(raw)
        if snapshot.status.phase != constants.PHASE_COMPLETED:
            raise errors.ConfigError(status.REASON_SNAPSHOT_NOT_COMPLETED)
        self._chosen[restore.name] = (restore.uid, name)
        return snapshot

    def _claimed(self, restore: Restore) -> str:
        """The Snapshot this Restore was claimed with ("" before its claim)."""
        uid, name = self._chosen.get(restore.name, ("", ""))
        return name if name and uid == restore.uid else restore.status.snapshot_name

    def _chosen_name(self, restore: Restore) -> str:
        """The Snapshot claimed, else the one named; "" when ``latest`` has yet to choose."""
        return self._claimed(restore) or restore.spec.snapshot_name

    def _latest(self, restore: Restore) -> str:
        """The name of the newest Completed snapshot ``spec.latest`` selects; ConfigError
        saying why when none fits."""
        latest = restore.spec.latest
        assert latest is not None, "parse_restore gives a name or a selector"
        facts = [snapshot_facts(raw) for raw in self.ctx.informers[constants.SNAPSHOT.plural].list()]
        try:
            chosen = schedule.choose_latest(
                [f for f in facts if f is not None],
                schedule=latest.schedule,
                cluster_name=latest.cluster_name,
                now=dt.datetime.now(dt.UTC),
                max_age=None if latest.max_age is None else expiry.parse_duration(latest.max_age),
            )
        except (schedule.NoSnapshot, ValueError) as exc:
            raise errors.ConfigError(str(exc)) from None
        return chosen.name

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
        self, restore: Restore, snapshot: Snapshot, preference: Preference, subject: Subject
    ) -> RestoreResult:
        name = snapshot.name
        async with self.ctx.stores(self.ctx, snapshot.spec.objectstore_config, subject=subject) as store:
            record = await store.record_if_any(name)
            decryption = await encryption.decryption_for(
                self.ctx,
                restore=restore,
                snapshot=name,
                store_name=snapshot.spec.objectstore_config,
                record=record,
            )
            # an encrypted archive's record checks the ciphertext, in the decryption
            checked = record is not None and decryption is None
            sha256, size = (record.sha256, record.size) if checked and record is not None else ("", 0)
            job = RestoreJob(
                snapshot_name=name,
                expected_sha256=sha256,
                expected_size=size,
                preference=preference,
                overwrite_existing=preference.overwrite_existing,
                decryption=decryption,
                dry_run=restore.spec.dry_run,
                result_entries=status.MAX_RESULT_ENTRIES,
            )
            async with self.ctx.clusters(self.ctx, restore.spec.kubeconfig, subject=subject) as kube:
                return await self.engine.run(job, kube=kube, store=store)

    def _record(self, name: str, result: RestoreResult) -> None:
        totals = result.totals
        counts = (totals.created, totals.updated, totals.already_existed, totals.failed, totals.excluded)
        for outcome, count in zip(_OUTCOMES, counts, strict=True):
            self._objects.labels(restore=name, outcome=outcome).set(count)
