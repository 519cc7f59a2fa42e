"""SnapshotReconciler.reconcile against a filled cache and fakes: the exact API actions per phase."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from k8ssnap import errors
from k8ssnap.api import constants, status
from k8ssnap.archive.index import RecordedSpec
from k8ssnap.controllers import clusters, objectstores
from k8ssnap.controllers.context import Settings
from k8ssnap.controllers.snapshots import MAX_STATUS_CONTENTS, RECREATED, SnapshotReconciler
from k8ssnap.runtime.controller import Requeue
from k8ssnap.runtime.source import ObjectKey
from k8ssnap.testing.adapters import FakeStores
from tests.unit.controllers.fakes import (
    NS,
    Call,
    FakeKube,
    FakeSnapshotEngine,
    World,
    merged,
    restore,
    snapshot,
    snapshot_outcome,
    ts,
    utcnow,
    world,
)

SNAP = constants.SNAPSHOT
KEY = ObjectKey(NS, "snap")
PATH = SNAP.path(NS, "snap")
STATUS = SNAP.path(NS, "snap", status=True)
HOUR = 3600.0
KEEP = "other.io/keep"


def reconciler(w: World, engine: FakeSnapshotEngine | None = None) -> SnapshotReconciler:
    return SnapshotReconciler(w.ctx, engine or FakeSnapshotEngine())


def status_patch(body: Any, *, if_version: str | None = None) -> Call:
    """A status merge patch; ``if_version`` is its resourceVersion precondition."""
    patch: dict[str, Any] = {"status": body}
    if if_version is not None:
        patch["metadata"] = {"resourceVersion": if_version}
    return Call("merge_patch", STATUS, patch)


def finalizer_patch(finalizers: list[str]) -> Call:
    return Call("merge_patch", PATH, {"metadata": {"finalizers": finalizers, "resourceVersion": "7"}})


def assert_requeue_near(result: Requeue | None, seconds: float) -> None:
    assert isinstance(result, Requeue)
    assert seconds - 5 <= result.after <= seconds, result.after


# --- not cached, finalizer, acceptance ------------------------------------------------------


async def test_an_object_not_in_the_cache_is_left_alone(w: World) -> None:
    assert await reconciler(w).reconcile(KEY) is None
    assert w.kube.calls == []


@pytest.mark.parametrize("phase", ["", "InQueue", "Completed"])
@pytest.mark.parametrize("existing", [[], [KEEP]])
async def test_without_the_finalizer_only_the_finalizer_is_added(
    w: World, phase: str, existing: list[str]
) -> None:
    w.put(SNAP, snapshot(phase=phase, finalizers=existing))
    engine = FakeSnapshotEngine()

    assert await reconciler(w, engine).reconcile(KEY) is None

    assert w.kube.writes() == [finalizer_patch([*existing, constants.FINALIZER])]
    assert w.kube.events() == []
    assert engine.jobs == []


async def test_a_new_snapshot_is_queued(w: World) -> None:
    w.put(SNAP, snapshot())

    assert await reconciler(w).reconcile(KEY) is None

    assert w.kube.writes() == [status_patch(status.snapshot_in_queue(observed_generation=1), if_version="7")]
    assert w.kube.writes()[0].body["status"]["phase"] == "InQueue"
    assert w.kube.events() == [("Normal", "InQueue", "waiting for a worker")]
    involved = w.kube.event_bodies()[0]["involvedObject"]
    assert involved == {
        "apiVersion": constants.API_VERSION,
        "kind": "Snapshot",
        "name": "snap",
        "namespace": NS,
        "uid": "uid-snap",
        "resourceVersion": "7",
    }


@pytest.mark.parametrize(
    ("offset", "phase", "events"),
    [
        (dt.timedelta(days=-1), "Failed", [("Warning", "Failed", "AvailableUntil is set as past.")]),
        (dt.timedelta(seconds=-1), "Failed", [("Warning", "Failed", "AvailableUntil is set as past.")]),
        (dt.timedelta(hours=1), "InQueue", [("Normal", "InQueue", "waiting for a worker")]),
    ],
)
async def test_a_new_snapshot_with_spec_available_until(
    w: World, offset: dt.timedelta, phase: str, events: list[tuple[str, str, str]]
) -> None:
    spec = {"clusterName": "c1", "objectstoreConfig": "store", "availableUntil": ts(utcnow() + offset)}
    w.put(SNAP, snapshot(spec=spec))

    assert await reconciler(w).reconcile(KEY) is None

    [patch] = w.kube.writes()
    assert patch.path == STATUS
    assert patch.body["status"]["phase"] == phase
    if phase == "Failed":
        assert patch.body["status"]["reason"] == "AvailableUntil is set as past."
    assert w.kube.events() == events


async def test_a_snapshot_recreated_from_the_bucket_is_not_touched_at_phase_new(w: World) -> None:
    w.put(SNAP, snapshot(annotations={RECREATED: "true"}))
    engine = FakeSnapshotEngine()

    assert await reconciler(w, engine).reconcile(KEY) is None

    assert w.kube.calls == []
    assert engine.jobs == []


# --- taking the snapshot ----------------------------------------------------------------------


async def test_a_queued_snapshot_is_taken_and_completed(w: World, store: FakeStores) -> None:
    taken = utcnow()
    outcome = snapshot_outcome(taken=taken, size=1234, skipped=("metrics.k8s.io/v1beta1",))
    engine = FakeSnapshotEngine(outcome=outcome)
    w.put(SNAP, snapshot(phase="InQueue"))

    assert await reconciler(w, engine).reconcile(KEY) is None

    in_progress, completed = w.kube.writes()
    assert in_progress == status_patch(status.snapshot_in_progress(observed_generation=1), if_version="7")
    assert completed.path == STATUS
    body = completed.body["status"]
    assert body == {
        "phase": "Completed",
        "reason": "",
        "contents": [
            "/api/v1/namespaces/default/configmaps/a",
            "/api/v1/namespaces/default/configmaps/b",
            "/apis/apps/v1/namespaces/default/deployments/web",
        ],
        "numberOfContents": 3,
        "snapshotResourceVersion": "4242",
        "snapshotTimestamp": ts(taken),
        "storedFileSize": 1234,
        "storedTimestamp": ts(taken),
        "availableUntil": ts(taken + dt.timedelta(hours=720)),
        "storedSha256": "ab" * 32,
        "skippedApis": ["metrics.k8s.io/v1beta1"],
        "observedGeneration": 1,
    }
    assert [(kind, reason) for kind, reason, _ in w.kube.events()] == [
        ("Normal", "InProgress"),
        ("Normal", "Completed"),
    ]
    assert w.kube.events()[1][2].startswith("3 objects, 1234 bytes at resourceVersion 4242 in ")


async def test_the_engine_gets_the_job_store_and_cluster(w: World, store: FakeStores) -> None:
    engine = FakeSnapshotEngine(outcome=snapshot_outcome())
    w.put(
        SNAP, snapshot(phase="InQueue", spec={"clusterName": "c1", "objectstoreConfig": "store", "ttl": "2h"})
    )

    await reconciler(w, engine).reconcile(KEY)

    [job] = engine.jobs
    assert (job.name, job.cluster_name) == ("snap", "c1")
    assert job.spec == RecordedSpec(
        cluster_name="c1", ttl="2h", available_until=None, objectstore_config="store"
    )
    assert job.backoff.max_elapsed == w.ctx.settings.max_retry_elapsed
    assert engine.kubes == [w.ctx.kube]  # no kubeconfig: the controller's own cluster
    assert [(s.objects, s.prefix) for s in engine.stores] == [(store.bucket, "team/")]
    assert store.opened == ["store"]
    assert ("check", "bkt") in store.bucket.calls  # ensure_bucket ran before the engine


async def test_a_scheduled_snapshot_records_its_schedule(w: World, store: FakeStores) -> None:
    engine = FakeSnapshotEngine(outcome=snapshot_outcome())
    raw = snapshot(phase="InQueue")
    raw["metadata"]["labels"] = {constants.SCHEDULE_LABEL: "nightly"}
    w.put(SNAP, raw)

    await reconciler(w, engine).reconcile(KEY)

    [job] = engine.jobs
    assert job.spec.schedule == "nightly"
    assert job.spec.to_dict()["schedule"] == "nightly"


async def test_the_engine_works_on_the_cluster_the_spec_names(w: World, store: FakeStores) -> None:
    remote = FakeKube()
    w.connector.remote = remote
    engine = FakeSnapshotEngine(outcome=snapshot_outcome())
    spec = {"clusterName": "c1", "objectstoreConfig": "store", "kubeconfigSecret": {"name": "kc"}}
    w.put(SNAP, snapshot(phase="InQueue", spec=spec))

    await reconciler(w, engine).reconcile(KEY)

    assert engine.kubes == [remote]
    assert [(r.secret.name, r.secret.key) for r in w.connector.refs if r.secret] == [("kc", "kubeconfig")]
    assert w.kube.reasons() == ["InProgress", "Completed"]


@pytest.mark.parametrize(
    ("spec", "until"),
    [
        ({}, dt.timedelta(hours=720)),
        ({"ttl": "1h"}, dt.timedelta(hours=1)),
        ({"ttl": "1h30m"}, dt.timedelta(minutes=90)),
        ({"ttl": "168h"}, dt.timedelta(days=7)),
        ({"availableUntil": "FIXED", "ttl": "1h"}, dt.timedelta(days=3)),
    ],
)
async def test_available_until_of_a_completed_snapshot(
    w: World, store: FakeStores, spec: dict[str, str], until: dt.timedelta
) -> None:
    taken = utcnow() - dt.timedelta(minutes=5)
    if spec.get("availableUntil") == "FIXED":
        spec = {**spec, "availableUntil": ts(taken + until)}
    w.put(SNAP, snapshot(phase="InQueue", spec={"clusterName": "c1", "objectstoreConfig": "store", **spec}))

    await reconciler(w, FakeSnapshotEngine(outcome=snapshot_outcome(taken=taken))).reconcile(KEY)

    assert w.kube.writes()[-1].body["status"]["availableUntil"] == ts(taken + until)


async def test_status_contents_are_capped_but_counted(w: World, store: FakeStores) -> None:
    paths = [f"/api/v1/namespaces/n/configmaps/cm-{i:05d}" for i in range(MAX_STATUS_CONTENTS + 1)]
    w.put(SNAP, snapshot(phase="InQueue"))

    await reconciler(w, FakeSnapshotEngine(outcome=snapshot_outcome(paths=paths))).reconcile(KEY)

    body = w.kube.writes()[-1].body["status"]
    assert body["numberOfContents"] == MAX_STATUS_CONTENTS + 1
    assert body["contents"] == paths[:MAX_STATUS_CONTENTS]


async def test_a_snapshot_found_in_progress_is_resumed_and_taken_again(w: World, store: FakeStores) -> None:
    engine = FakeSnapshotEngine(outcome=snapshot_outcome())
    w.kube.objects[PATH] = snapshot(phase="InProgress")
    w.put(SNAP, snapshot(phase="InProgress"))

    assert await reconciler(w, engine).reconcile(KEY) is None

    counted, *writes = w.kube.writes()
    assert counted == Call(
        "merge_patch", PATH, {"metadata": {"resourceVersion": "7", "annotations": {constants.ATTEMPTS: "2"}}}
    )
    assert w.kube.events()[1] == (
        "Normal",
        "Resumed",
        "controller restarted during the snapshot; taking it again",
    )
    assert w.kube.reasons() == ["InProgress", "Resumed", "Completed"]
    assert [c.body["status"]["phase"] for c in writes] == ["InProgress", "Completed"]
    assert writes[0].body["metadata"] == {"resourceVersion": "8"}  # the version the count wrote
    assert len(engine.jobs) == 1


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (errors.PermanentError("the snapshot is too large"), "the snapshot is too large"),
        (
            errors.RetriableError("gave up after 300 s of retries: 503 from the API server"),
            "gave up after 300 s of retries: 503 from the API server",
        ),
        (errors.Forbidden("LIST /api/v1/secrets: forbidden"), "LIST /api/v1/secrets: forbidden"),
        (errors.StorePermanent("PUT snap.tgz: Access Denied"), "PUT snap.tgz: Access Denied"),
        (errors.ArchiveError("archive index counts do not match"), "archive index counts do not match"),
        (ValueError("boom"), "internal error: ValueError: boom"),
        (KeyError("items"), "internal error: KeyError: 'items'"),
    ],
)
async def test_a_failing_engine_makes_the_snapshot_failed(
    w: World, store: FakeStores, error: Exception, reason: str
) -> None:
    created = utcnow() - dt.timedelta(hours=2)
    w.put(SNAP, snapshot(phase="InQueue", created=created))

    assert await reconciler(w, FakeSnapshotEngine(error=error)).reconcile(KEY) is None

    in_progress, failed = w.kube.writes()
    assert in_progress.body["status"]["phase"] == "InProgress"
    assert failed == status_patch(
        status.snapshot_failed(
            reason, available_until=created + dt.timedelta(hours=720), observed_generation=1
        )
    )
    assert failed.body["status"]["reason"] == reason
    assert w.kube.events() == [("Normal", "InProgress", "taking the snapshot"), ("Warning", "Failed", reason)]
    assert 'k8ssnap_snapshots_total{result="failed"} 1' in w.ctx.metrics.render()


@pytest.mark.parametrize(
    ("create_bucket", "phase", "store_calls"),
    [
        (False, "Failed", [("check", "bkt")]),
        (True, "Completed", [("check", "bkt"), ("create_bucket", "bkt"), ("check", "bkt")]),
    ],
)
async def test_a_missing_bucket(
    store: FakeStores, create_bucket: bool, phase: str, store_calls: list[tuple[str, str]]
) -> None:
    w = world(Settings(create_bucket=create_bucket), stores=store)
    store.bucket.check_errors = [errors.BucketMissing("bucket 'bkt' does not exist")]
    engine = FakeSnapshotEngine(outcome=snapshot_outcome())
    w.put(SNAP, snapshot(phase="InQueue"))

    await reconciler(w, engine).reconcile(KEY)

    final = w.kube.writes()[-1].body["status"]
    assert final["phase"] == phase
    assert store.bucket.calls == store_calls
    assert len(engine.jobs) == (1 if phase == "Completed" else 0)
    if phase == "Failed":
        assert final["reason"] == "bucket 'bkt' does not exist"


async def test_a_missing_kubeconfig_secret_fails_the_snapshot(w: World, store: FakeStores) -> None:
    w.ctx.clusters = clusters.KubeconfigConnector()  # the real one: it reads the Secret first
    spec = {"clusterName": "c1", "objectstoreConfig": "store", "kubeconfigSecret": {"name": "kc"}}
    w.put(SNAP, snapshot(phase="InQueue", spec=spec))
    engine = FakeSnapshotEngine(outcome=snapshot_outcome())

    await reconciler(w, engine).reconcile(KEY)

    reason = f"kubeconfig: Secret 'kc' not found in namespace '{NS}'"
    assert w.kube.writes()[-1].body["status"]["reason"] == reason
    assert w.kube.events()[-1] == ("Warning", "Failed", reason)
    assert engine.jobs == []


# --- invalid specs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"ttl": "forever"}, "spec.ttl"),
        ({"availableUntil": "tomorrow"}, "spec.availableUntil"),
        ({"kubeconfig": "apiVersion: v1", "kubeconfigSecret": {"name": "kc"}}, "spec.kubeconfig"),
        ({"clusterName": 5}, "spec.clusterName"),
    ],
)
@pytest.mark.parametrize("phase", ["", "InQueue", "Completed"])
async def test_an_invalid_spec_fails_the_snapshot_once(
    w: World, store: FakeStores, spec: dict[str, Any], field: str, phase: str
) -> None:
    w.put(SNAP, snapshot(phase=phase, spec={"clusterName": "c1", "objectstoreConfig": "store", **spec}))
    engine = FakeSnapshotEngine(outcome=snapshot_outcome())

    assert await reconciler(w, engine).reconcile(KEY) is None

    [patch] = w.kube.writes()
    assert patch.path == STATUS
    assert patch.body["status"]["phase"] == "Failed"
    assert field in patch.body["status"]["reason"]
    [(kind, reason, message)] = w.kube.events()
    assert (kind, reason, message) == ("Warning", "Failed", patch.body["status"]["reason"])
    assert engine.jobs == []

    # Once Failed, the same invalid object is not patched again.
    w.put(SNAP, merged(w.cached(SNAP, "snap"), patch.body))
    before = len(w.kube.calls)
    assert await reconciler(w, engine).reconcile(KEY) is None
    assert w.kube.calls[before:] == []


# --- expiry ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("phase", ["Completed", "Failed"])
async def test_a_finished_snapshot_is_requeued_for_its_expiry(w: World, phase: str) -> None:
    w.put(SNAP, snapshot(phase=phase, status={"availableUntil": ts(utcnow() + dt.timedelta(hours=1))}))

    result = await reconciler(w).reconcile(KEY)

    assert_requeue_near(result, HOUR)
    assert w.kube.calls == []


async def test_without_available_until_expiry_is_creation_plus_ttl(w: World) -> None:
    created = utcnow() - dt.timedelta(hours=1)
    w.put(SNAP, snapshot(phase="Completed", created=created))

    assert_requeue_near(await reconciler(w).reconcile(KEY), 719 * HOUR)
    assert w.kube.calls == []


@pytest.mark.parametrize("phase", ["Completed", "Failed"])
async def test_an_expired_snapshot_is_deleted(w: World, phase: str) -> None:
    until = utcnow() - dt.timedelta(days=1)
    created = utcnow() - dt.timedelta(days=2)
    w.put(SNAP, snapshot(phase=phase, status={"availableUntil": ts(until)}, created=created))

    assert await reconciler(w).reconcile(KEY) is None

    assert w.kube.writes() == [Call("delete", PATH, {"resourceVersion": "7"})]
    assert w.kube.events() == [("Normal", "Expired", f"available until {ts(until)}")]
    assert [c.method for c in w.kube.calls] == ["create", "delete"]  # the event first


@pytest.mark.parametrize(
    ("offset", "deleted"),
    [(dt.timedelta(hours=2), False), (dt.timedelta(hours=-2), True)],
)
async def test_a_changed_spec_available_until_is_copied_to_the_status(
    w: World, offset: dt.timedelta, deleted: bool
) -> None:
    new = utcnow() + offset
    spec = {"clusterName": "c1", "objectstoreConfig": "store", "availableUntil": ts(new)}
    old = {"availableUntil": ts(utcnow() + dt.timedelta(days=10))}
    w.put(SNAP, snapshot(phase="Completed", spec=spec, status=old))

    r = reconciler(w)

    assert await r.reconcile(KEY) is None  # the patch's watch event brings the key back

    assert w.kube.writes() == [status_patch({"availableUntil": ts(new)}, if_version="7")]
    assert w.kube.events() == []
    w.put(
        SNAP, snapshot(phase="Completed", spec=spec, status={"availableUntil": ts(new)}, resource_version="8")
    )
    result = await r.reconcile(KEY)
    if deleted:
        assert result is None
        assert w.kube.writes()[1:] == [Call("delete", PATH, {"resourceVersion": "8"})]
        assert w.kube.reasons() == ["Expired"]
    else:
        assert_requeue_near(result, 2 * HOUR)
        assert len(w.kube.writes()) == 1


async def test_an_unchanged_spec_available_until_is_not_patched(w: World) -> None:
    until = ts(utcnow() + dt.timedelta(hours=3))
    spec = {"clusterName": "c1", "objectstoreConfig": "store", "availableUntil": until}
    w.put(SNAP, snapshot(phase="Completed", spec=spec, status={"availableUntil": until}))

    assert_requeue_near(await reconciler(w).reconcile(KEY), 3 * HOUR)
    assert w.kube.calls == []


# --- deletion -----------------------------------------------------------------------------------------


async def test_deleting_removes_archive_and_record_then_the_finalizer(w: World, store: FakeStores) -> None:
    store.bucket.add("team/snap.tgz", b"archive")
    store.bucket.add("team/snap.tgz.record.json", b"{}")
    store.bucket.add("team/other.tgz", b"archive")
    w.put(SNAP, snapshot(phase="Completed", finalizers=[KEEP, constants.FINALIZER], deleting=True))
    engine = FakeSnapshotEngine()

    assert await reconciler(w, engine).reconcile(KEY) is None

    assert store.bucket.deleted() == ["team/snap.tgz", "team/snap.tgz.age", "team/snap.tgz.record.json"]
    assert set(store.bucket.blobs) == {"team/other.tgz"}
    assert store.opened == ["store"]
    assert w.kube.writes() == [finalizer_patch([KEEP])]
    assert w.kube.events() == [("Normal", "Deleted", "archive deleted")]
    assert engine.jobs == []


@pytest.mark.parametrize(
    ("phase", "spec", "state"),
    [
        ("InProgress", {"snapshotName": "snap"}, {}),
        ("InProgress", {"latest": {"schedule": "nightly"}}, {"snapshotName": "snap"}),
        ("InQueue", {"snapshotName": "snap"}, {}),
        ("", {"snapshotName": "snap"}, {}),
    ],
)
async def test_deleting_waits_while_a_restore_reads_the_archive(
    w: World, store: FakeStores, phase: str, spec: dict[str, Any], state: dict[str, Any]
) -> None:
    """Expiry, pruning or a user's delete must not pull the archive from under a Restore."""
    store.bucket.add("team/snap.tgz", b"archive")
    w.put(SNAP, snapshot(phase="Completed", deleting=True))
    w.put(constants.RESTORE, restore("reader", phase=phase, spec=spec, status=state))
    rec = reconciler(w)

    for _ in range(2):
        assert_requeue_near(await rec.reconcile(KEY), 5.0)

    assert store.bucket.deleted() == []
    assert w.kube.writes() == []
    assert w.kube.events() == [
        ("Normal", "DeletionWaiting", "archive kept until Restore reader no longer reads it")
    ]

    w.put(constants.RESTORE, restore("reader", phase="Completed", spec=spec, status={"snapshotName": "snap"}))
    assert await rec.reconcile(KEY) is None
    assert "team/snap.tgz" in store.bucket.deleted()
    assert w.kube.writes() == [finalizer_patch([])]


