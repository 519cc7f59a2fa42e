"""The SnapshotSchedule reconciler: creates Snapshots on time, prunes beyond ``keep``.

Level-based, like the others: every call reads the cached schedule and its
Snapshots (those :func:`~k8ssnap.domain.schedule.made_by` it), asks
:func:`k8ssnap.domain.schedule.plan` what is due at ``now``, acts, writes
the status, and returns ``Requeue(after=...)`` for the next scheduled time,
which the work queue's ``add_after`` turns into a wake-up: no polling.
The key also comes round whenever one of its Snapshots changes (the
manager maps a Snapshot's schedule label to the schedule's key), which is
when retention and ``lastStatus`` catch up.

* **Exactly once.** A run's Snapshot is created first and named by the
  scheduled time, then the status records that time (preconditioned on the
  cached resourceVersion, as every transition decided from the cache). A
  crash or a stale cache between the two decides the same time again and
  the create answers AlreadyExists: the run was done, nothing is duplicated.
* **Forbid.** A run due while a Snapshot of the schedule is still new,
  InQueue or InProgress is skipped, with an Event; so is one missed by more
  than ``startingDeadlineSeconds``.
* **Retention** deletes the oldest Completed Snapshots of the schedule
  beyond ``keep``, preconditioned, through the normal finalizer (so their
  archives go too); never a Failed, unfinished or foreign one.
* Deleting a schedule leaves its Snapshots (they carry no owner reference).
* **By kind.** A schedule with ``spec.etcdTemplate`` does all of the above
  with EtcdSnapshots instead (:attr:`~k8ssnap.api.schedules.ScheduleSpec.target`):
  it reads, creates and prunes only objects of its own kind, so a Snapshot
  and an EtcdSnapshot that happen to carry the same schedule label never
  count against each other. Without the EtcdSnapshot CRD it goes Failed.
* A spec that cannot be used (bad cron, unknown time zone) makes the
  schedule Failed with the reason; fixing the spec makes it Active again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import zoneinfo
from collections.abc import Callable
from typing import Any

from k8ssnap import errors
from k8ssnap.api import _time, constants, schedules
from k8ssnap.api.schedules import ScheduleStatus, SnapshotSchedule
from k8ssnap.controllers.context import Context
from k8ssnap.domain import cadence
from k8ssnap.domain import schedule as rules
from k8ssnap.runtime.controller import Requeue
from k8ssnap.runtime.source import ObjectKey

log = logging.getLogger(__name__)

KIND = constants.SNAPSHOT_SCHEDULE
SKIPPED = "Skipped"
MISSED = "Missed"
_FINAL = ("Completed", "Failed")
_RESULTS = ("started", "skipped", "missed", "completed", "failed")
"""The ``result`` label values of ``k8ssnap_schedule_runs_total``."""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ScheduleReconciler:
    """Reconciles SnapshotSchedules; ``now`` is the wall clock (a fake one in tests)."""

    def __init__(self, ctx: Context, *, now: Callable[[], dt.datetime] = _utcnow) -> None:
        self.ctx = ctx
        self._now = now
        m = ctx.metrics
        self._runs = m.counter(
            "k8ssnap_schedule_runs_total",
            "Runs of each SnapshotSchedule, by result: started, skipped, missed, completed, failed.",
            ["schedule", "result"],
        )
        self._last_success = m.gauge(
            "k8ssnap_schedule_last_success_timestamp_seconds",
            "When the newest Completed snapshot of each SnapshotSchedule was taken (Unix time);"
            " its creation while it has none, so that one never succeeding still alerts.",
            ["schedule"],
        )
        self._period = m.gauge(
            "k8ssnap_schedule_period_seconds",
            "Seconds between the next two runs of each SnapshotSchedule.",
            ["schedule"],
        )
        self._suspended = m.gauge(
            "k8ssnap_schedule_suspended", "1 while a SnapshotSchedule is suspended, else 0.", ["schedule"]
        )
        #: schedule -> its Snapshots already in a final phase, so each outcome is counted once.
        self._finished: dict[str, set[str]] = {}

    async def reconcile(self, key: ObjectKey) -> Requeue | None:
        raw = self.ctx.cached(KIND, key.name)
        if raw is None or raw["metadata"].get("deletionTimestamp"):
            self._forget(key.name)
            return None
        now = self._now()
        try:
            sched = schedules.parse_schedule(raw)
            when = cadence.parse(sched.spec.schedule)
            zone = cadence.time_zone(sched.spec.time_zone)
            problem = rules.schedule_name_problem(sched.name)
        except errors.ConfigError as exc:
            await self._fail(raw, exc.reason, now=now)
            return None
        except ValueError as exc:
            await self._fail(raw, str(exc), now=now)
            return None
        target = sched.spec.target
        if problem is None and target.plural not in self.ctx.informers:
            problem = f"the {target.crd_name} CRD is not installed: kubectl apply -f artifacts/crd.yaml"
        if problem is not None:
            await self._fail(raw, problem, now=now)
            return None
        snapshots = self._snapshots(target, sched.name)
        await self._prune(raw, sched, snapshots)
        self._count_outcomes(sched.name, snapshots)
        step = rules.plan(
            when,
            zone=zone,
            created=sched.creation_timestamp or now,
            last=sched.status.last_schedule_time,
            now=now,
            deadline=_seconds(sched.spec.starting_deadline_seconds),
            suspended=sched.spec.suspend,
            active=bool(rules.active(snapshots, schedule=sched.name)),
        )
        self._gauge(sched, when=when, zone=zone, step=step)
        last_snapshot = await self._act(raw, sched, step)
        await self._write(raw, sched, step, snapshots=snapshots, last_snapshot=last_snapshot, now=now)
        if step.next is None:
            return None
        return Requeue(after=max((step.next - now).total_seconds(), 0.5))

    def _forget(self, schedule: str) -> None:
        """Drop the series of a schedule that is gone, so no alert fires for it."""
        self._finished.pop(schedule, None)
        for family in (self._last_success, self._period, self._suspended):
            with contextlib.suppress(KeyError):
                family.remove(schedule)
        for result in _RESULTS:
            with contextlib.suppress(KeyError):
                self._runs.remove(schedule, result)

    def _gauge(
        self, sched: SnapshotSchedule, *, when: cadence.Cadence, zone: zoneinfo.ZoneInfo, step: rules.Plan
    ) -> None:
        """The gauges the sample alert (artifacts/monitoring/) reads besides the last success."""
        self._suspended.labels(schedule=sched.name).set(1 if step.next is None else 0)
        if step.next is not None:
            after = cadence.next_time(when, after=step.next, anchor=step.next, zone=zone)
            self._period.labels(schedule=sched.name).set((after - step.next).total_seconds())

    # -- the run --------------------------------------------------------------

    async def _act(self, raw: dict[str, Any], sched: SnapshotSchedule, step: rules.Plan) -> str:
        """Carry out a run, skip or miss; the lastSnapshot it leaves."""
        last = sched.status.last_snapshot
        if step.at is None:
            return last
        due = _time.format_timestamp(step.at)
        dropped = f" ({step.dropped} earlier missed run(s) dropped)" if step.dropped else ""
        if step.action == "skip":
            self._runs.labels(schedule=sched.name, result="skipped").inc()
            await self._event(raw, "Skipped", f"run due {due} skipped: {last} has not finished{dropped}")
            return last
        if step.action == "missed":
            self._runs.labels(schedule=sched.name, result="missed").inc()
            deadline = sched.spec.starting_deadline_seconds
            await self._event(
                raw, "Missed", f"run due {due} missed: more than {deadline} s late (startingDeadlineSeconds)"
            )
            return last
        name = rules.snapshot_name(sched.name, step.at)
        if await self._create(sched, name=name, due=due):
            self._runs.labels(schedule=sched.name, result="started").inc()
            what = sched.spec.target.kind
            await self._event(raw, "Scheduled", f"created {what} {name} for the run due {due}{dropped}")
        return name

    async def _create(self, sched: SnapshotSchedule, *, name: str, due: str) -> bool:
        """Create the run's Snapshot (or EtcdSnapshot); False if it exists already (the run was done)."""
        target = sched.spec.target
        body = {
            "apiVersion": constants.API_VERSION,
            "kind": target.kind,
            "metadata": {
                "name": name,
                "namespace": self.ctx.settings.namespace,
                "labels": {constants.SCHEDULE_LABEL: sched.name},
                "annotations": {constants.SCHEDULED_AT: due},
            },
            "spec": dict(sched.spec.template_json),
        }
        try:
            await self.ctx.kube.create(self.ctx.path(target), body)
        except errors.AlreadyExists:
            log.debug("schedule %s: %s %s exists already; the run was done", sched.name, target.kind, name)
            return False
        return True

    # -- retention and outcomes -------------------------------------------------

    async def _prune(
        self, raw: dict[str, Any], sched: SnapshotSchedule, snapshots: list[rules.SnapshotFacts]
    ) -> None:
        for name in rules.to_prune(snapshots, schedule=sched.name, keep=sched.spec.keep):
            cached = self.ctx.cached(sched.spec.target, name)
            if cached is None:
                continue
            try:
                await self.ctx.delete_if_unchanged(sched.spec.target, cached)
            except errors.NotFound:
                continue
            what = sched.spec.target.kind
            await self._event(raw, "Pruned", f"deleted {what} {name}: beyond keep {sched.spec.keep}")

    def _count_outcomes(self, schedule: str, snapshots: list[rules.SnapshotFacts]) -> None:
        """Count each of the schedule's Snapshots once when it is seen Completed or Failed
        (those already final when the controller started are not counted)."""
        final = {s.name: s.phase for s in snapshots if s.schedule == schedule and s.phase in _FINAL}
        seen = self._finished.get(schedule)
        if seen is not None:
            for name in final.keys() - seen:
                self._runs.labels(schedule=schedule, result=final[name].lower()).inc()
        self._finished[schedule] = set(final)

    def _snapshots(self, target: constants.ResourceKind, schedule: str) -> list[rules.SnapshotFacts]:
        """The facts of every cached object of ``target``'s kind this schedule made."""
        found = []
        for raw in self.ctx.informers[target.plural].list():
            facts = snapshot_facts(raw)
            if facts is not None and facts.schedule == schedule:
                found.append(facts)
        return found

    # -- status -----------------------------------------------------------------

    async def _write(
        self,
        raw: dict[str, Any],
        sched: SnapshotSchedule,
        step: rules.Plan,
        *,
        snapshots: list[rules.SnapshotFacts],
        last_snapshot: str,
        now: dt.datetime,
    ) -> None:
        previous = sched.status
        last_status = _last_status(step, last_snapshot, snapshots, previous=previous.last_status)
        newest = rules.last_success(snapshots, schedule=sched.name)
        success = max(
            (t for t in (previous.last_successful_time, newest.taken if newest else None) if t),
            default=None,
        )
        since = success or sched.creation_timestamp
        if since is not None:
            self._last_success.labels(schedule=sched.name).set(since.timestamp())
        active = rules.active(snapshots, schedule=sched.name)
        if step.action == "run" and all(s.name != last_snapshot for s in snapshots):
            active = (*active, last_snapshot)  # just created; not cached yet
        suspended = step.action == "suspended"
        status = ScheduleStatus(
            phase=schedules.SCHEDULE_SUSPENDED if suspended else schedules.SCHEDULE_ACTIVE,
            last_schedule_time=step.at or previous.last_schedule_time,
            last_successful_time=success,
            last_snapshot=last_snapshot,
            last_status=last_status,
            next_schedule_time=step.next,
            active=active,
            observed_generation=sched.generation,
            conditions=(
                schedules.ready_condition(
                    ready=True,
                    reason="Suspended" if suspended else "Scheduled",
                    message="suspended" if suspended else f"next run due {_time.format_optional(step.next)}",
                    now=now,
                    previous=previous.conditions,
                ),
            ),
        )
        await self._patch_status(raw, schedules.schedule_status_json(status))

    async def _fail(self, raw: dict[str, Any], reason: str, *, now: dt.datetime) -> None:
        status = raw.get("status") or {}
        if status.get("phase") == schedules.SCHEDULE_FAILED and status.get("reason") == reason:
            return
        try:
            previous = schedules.parse_schedule(raw).status.conditions
        except errors.ConfigError:
            previous = ()
        body = {
            "phase": schedules.SCHEDULE_FAILED,
            "reason": reason,
            "nextScheduleTime": None,
            "observedGeneration": raw["metadata"].get("generation", 0),
            "conditions": [
                schedules.ready_condition(
                    ready=False, reason="InvalidSpec", message=reason, now=now, previous=previous
                )
            ],
        }
        await self._patch_status(raw, body)
        await self._event(raw, "Failed", reason)

    async def _patch_status(self, raw: dict[str, Any], body: dict[str, Any]) -> None:
        """Merge ``body`` into the status unless it is there already; preconditioned on the
        cached resourceVersion, so a decision from a stale cache comes back as a Conflict."""
        current = raw.get("status") or {}
        if all(current.get(k) == v for k, v in body.items()):
            return
        meta = raw["metadata"]
        await self.ctx.kube.merge_patch(
            self.ctx.path(KIND, meta["name"], status=True),
            {"metadata": {"resourceVersion": meta["resourceVersion"]}, "status": body},
        )

    async def _event(self, raw: dict[str, Any], reason: str, message: str) -> None:
        warning = reason in ("Failed", "Missed", "Skipped")
        await self.ctx.events.record(raw, kind=KIND, reason=reason, message=message, warning=warning)


