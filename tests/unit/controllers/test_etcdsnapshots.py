"""EtcdSnapshotReconciler.reconcile on the shared fakes (k8ssnap.testing through
tests/unit/controllers/fakes): the lifecycle with a fake engine, and the real engine
against a scripted etcd on gRPC (tests/etcdfake)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from k8ssnap import errors
from k8ssnap.api import constants
from k8ssnap.controllers.context import Settings
from k8ssnap.controllers.etcdsnapshots import EtcdSnapshotReconciler
from k8ssnap.runtime.source import ObjectKey
from k8ssnap.snapshot.etcd import EtcdSnapshotEngine
from k8ssnap.store import layout
from k8ssnap.testing.adapters import FakeStores
from tests.etcdfake import FakeEtcd, Fault
from tests.unit.controllers import fakes
from tests.unit.controllers.fakes import NS, FakeEtcdEngine, World, world

KIND = constants.ETCD_SNAPSHOT
KEY = ObjectKey(NS, "etcd1")
STATUS = KIND.path(NS, "etcd1", status=True)
DB = bytes(range(256)) * 64


def _world(store: FakeStores | None = None, **settings: Any) -> World:
    return world(Settings(**settings), stores=store)


def etcd_snapshot(
    *, phase: str = "", finalizers: tuple[str, ...] = (constants.FINALIZER,), **spec: Any
) -> dict[str, Any]:
    body = {"endpoints": ["http://127.0.0.1:1"], "objectstoreConfig": "store", **spec}
    return fakes.etcd_snapshot(phase=phase, finalizers=finalizers, spec=body)


def reconciler(w: World, engine: FakeEtcdEngine | None = None) -> EtcdSnapshotReconciler:
    """The reconciler with ``engine``, or with the real one (for the scripted etcd)."""
    return EtcdSnapshotReconciler(w.ctx, engine or EtcdSnapshotEngine())


@pytest.fixture
async def etcd() -> AsyncIterator[FakeEtcd]:
    fake = FakeEtcd(db=DB)
    yield fake
    await fake.stop()


def _status_writes(w: World) -> list[dict[str, Any]]:
    return [c.body["status"] for c in w.kube.writes() if c.path == STATUS]


async def test_a_new_one_gets_the_finalizer_then_is_queued() -> None:
    w = _world()
    w.put(KIND, etcd_snapshot(finalizers=()))
    await reconciler(w).reconcile(KEY)
    assert w.kube.writes()[0].body["metadata"]["finalizers"] == [constants.FINALIZER]
    w.put(KIND, etcd_snapshot())
    await reconciler(w).reconcile(KEY)
    assert _status_writes(w)[-1]["phase"] == "InQueue"
    assert w.kube.writes()[-1].body["metadata"] == {"resourceVersion": "7"}  # preconditioned


async def test_queued_is_taken_and_completed_with_the_record(
    store: FakeStores, etcd: FakeEtcd, tmp_path: Path
) -> None:
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    w = _world(store, pki_root=str(tmp_path))
    url = await etcd.start()
    w.put(KIND, etcd_snapshot(phase="InQueue", endpoints=[url], pki="."))
    assert await reconciler(w).reconcile(KEY) is None
    phases = [s["phase"] for s in _status_writes(w)]
    assert phases == ["InProgress", "Completed"]
    done = _status_writes(w)[-1]
    assert (done["dbSize"], done["revision"], done["members"], done["pkiFiles"]) == (len(DB), 42, 1, 1)
    assert done["privateKeys"] is False and done["etcdVersion"] == "3.5.35"
    assert layout.etcd_archive_key("etcd1", prefix="team/") in store.bucket.blobs
    assert done["storedFileSize"] == store.bucket.blobs[layout.etcd_archive_key("etcd1", prefix="team/")].size
    assert "Completed" in w.kube.reasons()


@pytest.mark.parametrize(
    ("root", "pki", "says"),
    [(None, ".", "without --pki-root"), ("/srv/pki", "../x", "'..'"), ("/srv/pki", "/etc", "not absolute")],
)
async def test_pki_outside_the_root_fails_with_a_reason(
    store: FakeStores, etcd: FakeEtcd, root: str | None, pki: str, says: str
) -> None:
    w = _world(store, pki_root=root)
    url = await etcd.start()
    w.put(KIND, etcd_snapshot(phase="InQueue", endpoints=[url], pki=pki))
    await reconciler(w).reconcile(KEY)
    failed = _status_writes(w)[-1]
    assert failed["phase"] == "Failed" and says in failed["reason"]
    assert etcd.snapshots == 0 and not store.bucket.blobs


@pytest.mark.parametrize(("fault", "says"), [("truncate", "truncated"), ("bad-sha", "does not match")])
async def test_a_broken_stream_fails_and_leaves_no_archive(
    store: FakeStores, fault: Fault, says: str
) -> None:
    fake = FakeEtcd(db=DB, fault=fault)
    url = await fake.start()
    try:
        w = _world(store)
        w.put(KIND, etcd_snapshot(phase="InQueue", endpoints=[url]))
        await reconciler(w).reconcile(KEY)
    finally:
        await fake.stop()
    failed = _status_writes(w)[-1]
    assert failed["phase"] == "Failed" and says in failed["reason"]
    assert not store.bucket.blobs


async def test_a_spec_without_endpoints_fails() -> None:
    w = _world()
    w.put(KIND, etcd_snapshot(endpoints=[]))
    await reconciler(w).reconcile(KEY)
    assert "spec.endpoints" in _status_writes(w)[-1]["reason"]


@pytest.mark.parametrize("encrypted", [False, True])
async def test_deleting_removes_archive_and_record_then_the_finalizer(
    store: FakeStores, encrypted: bool
) -> None:
    w = _world(store)
    store.bucket.add(layout.etcd_archive_key("etcd1", prefix="team/", encrypted=encrypted), b"x", metadata={})
    store.bucket.add(layout.etcd_record_key("etcd1", prefix="team/"), b"{}", metadata={})
    obj = etcd_snapshot(phase="Completed")
    obj["metadata"]["deletionTimestamp"] = fakes.ts(fakes.utcnow())
    w.put(KIND, obj)
    await reconciler(w).reconcile(KEY)
    assert not store.bucket.blobs
    assert w.kube.writes()[-1].body["metadata"]["finalizers"] == []


async def test_a_stream_cut_by_etcd_is_taken_again_and_completes(store: FakeStores) -> None:
    fake = FakeEtcd(db=DB, fault="abort", faults=1)
    url = await fake.start()
    try:
        w = _world(store, max_retry_elapsed=30.0)
        w.put(KIND, etcd_snapshot(phase="InQueue", endpoints=[url]))
        await reconciler(w).reconcile(KEY)
    finally:
        await fake.stop()
    assert fake.snapshots == 2
    assert [s["phase"] for s in _status_writes(w)] == ["InProgress", "Completed"]
    assert list(store.bucket.blobs) == [
        layout.etcd_archive_key("etcd1", prefix="team/"),
        layout.etcd_record_key("etcd1", prefix="team/"),
    ]


# --- the shared lifecycle, with a fake engine ------------------------------------------


async def test_completed_status_holds_the_record_and_the_metrics_count_it() -> None:
    w = _world()
    engine = FakeEtcdEngine(record=fakes.etcd_record(db_size=4096))
    w.put(KIND, etcd_snapshot(phase="InQueue"))
    await reconciler(w, engine).reconcile(KEY)
    done = _status_writes(w)[-1]
    assert (done["phase"], done["dbSize"], done["pkiFiles"], done["storedFileSize"]) == (
        "Completed", 4096, 2, 2048,
    )  # fmt: skip
    assert engine.jobs[0].endpoints == ("http://127.0.0.1:1",) and engine.jobs[0].pki == ""
    insecure = [event for event in w.kube.events() if event[1] == "InsecureTLS"]
    assert insecure and insecure[0][0] == "Warning" and "plain http" in insecure[0][2]  # said every time
    text = w.ctx.metrics.render()
    assert 'k8ssnap_etcd_snapshots_total{result="completed"} 1.0' in text
    assert 'k8ssnap_etcd_snapshot_db_bytes{name="etcd1"} 4096.0' in text
    assert "k8ssnap_etcd_snapshot_last_success_timestamp_seconds" in text


async def test_a_refused_pki_fails_at_the_claim_without_running() -> None:
    w = _world(pki_root=None)
    engine = FakeEtcdEngine(record=fakes.etcd_record())
    w.put(KIND, etcd_snapshot(phase="InQueue", pki="."))
    await reconciler(w, engine).reconcile(KEY)
    assert [s["phase"] for s in _status_writes(w)] == ["Failed"]
    assert w.kube.writes()[-1].body["metadata"] == {"resourceVersion": "7"}  # decided from the cache
    assert not engine.jobs


async def test_one_found_in_progress_is_taken_again_and_its_attempt_counted() -> None:
    w = _world()
    engine = FakeEtcdEngine(record=fakes.etcd_record())
    w.kube.objects[KIND.path(NS, "etcd1")] = etcd_snapshot(phase="InProgress")
    w.put(KIND, etcd_snapshot(phase="InProgress"))
    await reconciler(w, engine).reconcile(KEY)
    assert len(engine.jobs) == 1
    assert [s["phase"] for s in _status_writes(w)] == ["InProgress", "Completed"]
    assert w.kube.reasons() == ["InProgress", "Resumed", "InsecureTLS", "Completed"]


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (errors.StorePermanent("bucket gone"), "bucket gone"),
        (RuntimeError("boom"), "internal error: RuntimeError: boom"),
    ],
)
async def test_an_engine_error_fails_with_its_reason_and_expiry(error: Exception, says: str) -> None:
    w = _world()
    w.put(KIND, etcd_snapshot(phase="InQueue", ttl="2h"))
    await reconciler(w, FakeEtcdEngine(error=error)).reconcile(KEY)
    failed = _status_writes(w)[-1]
    assert failed["phase"] == "Failed" and failed["reason"] == says and failed["availableUntil"]
    assert 'k8ssnap_etcd_snapshots_total{result="failed"} 1.0' in w.ctx.metrics.render()


async def test_a_finished_one_is_deleted_when_its_time_is_up() -> None:
    w = _world()
    past = fakes.ts(fakes.utcnow() - fakes.dt.timedelta(hours=2))
    w.put(KIND, fakes.etcd_snapshot(phase="Completed", status={"availableUntil": past}))
    assert await reconciler(w, FakeEtcdEngine()).reconcile(KEY) is None
    assert [c.method for c in w.kube.calls if c.path == KIND.path(NS, "etcd1")] == ["delete"]