async def test_deleting_waits_for_a_restore_claimed_before_the_cache_shows_it(
    w: World, store: FakeStores
) -> None:
    w.put(SNAP, snapshot(phase="Completed", deleting=True))
    w.put(constants.RESTORE, restore("other", phase="Completed"))
    w.ctx.reading["fresh"] = "snap"

    assert_requeue_near(await reconciler(w).reconcile(KEY), 5.0)
    assert store.bucket.deleted() == []


async def test_a_restore_with_an_odd_spec_or_status_does_not_stop_a_deletion(
    w: World, store: FakeStores
) -> None:
    w.put(SNAP, snapshot(phase="Completed", deleting=True))
    odd = restore("odd", phase="InProgress")
    odd["spec"], odd["status"] = ["not", "an", "object"], "InProgress"
    w.put(constants.RESTORE, odd)

    assert await reconciler(w).reconcile(KEY) is None
    assert w.kube.writes() == [finalizer_patch([])]


async def test_restores_of_other_snapshots_do_not_hold_a_deletion(w: World, store: FakeStores) -> None:
    w.put(SNAP, snapshot(phase="Completed", deleting=True))
    w.put(constants.RESTORE, restore("r1", phase="InProgress", spec={"snapshotName": "another"}))
    w.put(constants.RESTORE, restore("r2", phase="InQueue", spec={"snapshotName": "another"}))
    w.ctx.reading["r3"] = "another"

    assert await reconciler(w).reconcile(KEY) is None
    assert w.kube.writes() == [finalizer_patch([])]


