"""Which keys the reconcilers use, and a Restore of an encrypted snapshot failing before the engine runs."""

from __future__ import annotations

from typing import Any

import pytest

from k8ssnap.api import constants
from k8ssnap.archive.index import RecordedEncryption, RecordedSpec, StoredRecord
from k8ssnap.controllers.etcdsnapshots import EtcdSnapshotReconciler
from k8ssnap.controllers.restores import RestoreReconciler
from k8ssnap.controllers.snapshots import SnapshotReconciler
from k8ssnap.runtime.source import ObjectKey
from k8ssnap.store import age
from k8ssnap.testing.adapters import FakeStores
from tests.unit.controllers.fakes import (
    NS,
    FakeEtcdEngine,
    FakeRestoreEngine,
    FakeSnapshotEngine,
    World,
    archive_index,
    etcd_record,
    etcd_snapshot,
    restore,
    restore_result,
    secret,
    snapshot,
    snapshot_outcome,
)
from tests.unit.controllers.test_restores import completed_snapshot


@pytest.fixture
def store_config(store: FakeStores) -> dict[str, Any]:
    """The ``spec.encryption`` of the ObjectstoreConfig the fake store opener answers."""
    return store.encryption


IDENTITY, RECIPIENT = age.generate()
OTHER_IDENTITY, OTHER_RECIPIENT = age.generate()
KEY = ObjectKey(NS, "rst")


def sealed_record() -> StoredRecord:
    return StoredRecord(
        index=archive_index(),
        sha256="ef" * 32,
        size=999,
        spec=RecordedSpec(cluster_name="c1", ttl=None, available_until=None, objectstore_config="store"),
        encryption=RecordedEncryption(format=age.FORMAT, recipients=(RECIPIENT,)),
    )


def given(w: World, store: FakeStores, *, spec: dict[str, Any] | None = None) -> FakeRestoreEngine:
    store.bucket.add("team/snap.tgz.record.json", sealed_record().to_json())
    for name, text in (("good", f"# mine\n{IDENTITY}\n"), ("wrong", OTHER_IDENTITY)):
        path, obj = secret(name, {"identity": text})
        w.kube.objects[path] = obj
    w.put(constants.SNAPSHOT, completed_snapshot())
    w.put(constants.RESTORE, restore(phase="InQueue", spec={"snapshotName": "snap", **(spec or {})}))
    return FakeRestoreEngine(result=restore_result())


async def run(w: World, engine: FakeRestoreEngine) -> dict[str, Any]:
    await RestoreReconciler(w.ctx, engine).reconcile(KEY)
    body: dict[str, Any] = w.kube.writes()[-1].body["status"]
    return body


async def test_an_encrypted_snapshot_without_identity_fails_before_the_engine(
    w: World, store: FakeStores
) -> None:
    engine = given(w, store)
    status = await run(w, engine)
    assert status["phase"] == "Failed"
    assert "no identity is configured" in status["reason"] and RECIPIENT in status["reason"]
    assert engine.jobs == []


@pytest.mark.parametrize("where", ["restore", "objectstoreConfig"])
async def test_the_identity_comes_from_the_restore_or_the_store(
    w: World, store: FakeStores, where: str, store_config: dict[str, Any]
) -> None:
    ref = {"identitySecret": {"name": "good"}}
    if where == "objectstoreConfig":
        store_config.update(ref)
    engine = given(w, store, spec={"encryption": ref} if where == "restore" else None)
    assert (await run(w, engine))["phase"] == "Completed"
    [job] = engine.jobs
    assert job.snapshot_name == "snap"
    assert job.decryption is not None
    assert (job.decryption.expected_sha256, job.decryption.expected_size) == ("ef" * 32, 999)
    assert (job.expected_sha256, job.expected_size) == ("", 0)  # the plaintext's are unknown
    assert job.decryption.identities.public == (RECIPIENT,)


async def test_an_identity_of_another_recipient_fails_before_the_engine(w: World, store: FakeStores) -> None:
    engine = given(w, store, spec={"encryption": {"identitySecret": {"name": "wrong"}}})
    status = await run(w, engine)
    assert status["phase"] == "Failed"
    assert "none of them can decrypt it" in status["reason"]
    assert OTHER_IDENTITY not in status["reason"]
    assert engine.jobs == []


async def test_a_missing_identity_secret_fails_with_its_name(w: World, store: FakeStores) -> None:
    engine = given(w, store, spec={"encryption": {"identitySecret": {"name": "nope"}}})
    status = await run(w, engine)
    assert status["phase"] == "Failed" and "'nope' not found" in status["reason"]
    assert engine.jobs == []


