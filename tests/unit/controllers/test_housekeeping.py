"""Housekeeper.sweep (orphans, missing and altered archives) and restore_snapshots (disaster recovery)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest

from k8ssnap import errors
from k8ssnap.api import constants, status
from k8ssnap.api.resources import parse_snapshot
from k8ssnap.archive.index import RecordedSpec, StoredRecord
from k8ssnap.controllers.context import Settings
from k8ssnap.controllers.housekeeping import MISMATCH, NOT_FOUND, RECREATED, Housekeeper
from k8ssnap.store import layout
from k8ssnap.store.objectstore import StoredObject
from k8ssnap.testing.adapters import FakeStores
from tests.unit.controllers.fakes import (
    NS,
    Call,
    World,
    archive_index,
    objectstore_config,
    snapshot,
    ts,
    utcnow,
    world,
)

SNAP = constants.SNAPSHOT
OURS = layout.archive_metadata
STORED_AT = utcnow() - dt.timedelta(hours=1)
SHA = "ef" * 32


def status_path(name: str) -> str:
    return SNAP.path(NS, name, status=True)


def completed(
    name: str,
    *,
    size: int = 10,
    stored_at: dt.datetime | None = STORED_AT,
    sha: str = "",
    config: str | None = "store",
    phase: str = "Completed",
    deleting: bool = False,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"clusterName": "c1"}
    if config is not None:
        spec["objectstoreConfig"] = config
    return snapshot(
        name,
        phase=phase,
        spec=spec,
        deleting=deleting,
        status={
            "contents": ["/api/v1/namespaces/default/configmaps/a"],
            "numberOfContents": 1,
            "snapshotResourceVersion": "55",
            "snapshotTimestamp": ts(STORED_AT),
            "storedFileSize": size,
            "storedTimestamp": None if stored_at is None else ts(stored_at),
            "availableUntil": ts(utcnow() + dt.timedelta(days=20)),
            "storedSha256": sha,
        },
    )


def record(
    name: str,
    *,
    taken: dt.datetime = STORED_AT,
    ttl: str | None = "720h",
    until: dt.datetime | None = None,
    sha: str = SHA,
    size: int = 10,
) -> StoredRecord:
    return StoredRecord(
        index=archive_index(name, taken=taken),
        sha256=sha,
        size=size,
        spec=RecordedSpec(cluster_name="c1", ttl=ttl, available_until=until, objectstore_config="store"),
    )


def keeper(stores: FakeStores, settings: Settings | None = None, *configs: str) -> tuple[World, Housekeeper]:
    w = world(settings, stores=stores)
    for name in configs or ("store",):
        w.put(constants.OBJECTSTORE_CONFIG, objectstore_config(name))
    return w, Housekeeper(w.ctx)


# --- sweep: orphans ----------------------------------------------------------------------------


async def test_orphans_of_ours_are_deleted_and_foreign_keys_kept(store: FakeStores) -> None:
    w, hk = keeper(store)
    w.put(SNAP, completed("kept"))
    w.put(SNAP, snapshot("pending", phase="InProgress", spec={"objectstoreConfig": "store"}))
    store.bucket.add("team/kept.tgz", b"k" * 10, metadata=OURS("kept"), last_modified=STORED_AT)
    store.bucket.add("team/kept.tgz.record.json", b"{}")
    store.bucket.add("team/orphan.tgz", b"o", metadata=OURS("orphan"))
    store.bucket.add("team/orphan.tgz.record.json", b"{}")
    store.bucket.add("team/foreign.tgz", b"f")  # layout-shaped, but no k8ssnap metadata
    store.bucket.add("team/Not_A_Name.tgz", b"n", metadata=OURS("x"))  # not a Snapshot name
    store.bucket.add("team/notes.txt", b"t")
    store.bucket.add("team/lonely.tgz.record.json", b"{}")  # a record with neither archive nor Snapshot
    store.bucket.add("team/pending.tgz.record.json", b"{}")  # its Snapshot is still being taken
    store.bucket.add("elsewhere/orphan2.tgz", b"o", metadata=OURS("orphan2"))  # outside the prefix

    await hk.sweep()

    assert store.opened == ["store"]
    assert sorted(store.bucket.deleted()) == [
        "team/lonely.tgz.record.json",
        "team/orphan.tgz",
        "team/orphan.tgz.age",  # SnapshotStore.delete removes either form of the archive
        "team/orphan.tgz.record.json",
    ]
    assert set(store.bucket.blobs) == {
        "team/kept.tgz",
        "team/kept.tgz.record.json",
        "team/foreign.tgz",
        "team/Not_A_Name.tgz",
        "team/notes.txt",
        "team/pending.tgz.record.json",
        "elsewhere/orphan2.tgz",
    }
    assert ("head", "team/foreign.tgz") in store.bucket.calls  # the metadata was looked at
    assert w.kube.calls == []


async def test_a_snapshot_without_a_config_name_uses_the_only_config(store: FakeStores) -> None:
    w, hk = keeper(store)
    w.put(SNAP, completed("implicit", config=None))
    store.bucket.add("team/implicit.tgz", b"i" * 10, metadata=OURS("implicit"), last_modified=STORED_AT)

    await hk.sweep()

    assert store.bucket.deleted() == []
    assert w.kube.calls == []


async def test_a_snapshot_of_another_config_protects_an_archive_of_its_name(store: FakeStores) -> None:
    """Two configs may share a bucket: neither deletes the other's archives as orphans."""
    w, hk = keeper(store)
    w.put(SNAP, completed("theirs", config="other"))
    store.bucket.add("team/theirs.tgz", b"t" * 10, metadata=OURS("theirs"))

    await hk.sweep()

    assert store.bucket.deleted() == []