async def test_deleting_without_our_finalizer_does_nothing(w: World, store: FakeStores) -> None:
    w.put(SNAP, snapshot(phase="Completed", finalizers=[KEEP], deleting=True))

    assert await reconciler(w).reconcile(KEY) is None

    assert w.kube.calls == []
    assert store.bucket.calls == []


async def test_deleting_when_the_objectstore_config_is_gone_still_removes_the_finalizer(w: World) -> None:
    w.ctx.stores = objectstores.ConfigStores()  # the real one: the config is neither cached nor served
    w.put(SNAP, snapshot(phase="Completed", deleting=True))

    assert await reconciler(w).reconcile(KEY) is None

    config_path = constants.OBJECTSTORE_CONFIG.path(NS, "store")
    assert Call("get", config_path) in w.kube.calls
    assert w.kube.writes() == [finalizer_patch([])]
    assert w.kube.events() == [
        ("Normal", "Deleted", "archive not deleted: ObjectstoreConfig 'store' not found")
    ]


async def test_deleting_when_the_bucket_is_gone_still_removes_the_finalizer(
    w: World, store: FakeStores
) -> None:
    store.bucket.fail("delete", "team/snap.tgz", errors.BucketMissing("bucket 'bkt' does not exist"))
    w.put(SNAP, snapshot(phase="Completed", deleting=True))

    assert await reconciler(w).reconcile(KEY) is None

    assert w.kube.writes() == [finalizer_patch([])]
    assert w.kube.events() == [("Normal", "Deleted", "archive not deleted: bucket 'bkt' does not exist")]