# --- snapshots ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("store_ref", "snapshot_ref", "expected"),
    [
        (None, None, None),
        ("store-keys", None, (RECIPIENT, OTHER_RECIPIENT)),
        ("store-keys", "own-key", (OTHER_RECIPIENT,)),
        (None, "own-key", (OTHER_RECIPIENT,)),
    ],
)
async def test_a_snapshot_encrypts_to_its_own_recipients_else_the_stores(
    w: World,
    store: FakeStores,
    store_ref: str | None,
    snapshot_ref: str | None,
    expected: tuple[str, ...] | None,
    store_config: dict[str, Any],
) -> None:
    for name, text in (("store-keys", f"{RECIPIENT}\n{OTHER_RECIPIENT}\n"), ("own-key", OTHER_RECIPIENT)):
        path, obj = secret(name, {"recipients": text})
        w.kube.objects[path] = obj
    if store_ref is not None:
        store_config.update({"recipientsSecret": {"name": store_ref}})
    spec: dict[str, Any] = {"clusterName": "c1", "objectstoreConfig": "store"}
    if snapshot_ref is not None:
        spec["encryption"] = {"recipientsSecret": {"name": snapshot_ref}}
    w.put(constants.SNAPSHOT, snapshot(phase="InQueue", spec=spec))
    engine = FakeSnapshotEngine(outcome=snapshot_outcome())
    await SnapshotReconciler(w.ctx, engine).reconcile(ObjectKey(NS, "snap"))
    [job] = engine.jobs
    assert (None if job.recipients is None else job.recipients.keys) == expected


async def test_a_recipients_secret_holding_a_secret_key_fails_the_snapshot(
    w: World, store: FakeStores, store_config: dict[str, Any]
) -> None:
    path, obj = secret("leaky", {"recipients": IDENTITY})
    w.kube.objects[path] = obj
    store_config.update({"recipientsSecret": {"name": "leaky"}})
    w.put(
        constants.SNAPSHOT,
        snapshot(phase="InQueue", spec={"clusterName": "c1", "objectstoreConfig": "store"}),
    )
    engine = FakeSnapshotEngine(outcome=snapshot_outcome())
    await SnapshotReconciler(w.ctx, engine).reconcile(ObjectKey(NS, "snap"))
    failed = w.kube.writes()[-1].body["status"]
    assert failed["phase"] == "Failed" and "is a secret key" in failed["reason"]
    assert IDENTITY not in failed["reason"]
    assert engine.jobs == []


@pytest.mark.parametrize(
    ("store_ref", "expected"), [(None, None), ("store-keys", (RECIPIENT, OTHER_RECIPIENT))]
)
async def test_an_etcd_snapshot_encrypts_to_its_stores_recipients(
    w: World, store_config: dict[str, Any], store_ref: str | None, expected: tuple[str, ...] | None
) -> None:
    path, obj = secret("store-keys", {"recipients": f"{RECIPIENT}\n{OTHER_RECIPIENT}\n"})
    w.kube.objects[path] = obj
    if store_ref is not None:
        store_config.update({"recipientsSecret": {"name": store_ref}})
    w.put(constants.ETCD_SNAPSHOT, etcd_snapshot(phase="InQueue", spec={"endpoints": ["http://127.0.0.1:1"]}))
    engine = FakeEtcdEngine(record=etcd_record())
    await EtcdSnapshotReconciler(w.ctx, engine).reconcile(ObjectKey(NS, "etcd1"))
    [job] = engine.jobs
    assert (None if job.recipients is None else job.recipients.keys) == expected


@pytest.mark.parametrize(
    ("secrets", "says"),
    [({}, "store-keys"), ({"store-keys": {"recipients": IDENTITY}}, "is a secret key")],
)
async def test_an_etcd_snapshot_whose_recipients_cannot_be_read_fails_before_etcd_is_read(
    w: World, store: FakeStores, store_config: dict[str, Any], secrets: dict[str, dict[str, str]], says: str
) -> None:
    """Fail closed: an ObjectstoreConfig asking for encryption never gets a plaintext etcd archive."""
    for name, data in secrets.items():
        path, obj = secret(name, data)
        w.kube.objects[path] = obj
    store_config.update({"recipientsSecret": {"name": "store-keys"}})
    w.put(constants.ETCD_SNAPSHOT, etcd_snapshot(phase="InQueue", spec={"endpoints": ["http://127.0.0.1:1"]}))
    engine = FakeEtcdEngine(record=etcd_record())
    await EtcdSnapshotReconciler(w.ctx, engine).reconcile(ObjectKey(NS, "etcd1"))
    failed = w.kube.writes()[-1].body["status"]
    assert failed["phase"] == "Failed" and says in failed["reason"]
    assert IDENTITY not in failed["reason"]
    assert engine.jobs == [] and not store.bucket.blobs
