"""An etcd that misbehaves, and custom resources that reach for host files.

The snapshot engine runs against a scripted etcd on a real gRPC port
(tests/etcdfake.py) and a real folder store; each test is named after the
fault it guards against. Whatever goes wrong, no archive is left behind.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import tarfile
import tracemalloc
from pathlib import Path

import pytest

from k8ssnap.archive.etcd import EtcdRecord
from k8ssnap.errors import EtcdRetriable, HostPathRefused, SnapshotIntegrityError
from k8ssnap.snapshot.etcd import EtcdSnapshotJob, take_etcd_snapshot
from k8ssnap.store.folder import FolderStore
from tests.etcdfake import FakeEtcd, Fault

NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)
DB = bytes(range(256)) * 1000


@pytest.fixture
async def store(tmp_path: Path) -> FolderStore:
    store = FolderStore(base=tmp_path, bucket="backups")
    await store.create_bucket()
    return store


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    root = tmp_path / "pki"
    root.mkdir()
    (root / "ca.crt").write_bytes(b"-----BEGIN CERTIFICATE-----\n")
    (root / "ca.key").write_bytes(b"-----BEGIN RSA PRIVATE KEY-----\n")
    (tmp_path / "outside.key").write_bytes(b"-----BEGIN RSA PRIVATE KEY-----\nsecret\n")
    return root


async def _keys(store: FolderStore) -> list[str]:
    return [o.key async for o in store.list("")]


async def _take(fake: FakeEtcd, store: FolderStore, **job: object) -> EtcdRecord:
    url = await fake.start()
    try:
        return await take_etcd_snapshot(
            job=EtcdSnapshotJob(name="nightly", endpoints=(url,), **job),  # type: ignore[arg-type]
            store=store,
            now=NOW,
        )
    finally:
        await fake.stop()


async def test_a_whole_stream_becomes_an_archive_and_a_record(store: FolderStore, pki: Path) -> None:
    record = await _take(FakeEtcd(db=DB), store, pki=".", pki_root=str(pki))
    assert await _keys(store) == ["etcd/nightly.tgz", "etcd/nightly.tgz.record.json"]
    assert (record.db_size, record.db_sha256, record.revision) == (
        len(DB),
        hashlib.sha256(DB).hexdigest(),
        42,
    )
    assert record.pki_files == ("ca.crt", "ca.key") and record.private_keys
    archive = await store.get("etcd/nightly.tgz")
    assert hashlib.sha256(archive).hexdigest() == record.sha256
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        db = tar.extractfile("nightly/etcd/snapshot.db")
        assert db is not None and db.read() == DB + hashlib.sha256(DB).digest()
    assert EtcdRecord.from_json(await store.get("etcd/nightly.tgz.record.json")) == record


@pytest.mark.parametrize(
    ("fault", "error", "says"),
    [
        ("truncate", SnapshotIntegrityError, "truncated"),
        ("no-sha", SnapshotIntegrityError, "before its SHA-256"),
        ("bad-sha", SnapshotIntegrityError, "does not match"),
        ("abort", EtcdRetriable, "unavailable"),
    ],
)
async def test_fault_broken_snapshot_stream_leaves_no_archive(
    store: FolderStore, fault: Fault, error: type[Exception], says: str
) -> None:
    with pytest.raises(error) as caught:
        await _take(FakeEtcd(db=DB, fault=fault), store)
    assert says in str(caught.value)
    assert await _keys(store) == []
    assert not any((store.folder / ".k8ssnap-uploads").iterdir())


@pytest.mark.parametrize(
    ("pki_path", "root", "says"),
    [("../", "ROOT", "'..'"), ("ca.crt/..", "ROOT", "'..'"), (".", None, "without --pki-root"),
     ("/etc", "ROOT", "not absolute")],
)  # fmt: skip
async def test_fault_pki_outside_the_root_fails_before_etcd_is_asked(
    store: FolderStore, pki: Path, pki_path: str, root: str | None, says: str
) -> None:
    fake = FakeEtcd(db=DB)
    with pytest.raises(HostPathRefused, match=says):
        await _take(fake, store, pki=pki_path, pki_root=str(pki) if root else None)
    assert fake.snapshots == 0
    assert await _keys(store) == []


async def test_certificates_only_archives_no_private_key(store: FolderStore, pki: Path) -> None:
    record = await _take(FakeEtcd(db=DB), store, pki=".", pki_root=str(pki), certificates_only=True)
    assert record.pki_files == ("ca.crt",) and not record.private_keys
    with tarfile.open(fileobj=io.BytesIO(await store.get("etcd/nightly.tgz")), mode="r:gz") as tar:
        assert not any(b"PRIVATE KEY" in (tar.extractfile(m) or io.BytesIO()).read() for m in tar)


async def test_memory_stays_flat_whatever_the_database_size(store: FolderStore) -> None:
    size = 64 << 20
    tracemalloc.start()
    try:
        record = await _take(FakeEtcd(size=size), store)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert record.db_size == size
    assert peak < 8 << 20, f"peak {peak} bytes for a {size}-byte database"