@pytest.mark.parametrize(
    "error", [errors.StorePermanent("DELETE team/snap.tgz: Access Denied"), errors.StoreRetriable("503")]
)
async def test_deleting_keeps_the_finalizer_when_the_store_refuses(
    w: World, store: FakeStores, error: Exception
) -> None:
    store.bucket.fail("delete", "team/snap.tgz", error)
    w.put(SNAP, snapshot(phase="Completed", deleting=True))

    with pytest.raises(type(error)):
        await reconciler(w).reconcile(KEY)

    assert w.kube.calls == []


async def test_a_finalizer_patch_on_a_vanished_object_is_not_an_error(w: World, store: FakeStores) -> None:
    w.kube.fail(PATH, errors.NotFound("gone"), method="merge_patch")
    w.put(SNAP, snapshot(phase="Completed", deleting=True))

    assert await reconciler(w).reconcile(KEY) is None

    assert w.kube.writes() == [finalizer_patch([])]


# --- a whole life ----------------------------------------------------------------------------------------


async def test_a_snapshot_walks_from_new_to_completed_and_is_requeued_for_expiry(
    store: FakeStores,
) -> None:
    kube = FakeKube({PATH: snapshot(finalizers=[])})
    w = world(kube=kube)
    engine = FakeSnapshotEngine(outcome=snapshot_outcome())
    rec = reconciler(w, engine)
    results = []
    for _ in range(4):
        w.put(SNAP, kube.objects[PATH])  # the watch delivers what the API server holds
        results.append(await rec.reconcile(KEY))

    assert results[:3] == [None, None, None]
    assert_requeue_near(results[3], 720 * HOUR)
    assert kube.writes()[0].body["metadata"]["finalizers"] == [constants.FINALIZER]
    assert [c.body["status"]["phase"] for c in kube.writes()[1:]] == ["InQueue", "InProgress", "Completed"]
    assert kube.reasons() == ["InQueue", "InProgress", "Completed"]
    assert len(engine.jobs) == 1
    assert 'k8ssnap_snapshots_total{result="completed"} 1' in w.ctx.metrics.render()
    assert 'k8ssnap_snapshot_objects{snapshot="snap"} 3' in w.ctx.metrics.render()


