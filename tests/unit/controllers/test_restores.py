"""RestoreReconciler.reconcile against a filled cache and fakes."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from k8ssnap import errors
from k8ssnap.api import constants, status
from k8ssnap.archive.index import RecordedSpec, StoredRecord
from k8ssnap.controllers.restores import MAX_STATUS_ENTRIES, RestoreReconciler
from k8ssnap.domain.entries import ResultCounts
from k8ssnap.domain.preference import Preference
from k8ssnap.runtime.controller import Requeue
from k8ssnap.runtime.source import ObjectKey
from k8ssnap.testing.adapters import FakeStores
from tests.unit.controllers.fakes import (
    NS,
    Call,
    FakeRestoreEngine,
    World,
    archive_index,
    merged,
    restore,
    restore_preference,
    restore_result,
    snapshot,
    ts,
    utcnow,
)

RST = constants.RESTORE
KEY = ObjectKey(NS, "rst")
PATH = RST.path(NS, "rst")
STATUS = RST.path(NS, "rst", status=True)
HOUR = 3600.0
#: RestoreResult attribute -> status key
LISTS = {
    "created": "created",
    "updated": "updated",
    "already_existed": "alreadyExisted",
    "failed": "failed",
    "excluded": "excluded",
}


def reconciler(w: World, engine: FakeRestoreEngine | None = None) -> RestoreReconciler:
    return RestoreReconciler(w.ctx, engine or FakeRestoreEngine())


def completed_snapshot(name: str = "snap", *, config: str = "store", contents: int = 6) -> dict[str, Any]:
    return snapshot(
        name,
        phase="Completed",
        spec={"clusterName": "c1", "objectstoreConfig": config},
        status={"numberOfContents": contents, "availableUntil": ts(utcnow() + dt.timedelta(days=9))},
    )


def assert_requeue_near(result: Requeue | None, seconds: float) -> None:
    assert isinstance(result, Requeue)
    assert seconds - 5 <= result.after <= seconds, result.after


# --- acceptance -----------------------------------------------------------------------------


async def test_an_object_not_in_the_cache_is_left_alone(w: World) -> None:
    assert await reconciler(w).reconcile(KEY) is None
    assert w.kube.calls == []


@pytest.mark.parametrize(
    ("spec_until", "phase", "event"),
    [
        (None, "InQueue", ("Normal", "InQueue", "waiting for a worker")),
        (dt.timedelta(hours=1), "InQueue", ("Normal", "InQueue", "waiting for a worker")),
        (dt.timedelta(hours=-1), "Failed", ("Warning", "Failed", "AvailableUntil is set as past.")),
    ],
)
async def test_a_new_restore(
    w: World, spec_until: dt.timedelta | None, phase: str, event: tuple[str, str, str]
) -> None:
    spec: dict[str, Any] = {"snapshotName": "snap"}
    if spec_until is not None:
        spec["availableUntil"] = ts(utcnow() + spec_until)
    w.put(RST, restore(spec=spec))

    assert await reconciler(w).reconcile(KEY) is None

    [patch] = w.kube.writes()
    assert patch.path == STATUS
    assert patch.body["status"]["phase"] == phase
    assert w.kube.events() == [event]


async def test_a_deleting_restore_is_left_alone(w: World) -> None:
    w.put(RST, restore(phase="InQueue", deleting=True))
    assert await reconciler(w).reconcile(KEY) is None
    assert w.kube.calls == []


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ({}, "no snapshot to restore"),
        ({"snapshotName": "a", "backupName": "b"}, "name different snapshots"),
        ({"snapshotName": "snap", "ttl": "a week"}, "spec.ttl"),
    ],
)
async def test_an_invalid_spec_fails_the_restore_once(w: World, spec: dict[str, Any], reason: str) -> None:
    w.put(RST, restore(phase="InQueue", spec=spec))

    assert await reconciler(w).reconcile(KEY) is None

    [patch] = w.kube.writes()
    assert patch.body["status"]["phase"] == "Failed"
    assert reason in patch.body["status"]["reason"]
    assert w.kube.events() == [("Warning", "Failed", patch.body["status"]["reason"])]

    w.put(RST, merged(w.cached(RST, "rst"), patch.body))
    before = len(w.kube.calls)
    assert await reconciler(w).reconcile(KEY) is None
    assert w.kube.calls[before:] == []


# --- the Snapshot and the preference ---------------------------------------------------------


async def test_a_missing_snapshot_fails_the_restore(w: World, store: FakeStores) -> None:
    created = utcnow() - dt.timedelta(hours=1)
    w.put(RST, restore(phase="InQueue", spec={"snapshotName": "x"}, created=created))
    engine = FakeRestoreEngine(result=restore_result())

    assert await reconciler(w, engine).reconcile(KEY) is None

    reason = "Snapshot 'x' not found"
    assert w.kube.writes() == [
        Call(
            "merge_patch",
            STATUS,
            {
                "status": status.restore_failed(reason, preserve_until=created + dt.timedelta(hours=168)),
                "metadata": {"resourceVersion": "7"},
            },
        )
    ]
    assert w.kube.events() == [("Warning", "Failed", reason)]
    assert engine.jobs == []
    assert store.opened == []


@pytest.mark.parametrize("phase", ["", "InQueue", "InProgress", "Failed"])
async def test_a_snapshot_not_completed_fails_the_restore(w: World, store: FakeStores, phase: str) -> None:
    w.put(constants.SNAPSHOT, snapshot(phase=phase))
    w.put(RST, restore(phase="InQueue"))
    engine = FakeRestoreEngine(result=restore_result())

    await reconciler(w, engine).reconcile(KEY)

    [patch] = w.kube.writes()
    assert patch.body["status"]["phase"] == "Failed"
    assert patch.body["status"]["reason"] == "Snapshot data is not in status 'Completed'"
    assert w.kube.events() == [("Warning", "Failed", "Snapshot data is not in status 'Completed'")]
    assert engine.jobs == []


async def test_a_snapshot_being_deleted_is_never_claimed(w: World, store: FakeStores) -> None:
    w.put(
        constants.SNAPSHOT, snapshot(phase="Completed", deleting=True, status=completed_snapshot()["status"])
    )
    w.put(RST, restore(phase="InQueue"))
    engine = FakeRestoreEngine(result=restore_result())

    await reconciler(w, engine).reconcile(KEY)

    [patch] = w.kube.writes()
    assert (patch.body["status"]["phase"], patch.body["status"]["reason"]) == (
        "Failed",
        "Snapshot 'snap' is being deleted",
    )
    assert engine.jobs == []
    assert w.ctx.reading == {}


@pytest.mark.parametrize("phase", ["Completed", "Failed"])
async def test_a_claim_left_behind_by_a_lost_write_is_dropped_once_the_restore_is_final(
    w: World, phase: str
) -> None:
    w.ctx.reading["rst"] = "snap"
    w.put(RST, restore(phase=phase))

    await reconciler(w).reconcile(KEY)

    assert w.ctx.reading == {}


@pytest.mark.parametrize("error", [None, errors.ArchiveError("archive checksum mismatch")])
async def test_a_restore_is_a_reader_of_its_snapshot_from_claim_to_the_end_of_its_run(
    w: World, store: FakeStores, error: Exception | None
) -> None:
    seen: list[dict[str, str]] = []

    class Watching(FakeRestoreEngine):
        async def run(self, job: Any, **kwargs: Any) -> Any:
            seen.append(dict(w.ctx.reading))
            return await super().run(job, **kwargs)

    w.put(constants.SNAPSHOT, completed_snapshot())
    w.put(RST, restore(phase="InQueue"))

    await reconciler(w, Watching(result=restore_result(), error=error)).reconcile(KEY)

    assert seen == [{"rst": "snap"}]
    assert w.ctx.reading == {}


@pytest.mark.parametrize(
    ("preference", "reason"),
    [
        (None, "RestorePreference 'pref' not found"),
        (restore_preference(spec={"restoreOptions": ["clobber"]}), "spec.restoreOptions[0] is 'clobber'"),
        (restore_preference(spec={"excludeNamespaces": "kube-system"}), "spec.excludeNamespaces"),
    ],
)
async def test_an_unusable_preference_fails_the_restore(
    w: World, store: FakeStores, preference: dict[str, Any] | None, reason: str
) -> None:
    w.put(constants.SNAPSHOT, completed_snapshot())
    if preference is not None:
        w.put(constants.RESTORE_PREFERENCE, preference)
    w.put(RST, restore(phase="InQueue", spec={"snapshotName": "snap", "restorePreferenceName": "pref"}))
    engine = FakeRestoreEngine(result=restore_result())

    await reconciler(w, engine).reconcile(KEY)

    in_progress, failed = w.kube.writes()
    assert in_progress == Call(
        "merge_patch",
        STATUS,
        {
            "status": status.restore_in_progress(num_snapshot_contents=6, snapshot_name="snap"),
            "metadata": {"resourceVersion": "7"},
        },
    )
    assert failed.body["status"]["phase"] == "Failed"
    assert failed.body["status"]["reason"].startswith(reason)
    assert w.kube.reasons() == ["InProgress", "Failed"]
    assert engine.jobs == []


# --- running ---------------------------------------------------------------------------------


@pytest.mark.parametrize("phase", ["InQueue", "InProgress"])
async def test_a_restore_completes_with_the_engine_result(w: World, store: FakeStores, phase: str) -> None:
    finished = utcnow()
    result = restore_result(finished=finished)
    w.put(constants.SNAPSHOT, completed_snapshot())
    w.kube.objects[PATH] = restore(phase=phase)
    w.put(RST, restore(phase=phase))

    assert await reconciler(w, FakeRestoreEngine(result=result)).reconcile(KEY) is None

    *counted, in_progress, completed = w.kube.writes()
    assert len(counted) == (phase == "InProgress")  # a resumed restore first counts its attempt
    assert in_progress.body["status"]["phase"] == "InProgress"
    assert in_progress.body["status"]["numSnapshotContents"] == 6
    body = completed.body["status"]
    assert completed.path == STATUS
    assert body["phase"] == "Completed"
    assert body["reason"] == ""
    for attr, key in LISTS.items():
        entries = getattr(result, attr)
        assert body[key] == list(entries)
        assert body[f"num{key[0].upper()}{key[1:]}"] == len(entries)
    assert (body["numCreated"], body["numUpdated"], body["numAlreadyExisted"]) == (2, 1, 1)
    assert (body["numFailed"], body["numExcluded"]) == (1, 1)
    assert body["numPreferenceExcluded"] == 1
    assert body["numSnapshotContents"] == 6
    assert body["restoreResourceVersion"] == "777"
    assert body["restoreTimestamp"] == ts(finished)
    assert body["preserveUntil"] == ts(finished + dt.timedelta(hours=168))
    assert w.kube.events()[0] == ("Normal", "InProgress", "restoring snapshot snap (6 objects)")
    kind, reason, message = w.kube.events()[1]
    assert (kind, reason) == ("Normal", "Completed")
    assert message.startswith("created 2, updated 1, existed 1, failed 1, excluded 1 in ")
    assert 'k8ssnap_restores_total{result="completed"} 1' in w.ctx.metrics.render()


async def test_the_engine_gets_the_snapshots_store_and_its_record(w: World, store: FakeStores) -> None:
    record = StoredRecord(
        index=archive_index(),
        sha256="cd" * 32,
        size=4321,
        spec=RecordedSpec(cluster_name="c1", ttl=None, available_until=None, objectstore_config="other"),
    )
    store.bucket.add("team/snap.tgz.record.json", record.to_json())
    w.put(constants.SNAPSHOT, completed_snapshot(config="other"))
    # The Restore's own objectstoreConfig is accepted and ignored, as k8s-snap did.
    w.put(RST, restore(phase="InQueue", spec={"snapshotName": "snap", "objectstoreConfig": "mine"}))
    engine = FakeRestoreEngine(result=restore_result())

    await reconciler(w, engine).reconcile(KEY)

    assert store.opened == ["other"]
    [job] = engine.jobs
    assert job.snapshot_name == "snap"
    assert (job.expected_sha256, job.expected_size) == ("cd" * 32, 4321)
    assert job.preference == Preference.default()
    assert job.overwrite_existing is False
    assert job.result_entries == MAX_STATUS_ENTRIES  # the ledger keeps no more than the status shows
    assert engine.kubes == [w.ctx.kube]
    assert [s.objects for s in engine.stores] == [store.bucket]


async def test_without_a_record_the_checksum_is_unknown(w: World, store: FakeStores) -> None:
    w.put(constants.SNAPSHOT, completed_snapshot())
    w.put(RST, restore(phase="InQueue"))
    engine = FakeRestoreEngine(result=restore_result())

    await reconciler(w, engine).reconcile(KEY)

    [job] = engine.jobs
    assert (job.expected_sha256, job.expected_size) == ("", 0)
    assert w.kube.writes()[-1].body["status"]["phase"] == "Completed"


async def test_a_corrupt_record_fails_the_restore(w: World, store: FakeStores) -> None:
    store.bucket.add("team/snap.tgz.record.json", b"not json")
    w.put(constants.SNAPSHOT, completed_snapshot())
    w.put(RST, restore(phase="InQueue"))
    engine = FakeRestoreEngine(result=restore_result())

    await reconciler(w, engine).reconcile(KEY)

    failed = w.kube.writes()[-1].body["status"]
    assert failed["phase"] == "Failed"
    assert failed["reason"].startswith("stored record is not JSON")
    assert engine.jobs == []


async def test_the_preference_is_passed_to_the_engine(w: World, store: FakeStores) -> None:
    w.put(constants.SNAPSHOT, completed_snapshot())
    spec = {"excludeNamespaces": ["kube-system"], "restoreOptions": ["overwriteExisting"]}
    w.put(constants.RESTORE_PREFERENCE, restore_preference(spec=spec))
    w.put(RST, restore(phase="InQueue", spec={"snapshotName": "snap", "restorePreferenceName": "pref"}))
    engine = FakeRestoreEngine(result=restore_result())

    await reconciler(w, engine).reconcile(KEY)

    [job] = engine.jobs
    assert job.preference == Preference.from_spec(spec)
    assert job.preference.exclude_namespaces == frozenset({"kube-system"})
    assert job.overwrite_existing is True


@pytest.mark.parametrize(
    ("spec", "until"),
    [
        ({}, dt.timedelta(hours=168)),
        ({"ttl": "2h"}, dt.timedelta(hours=2)),
        ({"ttl": "2h", "availableUntil": "FIXED"}, dt.timedelta(days=30)),
    ],
)
async def test_preserve_until_of_a_completed_restore(
    w: World, store: FakeStores, spec: dict[str, str], until: dt.timedelta
) -> None:
    finished = utcnow()
    if spec.get("availableUntil") == "FIXED":
        spec = {**spec, "availableUntil": ts(finished + until)}
    w.put(constants.SNAPSHOT, completed_snapshot())
    w.put(RST, restore(phase="InQueue", spec={"snapshotName": "snap", **spec}))

    await reconciler(w, FakeRestoreEngine(result=restore_result(finished=finished))).reconcile(KEY)

    assert w.kube.writes()[-1].body["status"]["preserveUntil"] == ts(finished + until)


@pytest.mark.parametrize("field", list(LISTS))
async def test_long_result_lists_are_capped_but_counted(w: World, store: FakeStores, field: str) -> None:
    many = tuple(f"/api/v1/namespaces/n/configmaps/cm-{i:05d}" for i in range(MAX_STATUS_ENTRIES + 7))
    lists: dict[str, Any] = {field: many}
    result = restore_result(**lists)
    w.put(constants.SNAPSHOT, completed_snapshot())
    w.put(RST, restore(phase="InQueue"))

    await reconciler(w, FakeRestoreEngine(result=result)).reconcile(KEY)

    body = w.kube.writes()[-1].body["status"]
    key = LISTS[field]
    assert body[key] == list(many[:MAX_STATUS_ENTRIES])
    assert body[f"num{key[0].upper()}{key[1:]}"] == MAX_STATUS_ENTRIES + 7
    for attr, other in LISTS.items():
        if attr != field:
            assert body[other] == list(getattr(result, attr))


async def test_counts_of_lists_the_engine_cut_are_reported_and_recorded(w: World, store: FakeStores) -> None:
    result = dataclasses.replace(
        restore_result(created=("/api/v1/namespaces/a",)),
        counts=ResultCounts(created=140_000, failed=2, excluded=5),
    )
    w.put(constants.SNAPSHOT, completed_snapshot())
    w.put(RST, restore(phase="InQueue"))

    await reconciler(w, FakeRestoreEngine(result=result)).reconcile(KEY)

    body = w.kube.writes()[-1].body["status"]
    assert body["created"] == ["/api/v1/namespaces/a"]
    assert (body["numCreated"], body["numFailed"], body["numExcluded"]) == (140_000, 2, 5)
    text = w.ctx.metrics.render()
    assert 'k8ssnap_restore_objects{outcome="created",restore="rst"} 140000.0' in text
    assert 'k8ssnap_restore_objects{outcome="failed",restore="rst"} 2.0' in text


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (errors.ArchiveError("archive checksum mismatch"), "archive checksum mismatch"),
        (errors.RetriableError("gave up after 300 s of retries: 503"), "gave up after 300 s of retries: 503"),
        (
            errors.ObjectMissing("GET snap.tgz: the key does not exist"),
            "GET snap.tgz: the key does not exist",
        ),
        (RuntimeError("oops"), "internal error: RuntimeError: oops"),
    ],
)
async def test_a_failing_engine_fails_the_restore(
    w: World, store: FakeStores, error: Exception, reason: str
) -> None:
    created = utcnow() - dt.timedelta(hours=3)
    w.put(constants.SNAPSHOT, completed_snapshot())
    w.put(RST, restore(phase="InQueue", created=created))

    await reconciler(w, FakeRestoreEngine(error=error)).reconcile(KEY)

    in_progress, failed = w.kube.writes()
    assert in_progress.body["status"]["phase"] == "InProgress"
    assert failed == Call(
        "merge_patch",
        STATUS,
        {
            "status": status.restore_failed(
                reason, preserve_until=created + dt.timedelta(hours=168), snapshot_name="snap"
            )
        },
    )
    assert w.kube.events()[-1] == ("Warning", "Failed", reason)
    assert 'k8ssnap_restores_total{result="failed"} 1' in w.ctx.metrics.render()


# --- expiry -------------------------------------------------------------------------------------


@pytest.mark.parametrize("phase", ["Completed", "Failed"])
async def test_a_finished_restore_is_requeued_until_preserve_until(w: World, phase: str) -> None:
    w.put(RST, restore(phase=phase, status={"preserveUntil": ts(utcnow() + dt.timedelta(hours=5))}))

    assert_requeue_near(await reconciler(w).reconcile(KEY), 5 * HOUR)
    assert w.kube.calls == []


@pytest.mark.parametrize(
    ("spec_until", "status_until", "expected"),
    [
        (dt.timedelta(hours=2), dt.timedelta(days=3), 2 * HOUR),  # the spec wins
        (None, None, 167 * HOUR),  # created an hour ago + 168h
        (None, dt.timedelta(minutes=10), 600.0),
    ],
)
async def test_which_time_a_restore_expires_at(
    w: World, spec_until: dt.timedelta | None, status_until: dt.timedelta | None, expected: float
) -> None:
    spec: dict[str, Any] = {"snapshotName": "snap"}
    if spec_until is not None:
        spec["availableUntil"] = ts(utcnow() + spec_until)
    st = {} if status_until is None else {"preserveUntil": ts(utcnow() + status_until)}
    w.put(RST, restore(phase="Completed", spec=spec, status=st, created=utcnow() - dt.timedelta(hours=1)))

    assert_requeue_near(await reconciler(w).reconcile(KEY), expected)
    assert w.kube.calls == []


async def test_k8s_snap_v05_available_until_in_the_status_counts_as_preserve_until(w: World) -> None:
    w.put(RST, restore(phase="Completed", status={"availableUntil": ts(utcnow() + dt.timedelta(hours=4))}))
    assert_requeue_near(await reconciler(w).reconcile(KEY), 4 * HOUR)


@pytest.mark.parametrize("phase", ["Completed", "Failed"])
async def test_an_expired_restore_is_deleted(w: World, phase: str) -> None:
    until = utcnow() - dt.timedelta(days=1)
    w.put(
        RST,
        restore(phase=phase, status={"preserveUntil": ts(until)}, created=utcnow() - dt.timedelta(days=2)),
    )

    assert await reconciler(w).reconcile(KEY) is None

    assert w.kube.writes() == [Call("delete", PATH, {"resourceVersion": "7"})]
    assert w.kube.events() == [("Normal", "Expired", f"preserved until {ts(until)}")]


# --- a cache that lags behind the server ---------------------------------------------------------


@pytest.mark.parametrize("cached_phase", ["", "InQueue", "InProgress"])
async def test_a_cache_behind_our_own_writes_never_runs_a_restore_twice(
    w: World, store: FakeStores, cached_phase: str
) -> None:
    engine = FakeRestoreEngine(result=restore_result())
    w.put(constants.SNAPSHOT, completed_snapshot())
    server = restore(phase="Completed", resource_version="9")
    w.kube.objects[PATH] = server
    w.put(RST, restore(phase=cached_phase, resource_version="8"))

    with pytest.raises(errors.Conflict):
        await reconciler(w, engine).reconcile(KEY)

    assert engine.jobs == []
    assert w.kube.objects[PATH] == server
    assert w.kube.events() == []


async def test_a_missing_snapshot_seen_in_a_stale_cache_fails_nothing(w: World, store: FakeStores) -> None:
    server = restore(phase="Completed", spec={"snapshotName": "x"}, resource_version="9")
    w.kube.objects[PATH] = server
    w.put(RST, restore(phase="InQueue", spec={"snapshotName": "x"}, resource_version="8"))

    with pytest.raises(errors.Conflict):
        await reconciler(w).reconcile(KEY)

    assert w.kube.objects[PATH] == server


async def test_a_deleted_restore_takes_its_metric_series_with_it(w: World, store: FakeStores) -> None:
    """Issue 11, fault 13: per-Restore series lived as long as the process."""
    w.put(constants.SNAPSHOT, completed_snapshot())
    w.put(RST, restore(phase="InQueue"))
    rec = reconciler(w, FakeRestoreEngine(result=restore_result()))
    await rec.reconcile(KEY)
    assert 'k8ssnap_restore_objects{outcome="created",restore="rst"}' in w.ctx.metrics.render()

    w.remove(RST, "rst")
    assert await rec.reconcile(KEY) is None

    text = w.ctx.metrics.render()
    assert 'restore="rst"' not in text
    assert 'k8ssnap_restores_total{result="completed"} 1' in text  # totals stay


async def test_a_dry_run_reports_what_it_would_have_done(w: World, store: FakeStores) -> None:
    """The Completed Event of a dry run never reads as if objects were created."""
    w.put(constants.SNAPSHOT, completed_snapshot())
    raw = restore(phase="InQueue", spec={"snapshotName": "snap", "dryRun": True})
    w.kube.objects[PATH] = raw
    w.put(RST, raw)

    assert (
        await reconciler(w, FakeRestoreEngine(result=restore_result(finished=utcnow()))).reconcile(KEY)
        is None
    )

    kind, reason, message = w.kube.events()[1]
    assert (kind, reason) == ("Normal", "Completed")
    assert message.startswith(
        "dry run, nothing written: would create 2, would update 1, exist 1, would fail 1, excluded 1 in "
    )