async def test_stale_uploads_older_than_a_day_are_aborted(store: FakeStores) -> None:
    _, hk = keeper(store)

    await hk.sweep()

    [(prefix, cutoff)] = store.bucket.stale_cutoffs
    assert prefix == "team/"
    assert abs((utcnow() - dt.timedelta(days=1) - cutoff).total_seconds()) < 5


async def test_a_snapshot_completed_while_the_bucket_is_listed_is_not_failed(
    store: FakeStores, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listing is older than the cache read after it: a Snapshot whose upload completed and
    status became Completed while the (paginated, maybe long) listing ran is not "file not found"."""
    w, hk = keeper(store)
    w.put(SNAP, snapshot("fresh", phase="InProgress", spec={"objectstoreConfig": "store"}))
    listing = store.bucket.list

    async def slow_list(prefix: str) -> AsyncIterator[StoredObject]:
        async for obj in listing(prefix):
            yield obj
        # meanwhile the snapshot engine completed the upload and wrote Completed
        store.bucket.add("team/fresh.tgz", b"f" * 10, metadata=OURS("fresh"), last_modified=STORED_AT)
        w.put(SNAP, completed("fresh"))

    monkeypatch.setattr(store.bucket, "list", slow_list)

    await hk.sweep()

    assert w.kube.calls == []
    assert store.bucket.deleted() == []


async def test_a_snapshot_deleted_before_it_is_invalidated_does_not_stop_the_sweep(store: FakeStores) -> None:
    w, hk = keeper(store)
    w.put(SNAP, completed("gone"))  # the cache still has it; the server no longer does
    w.kube.fail(status_path("gone"), errors.NotFound("snapshots gone not found"), method="merge_patch")
    store.bucket.add("team/orphan.tgz", b"o", metadata=OURS("orphan"))

    await hk.sweep()

    assert store.bucket.stale_cutoffs, "the rest of the sweep ran"


async def test_a_failing_config_does_not_stop_the_sweep(store: FakeStores) -> None:
    _, hk = keeper(store, None, "broken", "store")
    store.refused["broken"] = errors.StorePermanent("Access Denied")
    store.bucket.add("team/orphan.tgz", b"o", metadata=OURS("orphan"))

    await hk.sweep()  # logged, not raised

    assert store.opened == ["broken", "store"]
    assert "team/orphan.tgz" not in store.bucket.blobs


# --- sweep: missing and altered archives ------------------------------------------------------------


async def test_a_completed_snapshot_whose_archive_is_missing_fails(store: FakeStores) -> None:
    w, hk = keeper(store)
    raw = completed("gone")
    w.put(SNAP, raw)

    await hk.sweep()

    expected = status.snapshot_invalidated(parse_snapshot(raw).status, reason=NOT_FOUND)
    assert w.kube.writes() == [Call("merge_patch", status_path("gone"), {"status": expected})]
    body = w.kube.writes()[0].body["status"]
    assert (body["phase"], body["reason"]) == ("Failed", "Snapshot file not found")
    # what was recorded stays, so the user sees what was lost
    assert body["storedFileSize"] == 10
    assert body["contents"] == ["/api/v1/namespaces/default/configmaps/a"]
    assert body["availableUntil"] == raw["status"]["availableUntil"]


@pytest.mark.parametrize(
    ("phase", "deleting"),
    [("", False), ("InQueue", False), ("InProgress", False), ("Failed", False), ("Completed", True)],
)
async def test_only_completed_snapshots_not_being_deleted_are_checked(
    store: FakeStores, phase: str, deleting: bool
) -> None:
    w, hk = keeper(store)
    w.put(SNAP, completed("gone", phase=phase, deleting=deleting))

    await hk.sweep()

    assert w.kube.calls == []


@pytest.mark.parametrize(
    ("archive_size", "archive_at", "status_at", "status_sha", "stored_record", "validate", "invalid"),
    [
        (10, STORED_AT, STORED_AT, "", None, True, False),
        (10, STORED_AT + dt.timedelta(milliseconds=700), STORED_AT, "", None, True, False),
        (11, STORED_AT, STORED_AT, "", None, True, True),
        (11, STORED_AT, STORED_AT, "", None, False, False),
        (10, STORED_AT + dt.timedelta(seconds=1), STORED_AT, "", None, True, True),
        (10, STORED_AT + dt.timedelta(seconds=1), STORED_AT, "", None, False, False),
        (10, STORED_AT, None, "", None, True, True),
        (10, STORED_AT, STORED_AT, SHA, record("s"), True, False),
        (10, STORED_AT, STORED_AT, SHA, record("s", sha="00" * 32), True, True),
        (10, STORED_AT, STORED_AT, SHA, record("s", size=12), True, True),
        (10, STORED_AT, STORED_AT, SHA, None, True, True),
        (10, STORED_AT, STORED_AT, SHA, b"not a record", True, True),
        (10, STORED_AT, STORED_AT, SHA, b"not a record", False, False),
    ],
    ids=[
        "match",
        "same-second",
        "size-differs",
        "size-differs-unchecked",
        "time-differs",
        "time-differs-unchecked",
        "no-stored-timestamp",
        "sha-matches",
        "sha-differs",
        "record-size-differs",
        "record-missing",
        "record-corrupt",
        "record-corrupt-unchecked",
    ],
)
async def test_archive_validation(
    store: FakeStores,
    archive_size: int,
    archive_at: dt.datetime,
    status_at: dt.datetime | None,
    status_sha: str,
    stored_record: StoredRecord | bytes | None,
    validate: bool,
    invalid: bool,
) -> None:
    w, hk = keeper(store, Settings(validate_file_info=validate))
    w.put(SNAP, completed("s", size=10, stored_at=status_at, sha=status_sha))
    store.bucket.add("team/s.tgz", b"x" * archive_size, metadata=OURS("s"), last_modified=archive_at)
    if stored_record is not None:
        data = stored_record if isinstance(stored_record, bytes) else stored_record.to_json()
        store.bucket.add("team/s.tgz.record.json", data)

    await hk.sweep()

    if invalid:
        [patch] = w.kube.writes()
        assert patch.path == status_path("s")
        assert (patch.body["status"]["phase"], patch.body["status"]["reason"]) == ("Failed", MISMATCH)
    else:
        assert w.kube.calls == []
    assert store.bucket.deleted() == []  # an archive with a Snapshot is never deleted


# --- restore_snapshots ----------------------------------------------------------------------------


DAY = dt.timedelta(days=1)


@pytest.mark.parametrize(
    ("taken", "ttl", "until", "expected"),
    [
        (utcnow() - 60 * DAY, "720h", None, None),  # long expired: kept 30 days from now
        (utcnow() - DAY, None, None, None),  # 29 days left: still 30 from now
        (utcnow() - DAY, "2160h", None, utcnow() - DAY + 90 * DAY),
        (utcnow() - DAY, "1h", utcnow() + 60 * DAY, utcnow() + 60 * DAY),
    ],
    ids=["expired", "default-ttl", "long-ttl", "available-until"],
)
async def test_an_archive_without_a_snapshot_gets_one(
    store: FakeStores,
    taken: dt.datetime,
    ttl: str | None,
    until: dt.datetime | None,
    expected: dt.datetime | None,
) -> None:
    w, hk = keeper(store)
    rec = record("old", taken=taken, ttl=ttl, until=until, size=99)
    archive_at = utcnow() - 2 * DAY
    store.bucket.add("team/old.tgz", b"a" * 99, metadata=OURS("old"), last_modified=archive_at)
    store.bucket.add("team/old.tgz.record.json", rec.to_json())
    before = utcnow()

    assert await hk.restore_snapshots() == 1

    after = utcnow() + dt.timedelta(seconds=1)
    create, patch = w.kube.writes()
    spec: dict[str, Any] = {"clusterName": "c1", "objectstoreConfig": "store"}
    if ttl:
        spec["ttl"] = ttl
    assert create == Call(
        "create",
        SNAP.path(NS),
        {
            "apiVersion": constants.API_VERSION,
            "kind": "Snapshot",
            "metadata": {
                "name": "old",
                "namespace": NS,
                "finalizers": [constants.FINALIZER],
                "annotations": {RECREATED: "true"},
            },
            "spec": spec,
        },
    )
    assert patch.path == status_path("old")
    body = dict(patch.body["status"])
    available = dt.datetime.strptime(body.pop("availableUntil"), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    if expected is None:
        assert before + 30 * DAY <= available <= after + 30 * DAY
    else:
        assert available == expected
    assert available >= before + 30 * DAY
    assert body == {
        "phase": "Completed",
        "reason": "",
        "contents": list(rec.index.paths),
        "numberOfContents": 3,
        "snapshotResourceVersion": "4242",
        "snapshotTimestamp": ts(taken),
        "storedFileSize": 99,
        "storedTimestamp": ts(archive_at),
        "storedSha256": SHA,
        "skippedApis": None,
        "observedGeneration": 0,
    }
    assert w.kube.events() == []


async def test_only_archives_with_a_record_and_no_snapshot_are_recreated(store: FakeStores) -> None:
    w, hk = keeper(store)
    w.put(SNAP, completed("known"))
    for name in ("known", "fresh", "bare", "broken"):
        store.bucket.add(f"team/{name}.tgz", b"a", metadata=OURS(name))
    for name in ("known", "fresh"):
        store.bucket.add(f"team/{name}.tgz.record.json", record(name).to_json())
    store.bucket.add("team/broken.tgz.record.json", b"{not json")

    assert await hk.restore_snapshots() == 1

    assert [(c.method, c.path) for c in w.kube.writes()] == [
        ("create", SNAP.path(NS)),
        ("merge_patch", status_path("fresh")),
    ]
    assert w.kube.writes()[0].body["metadata"]["name"] == "fresh"
    assert store.bucket.deleted() == []


async def test_a_snapshot_created_meanwhile_is_not_overwritten(store: FakeStores) -> None:
    w, hk = keeper(store)
    w.kube.objects[SNAP.path(NS, "old")] = snapshot("old")  # on the API server, not yet cached
    store.bucket.add("team/old.tgz", b"a", metadata=OURS("old"))
    store.bucket.add("team/old.tgz.record.json", record("old").to_json())

    assert await hk.restore_snapshots() == 0

    assert [c.method for c in w.kube.writes()] == ["create"]


async def test_restoring_goes_on_past_a_failing_config(store: FakeStores) -> None:
    w, hk = keeper(store, None, "broken", "store")
    store.refused["broken"] = errors.ConfigError(
        "ObjectstoreConfig 'broken' credentials: Secret 'x' not found"
    )
    store.bucket.add("team/old.tgz", b"a", metadata=OURS("old"))
    store.bucket.add("team/old.tgz.record.json", record("old").to_json())

    assert await hk.restore_snapshots() == 1

    assert store.opened == ["broken", "store"]
    assert w.kube.writes()[0].body["spec"]["objectstoreConfig"] == "store"


async def test_a_recreated_snapshot_left_without_status_is_finished_next_time(store: FakeStores) -> None:
    w, hk = keeper(store)
    stuck = snapshot("old", annotations={RECREATED: "true"})
    w.put(SNAP, stuck)
    w.kube.objects[SNAP.path(NS, "old")] = stuck
    store.bucket.add("team/old.tgz", b"a", metadata=OURS("old"))
    store.bucket.add("team/old.tgz.record.json", record("old").to_json())

    assert await hk.restore_snapshots() == 1

    assert status_of_patch(w, "old")["phase"] == "Completed"


def status_of_patch(w: World, name: str) -> dict[str, Any]:
    [patch] = [c for c in w.kube.writes() if c.method == "merge_patch" and c.path == status_path(name)]
    body: dict[str, Any] = patch.body["status"]
    return body


async def test_a_scheduled_snapshot_recreated_from_the_bucket_keeps_its_schedule_label(
    store: FakeStores,
) -> None:
    w, hk = keeper(store)
    name = "nightly-20260501120000"
    rec = record(name)
    rec = dataclasses.replace(rec, spec=dataclasses.replace(rec.spec, schedule="nightly"))
    store.bucket.add(f"team/{name}.tgz", b"a", metadata=OURS(name))
    store.bucket.add(f"team/{name}.tgz.record.json", rec.to_json())

    assert await hk.restore_snapshots() == 1

    created = w.kube.writes()[0].body
    assert created["metadata"]["labels"] == {constants.SCHEDULE_LABEL: "nightly"}