async def test_deleting_a_snapshot_whose_spec_does_not_parse_is_never_blocked(w: World) -> None:
    bad = snapshot(phase="Failed", spec={"clusterName": "c1", "ttl": "forever"}, deleting=True)
    w.put(SNAP, bad)

    assert await reconciler(w).reconcile(KEY) is None

    assert w.kube.writes() == [finalizer_patch([])]
    [(kind, reason, message)] = w.kube.events()
    assert (kind, reason) == ("Warning", "Deleted") and message.startswith("archive not deleted")


async def test_a_snapshot_failed_for_a_past_available_until_stays_an_hour_to_be_read(w: World) -> None:
    until = utcnow() - dt.timedelta(days=1)
    spec = {"clusterName": "c1", "objectstoreConfig": "store", "availableUntil": ts(until)}
    w.put(SNAP, snapshot(phase="Failed", spec=spec, status={"availableUntil": ts(until)}, created=utcnow()))

    assert_requeue_near(await reconciler(w).reconcile(KEY), HOUR)
    assert [c.method for c in w.kube.writes()] != ["delete"]


# --- a cache that lags behind the server ---------------------------------------------------------


@pytest.mark.parametrize("cached_phase", ["", "InQueue", "InProgress"])
async def test_a_cache_behind_our_own_writes_never_moves_a_snapshot_back(
    w: World, store: FakeStores, cached_phase: str
) -> None:
    """The key comes round again before the watch event of the Completed write: the claim is
    refused by the server, nothing is taken twice, and Completed stays."""
    engine = FakeSnapshotEngine(outcome=snapshot_outcome())
    server = snapshot(phase="Completed", resource_version="9")
    w.kube.objects[PATH] = server
    w.put(SNAP, snapshot(phase=cached_phase, resource_version="8"))

    with pytest.raises(errors.Conflict):
        await reconciler(w, engine).reconcile(KEY)

    assert engine.jobs == []
    assert w.kube.objects[PATH] == server
    assert w.kube.events() == []


