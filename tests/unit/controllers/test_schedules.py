"""ScheduleReconciler.reconcile on a fake clock against a filled cache and a fake API server."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from k8ssnap import errors
from k8ssnap.api import constants
from k8ssnap.api.resources import parse_snapshot
from k8ssnap.controllers.schedules import ScheduleReconciler
from k8ssnap.runtime.controller import Requeue
from k8ssnap.runtime.source import ObjectKey
from tests.exposition import sample
from tests.unit.controllers.fakes import NS, World, snapshot, ts

SCHED = constants.SNAPSHOT_SCHEDULE
SNAP = constants.SNAPSHOT
KEY = ObjectKey(NS, "nightly")
STATUS = SCHED.path(NS, "nightly", status=True)
SNAPSHOTS = SNAP.path(NS)
RUNS = "k8ssnap_schedule_runs_total"
LAST_SUCCESS = "k8ssnap_schedule_last_success_timestamp_seconds"
CREATED = dt.datetime(2026, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
TEMPLATE = {"clusterName": "c1", "objectstoreConfig": "store", "ttl": "2h"}


def at(seconds: float) -> dt.datetime:
    return CREATED + dt.timedelta(seconds=seconds)


def schedule_raw(
    *, status: dict[str, Any] | None = None, resource_version: str = "7", **spec: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": constants.API_VERSION,
        "kind": SCHED.kind,
        "metadata": {
            "name": "nightly",
            "namespace": NS,
            "uid": "uid-nightly",
            "resourceVersion": resource_version,
            "generation": 1,
            "creationTimestamp": ts(CREATED),
        },
        "spec": {"schedule": "@every 10s", "template": dict(TEMPLATE), **spec},
    }
    if status is not None:
        body["status"] = status
    return body


def scheduled(
    seconds: float, phase: str, *, taken: float | None = None, owner: str = "nightly"
) -> dict[str, Any]:
    """A Snapshot the schedule made for the time ``at(seconds)``."""
    stamp = at(seconds).strftime("%Y%m%d%H%M%S")
    status: dict[str, Any] = {}
    if taken is not None:
        status["snapshotTimestamp"] = ts(at(taken))
    raw = snapshot(f"{owner}-{stamp}", phase=phase, status=status, created=at(seconds))
    raw["metadata"]["labels"] = {constants.SCHEDULE_LABEL: owner}
    return raw


class Clock:
    """The wall clock the reconciler reads; tests move it by hand."""

    def __init__(self, seconds: float) -> None:
        self.moment = at(seconds)

    def __call__(self) -> dt.datetime:
        return self.moment

    def set(self, seconds: float) -> None:
        self.moment = at(seconds)


def reconciler(w: World, clock: Clock) -> ScheduleReconciler:
    return ScheduleReconciler(w.ctx, now=clock)


def creates(w: World) -> list[dict[str, Any]]:
    return [c.body for c in w.kube.writes() if c.method == "create" and c.path == SNAPSHOTS]


def status_patches(w: World) -> list[dict[str, Any]]:
    return [c.body for c in w.kube.writes() if c.method == "merge_patch" and c.path == STATUS]


def assert_requeue(result: Requeue | None, seconds: float) -> None:
    assert isinstance(result, Requeue)
    assert result.after == pytest.approx(seconds)


# --- runs ------------------------------------------------------------------------------------


async def test_nothing_due_waits_for_the_next_time_without_writing_a_run(w: World) -> None:
    w.put(SCHED, schedule_raw())
    result = await reconciler(w, Clock(4)).reconcile(KEY)
    assert_requeue(result, 6)
    assert creates(w) == []
    (patch,) = status_patches(w)
    assert patch["status"]["nextScheduleTime"] == ts(at(10))
    assert patch["status"]["phase"] == "Active"
    assert patch["metadata"] == {"resourceVersion": "7"}


async def test_a_due_run_creates_its_snapshot_by_name_label_and_template(w: World) -> None:
    w.put(SCHED, schedule_raw())
    result = await reconciler(w, Clock(10.3)).reconcile(KEY)

    (body,) = creates(w)
    assert body["metadata"]["name"] == "nightly-20260501120010"
    assert body["metadata"]["labels"] == {constants.SCHEDULE_LABEL: "nightly"}
    assert body["metadata"]["annotations"] == {constants.SCHEDULED_AT: ts(at(10))}
    assert "ownerReferences" not in body["metadata"]  # deleting the schedule leaves its snapshots
    assert body["spec"] == TEMPLATE
    (patch,) = status_patches(w)
    status = patch["status"]
    assert (status["lastScheduleTime"], status["lastSnapshot"], status["lastStatus"]) == (
        ts(at(10)), "nightly-20260501120010", "InQueue",
    )  # fmt: skip
    assert status["active"] == ["nightly-20260501120010"]
    assert status["nextScheduleTime"] == ts(at(20))
    assert_requeue(result, 9.7)
    assert w.kube.events()[0][:2] == ("Normal", "Scheduled")
    assert sample(w.ctx.metrics.render(), RUNS, schedule="nightly", result="started") == 1


async def test_already_exists_means_the_run_was_done(w: World) -> None:
    """A crash (or a stale cache) between creating and recording decides the same run again."""
    w.put(SCHED, schedule_raw())
    clock = Clock(10)
    await reconciler(w, clock).reconcile(KEY)
    events = len(w.kube.events())
    rec = reconciler(w, clock)
    clock.set(11)
    await rec.reconcile(KEY)  # the cache still shows no lastScheduleTime

    assert [b["metadata"]["name"] for b in creates(w)] == ["nightly-20260501120010"] * 2
    assert len([p for p in w.kube.objects if p.startswith(SNAPSHOTS)]) == 1
    assert len(w.kube.events()) == events  # no second "Scheduled"
    assert status_patches(w)[-1]["status"]["lastScheduleTime"] == ts(at(10))
    assert sample(w.ctx.metrics.render(), RUNS, schedule="nightly", result="started") == 1


async def test_forbid_skips_while_the_previous_run_is_unfinished(w: World) -> None:
    w.put(
        SCHED, schedule_raw(status={"lastScheduleTime": ts(at(10)), "lastSnapshot": "nightly-20260501120010"})
    )
    w.put(SNAP, scheduled(10, "InProgress"))
    result = await reconciler(w, Clock(20)).reconcile(KEY)

    assert creates(w) == []
    status = status_patches(w)[-1]["status"]
    assert (status["lastScheduleTime"], status["lastStatus"]) == (ts(at(20)), "Skipped")
    assert status["lastSnapshot"] == "nightly-20260501120010"
    assert status["active"] == ["nightly-20260501120010"]
    kind, reason, message = w.kube.events()[0]
    assert (kind, reason) == ("Warning", "Skipped")
    assert "nightly-20260501120010 has not finished" in message
    assert_requeue(result, 10)


@pytest.mark.parametrize("phase", ["Completed", "Failed"])
async def test_a_finished_previous_run_does_not_forbid(w: World, phase: str) -> None:
    w.put(SCHED, schedule_raw(status={"lastScheduleTime": ts(at(10))}))
    w.put(SNAP, scheduled(10, phase, taken=10))
    await reconciler(w, Clock(20)).reconcile(KEY)
    assert [b["metadata"]["name"] for b in creates(w)] == ["nightly-20260501120020"]


async def test_after_downtime_exactly_one_catch_up_run(w: World) -> None:
    w.put(SCHED, schedule_raw(status={"lastScheduleTime": ts(at(10))}))
    result = await reconciler(w, Clock(47)).reconcile(KEY)

    assert [b["metadata"]["name"] for b in creates(w)] == ["nightly-20260501120040"]
    assert "2 earlier missed run(s) dropped" in w.kube.events()[0][2]
    assert_requeue(result, 3)


async def test_a_run_later_than_the_starting_deadline_is_missed(w: World) -> None:
    w.put(SCHED, schedule_raw(startingDeadlineSeconds=5, status={"lastScheduleTime": ts(at(10))}))
    await reconciler(w, Clock(47)).reconcile(KEY)

    assert creates(w) == []
    status = status_patches(w)[-1]["status"]
    assert (status["lastScheduleTime"], status["lastStatus"]) == (ts(at(40)), "Missed")
    assert w.kube.events()[0][:2] == ("Warning", "Missed")


async def test_suspended_runs_nothing_and_is_not_requeued(w: World) -> None:
    w.put(SCHED, schedule_raw(suspend=True, status={"lastScheduleTime": ts(at(10))}))
    assert await reconciler(w, Clock(100)).reconcile(KEY) is None
    assert creates(w) == []
    status = status_patches(w)[-1]["status"]
    assert (status["phase"], status["nextScheduleTime"]) == ("Suspended", None)


async def test_an_unchanged_status_is_not_written_again(w: World) -> None:
    clock = Clock(4)
    w.put(SCHED, schedule_raw())
    await reconciler(w, clock).reconcile(KEY)
    # the watch event of that write brings the key back with the new status
    w.put(SCHED, schedule_raw(status=status_patches(w)[0]["status"], resource_version="8"))
    await reconciler(w, clock).reconcile(KEY)
    assert len(status_patches(w)) == 1


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"schedule": "61 * * * *"}, "not a valid cron expression"),
        ({"schedule": "@reboot"}, "unknown macro"),
        ({"timeZone": "Mars/Olympus"}, "IANA"),
        ({"template": {"clusterName": "c", "bucket": "b"}}, "bucket"),
    ],
)
async def test_an_unusable_spec_fails_the_schedule_with_the_reason(
    w: World, spec: dict[str, Any], words: str
) -> None:
    w.put(SCHED, schedule_raw(**spec))
    assert await reconciler(w, Clock(100)).reconcile(KEY) is None
    assert creates(w) == []
    status = status_patches(w)[-1]["status"]
    assert status["phase"] == "Failed"
    assert words in status["reason"]
    assert status["conditions"][0]["status"] == "False"
    assert w.kube.events()[-1][:2] == ("Warning", "Failed")


async def test_a_deleted_schedule_leaves_its_snapshots(w: World) -> None:
    w.put(SNAP, scheduled(10, "Completed", taken=10))
    assert await reconciler(w, Clock(100)).reconcile(KEY) is None
    assert w.kube.writes() == []


# --- retention -------------------------------------------------------------------------------


async def test_retention_deletes_exactly_the_oldest_completed_beyond_keep(w: World) -> None:
    w.put(SCHED, schedule_raw(keep=2, status={"lastScheduleTime": ts(at(60))}))
    for seconds in (10, 20, 30, 40):
        w.put(SNAP, scheduled(seconds, "Completed", taken=seconds + 1))
    w.put(SNAP, scheduled(5, "Failed"))
    w.put(SNAP, scheduled(50, "InProgress"))
    w.put(SNAP, scheduled(1, "Completed", taken=1, owner="weekly"))
    hand = snapshot("by-hand", phase="Completed", status={"snapshotTimestamp": ts(at(0))})
    hand["metadata"]["labels"] = {constants.SCHEDULE_LABEL: "nightly"}  # labelled by someone
    w.put(SNAP, hand)

    await reconciler(w, Clock(62)).reconcile(KEY)

    deletes = [(c.path, c.body) for c in w.kube.writes() if c.method == "delete"]
    assert deletes == [
        (SNAP.path(NS, "nightly-20260501120010"), {"resourceVersion": "7"}),
        (SNAP.path(NS, "nightly-20260501120020"), {"resourceVersion": "7"}),
    ]
    assert [r for r in w.kube.reasons() if r == "Pruned"] == ["Pruned", "Pruned"]


async def test_retention_without_keep_deletes_nothing(w: World) -> None:
    w.put(SCHED, schedule_raw(status={"lastScheduleTime": ts(at(60))}))
    for seconds in (10, 20, 30):
        w.put(SNAP, scheduled(seconds, "Completed", taken=seconds))
    await reconciler(w, Clock(62)).reconcile(KEY)
    assert [c for c in w.kube.writes() if c.method == "delete"] == []


async def test_a_stale_retention_delete_is_a_conflict_retried_later(w: World) -> None:
    w.put(SCHED, schedule_raw(keep=1, status={"lastScheduleTime": ts(at(60))}))
    for seconds in (10, 20):
        w.put(SNAP, scheduled(seconds, "Completed", taken=seconds))
    w.kube.fail(SNAP.path(NS, "nightly-20260501120010"), errors.Conflict("modified"), method="delete")
    with pytest.raises(errors.Conflict):
        await reconciler(w, Clock(62)).reconcile(KEY)


# --- status and metrics --------------------------------------------------------------------


async def test_outcomes_are_counted_once_and_last_success_is_exposed(w: World) -> None:
    w.put(
        SCHED, schedule_raw(status={"lastScheduleTime": ts(at(10)), "lastSnapshot": "nightly-20260501120010"})
    )
    w.put(SNAP, scheduled(10, "InProgress"))
    clock = Clock(12)
    rec = reconciler(w, clock)
    await rec.reconcile(KEY)
    w.put(SNAP, scheduled(10, "Completed", taken=11))
    await rec.reconcile(KEY)
    await rec.reconcile(KEY)

    text = w.ctx.metrics.render()
    assert sample(text, RUNS, schedule="nightly", result="completed") == 1
    assert sample(text, LAST_SUCCESS, schedule="nightly") == at(11).timestamp()
    status = status_patches(w)[-1]["status"]
    assert (status["lastStatus"], status["lastSuccessfulTime"], status["active"]) == (
        "Completed", ts(at(11)), None,
    )  # fmt: skip


async def test_a_deleted_schedule_takes_its_series_with_it(w: World) -> None:
    w.put(SCHED, schedule_raw())
    rec = reconciler(w, Clock(10))
    await rec.reconcile(KEY)
    assert sample(w.ctx.metrics.render(), RUNS, schedule="nightly", result="started") == 1
    w.remove(SCHED, "nightly")
    await rec.reconcile(KEY)
    text = w.ctx.metrics.render()
    assert 'schedule="nightly"' not in text


async def test_each_run_snapshot_is_encrypted_as_the_template_asks(w: World) -> None:
    encryption = {"recipientsSecret": {"name": "age-recipients", "key": "recipients"}}
    w.put(SCHED, schedule_raw(template={**TEMPLATE, "encryption": encryption}))
    await reconciler(w, Clock(10.3)).reconcile(KEY)
    (body,) = creates(w)
    assert body["spec"] == {**TEMPLATE, "encryption": encryption}
    assert parse_snapshot(body).spec.encryption.recipients_secret is not None