def snapshot_facts(raw: dict[str, Any]) -> rules.SnapshotFacts | None:
    """What the rules need of a cached Snapshot; None for one that cannot be read.

    ``schedule`` is set only when the schedule label and the name agree
    (:func:`~k8ssnap.domain.schedule.made_by`), so a Snapshot someone labelled by
    hand is never pruned.
    """
    meta = raw.get("metadata") or {}
    spec = raw.get("spec") or {}
    status = raw.get("status") or {}
    name = meta.get("name")
    if not isinstance(name, str):
        return None
    labels = meta.get("labels")
    label = labels.get(constants.SCHEDULE_LABEL) if isinstance(labels, dict) else None
    try:
        taken = _time.parse_timestamp(status.get("snapshotTimestamp"), field="status.snapshotTimestamp")
        created = _time.parse_timestamp(meta.get("creationTimestamp"), field="metadata.creationTimestamp")
    except errors.ConfigError:
        return None
    owner = label if isinstance(label, str) and rules.made_by(label, name=name, label=label) else None
    phase = status.get("phase") or ""
    return rules.SnapshotFacts(
        name=name,
        phase=phase if isinstance(phase, str) else "",
        taken=taken,
        created=created,
        cluster_name=str(spec.get("clusterName") or ""),
        schedule=owner,
        deleting=bool(meta.get("deletionTimestamp")),
    )


def _last_status(step: rules.Plan, name: str, snapshots: list[rules.SnapshotFacts], *, previous: str) -> str:
    """lastStatus: Skipped or Missed for such a run, else the phase of the last run's
    Snapshot while it is cached (InQueue before it has one), else as it was."""
    if step.action == "skip":
        return SKIPPED
    if step.action == "missed":
        return MISSED
    if step.action != "run" and previous in (SKIPPED, MISSED):
        return previous
    found = next((s for s in snapshots if s.name == name), None)
    if found is None:
        return "InQueue" if step.action == "run" else previous
    return found.phase or "InQueue"


def _seconds(value: int | None) -> dt.timedelta | None:
    return None if value is None else dt.timedelta(seconds=value)