async def test_the_whole_life_with_a_lagging_cache_takes_the_snapshot_once(
    w: World, store: FakeStores
) -> None:
    """The watch events of our two writes arrive one by one, the key reconciled after each."""
    engine = FakeSnapshotEngine(outcome=snapshot_outcome())
    r = reconciler(w, engine)
    w.kube.objects[PATH] = snapshot(phase="InQueue", resource_version="8")
    w.put(SNAP, w.kube.objects[PATH])

    await r.reconcile(KEY)  # writes InProgress (9), then Completed (10)
    completed = copy.deepcopy(w.kube.objects[PATH])
    assert (completed["metadata"]["resourceVersion"], completed["status"]["phase"]) == ("10", "Completed")

    w.put(SNAP, merged(completed, {"metadata": {"resourceVersion": "9"}, "status": {"phase": "InProgress"}}))
    with pytest.raises(errors.Conflict):
        await r.reconcile(KEY)
    w.put(SNAP, completed)
    assert isinstance(await r.reconcile(KEY), Requeue)  # waits for expiry

    assert len(engine.jobs) == 1
    assert w.kube.objects[PATH] == completed
    assert w.kube.reasons() == ["InProgress", "Completed"]


async def test_an_expired_snapshot_changed_meanwhile_is_not_deleted(w: World) -> None:
    until = ts(utcnow() - dt.timedelta(days=1))
    w.kube.objects[PATH] = snapshot(phase="Completed", status={"availableUntil": until}, resource_version="9")
    w.put(SNAP, snapshot(phase="Completed", status={"availableUntil": until}, resource_version="8"))

    with pytest.raises(errors.Conflict):
        await reconciler(w).reconcile(KEY)

    assert PATH in w.kube.objects


async def test_a_deleted_snapshot_takes_its_metric_series_with_it(w: World, store: FakeStores) -> None:
    """Issue 11, fault 13: per-Snapshot series lived as long as the process."""
    w.put(SNAP, snapshot(phase="InQueue"))
    rec = reconciler(w, FakeSnapshotEngine(outcome=snapshot_outcome()))
    await rec.reconcile(KEY)
    assert 'k8ssnap_snapshot_bytes{snapshot="snap"}' in w.ctx.metrics.render()

    w.remove(SNAP, "snap")
    assert await rec.reconcile(KEY) is None

    text = w.ctx.metrics.render()
    assert 'snapshot="snap"' not in text
    assert 'k8ssnap_snapshots_total{result="completed"} 1' in text  # totals stay
