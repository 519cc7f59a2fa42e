"""etcd-restore's unpacking: a tampered or hostile archive writes nothing it should not."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import stat
import tarfile
from pathlib import Path

import pytest

from k8ssnap import errors
from k8ssnap.archive.etcd import EtcdRecord
from k8ssnap.restore import etcd as unpacking
from k8ssnap.snapshot.etcd import EtcdSnapshotJob, take_etcd_snapshot
from k8ssnap.store.folder import FolderStore
from tests.etcdfake import FakeEtcd

NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)
DB = bytes(range(256)) * 500


@pytest.fixture
async def taken(tmp_path: Path) -> tuple[FolderStore, EtcdRecord]:
    pki = tmp_path / "pki"
    (pki / "etcd").mkdir(parents=True)
    (pki / "ca.crt").write_bytes(b"-----BEGIN CERTIFICATE-----\n")
    (pki / "ca.key").write_bytes(b"-----BEGIN RSA PRIVATE KEY-----\n")
    (pki / "etcd" / "peer.key").write_bytes(b"-----BEGIN PRIVATE KEY-----\n")
    store = FolderStore(base=tmp_path, bucket="b")
    await store.create_bucket()
    fake = FakeEtcd(db=DB)
    url = await fake.start()
    try:
        job = EtcdSnapshotJob(name="n1", endpoints=(url,), pki=".", pki_root=str(pki))
        record = await take_etcd_snapshot(job=job, store=store, now=NOW)
    finally:
        await fake.stop()
    return store, record


async def test_unpack_writes_the_database_and_the_pki_with_safe_modes(
    taken: tuple[FolderStore, EtcdRecord], tmp_path: Path
) -> None:
    store, record = taken
    work = tmp_path / "work"
    work.mkdir()
    archive = await unpacking.download(store, record, prefix="", into=work)
    out = unpacking.unpack(archive, record, db_into=work, pki_dir=tmp_path / "restored")
    assert out.db.read_bytes() == DB + hashlib.sha256(DB).digest()
    modes = {
        p.relative_to(tmp_path / "restored").as_posix(): stat.S_IMODE(p.stat().st_mode) for p in out.pki_files
    }
    assert modes == {"ca.crt": 0o644, "ca.key": 0o600, "etcd/peer.key": 0o600}
    assert stat.S_IMODE((tmp_path / "restored" / "etcd").stat().st_mode) == 0o700


async def test_fault_tampered_archive_is_refused_before_anything_is_written(
    taken: tuple[FolderStore, EtcdRecord], tmp_path: Path
) -> None:
    store, record = taken
    data = bytearray(await store.get("etcd/n1.tgz"))
    data[len(data) // 2] ^= 0xFF
    await store.put("etcd/n1.tgz", bytes(data), metadata={})
    with pytest.raises(errors.ArchiveError, match="not the one recorded"):
        await unpacking.download(store, record, prefix="", into=tmp_path)
    assert not list(tmp_path.glob(".k8ssnap-etcd-*"))


def _hostile(path: Path, entries: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, body in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))


@pytest.mark.parametrize("entry", ["n1/pki/../../evil.key", "n1/pki//etc/evil", "other/etcd/snapshot.db"])
def test_fault_pki_entry_escaping_pki_dir_is_refused(
    taken: tuple[FolderStore, EtcdRecord], tmp_path: Path, entry: str
) -> None:
    _, record = taken
    archive = tmp_path / "hostile.tgz"
    _hostile(archive, {entry: b"x"})
    with pytest.raises(errors.ArchiveError):
        unpacking.unpack(archive, record, db_into=tmp_path, pki_dir=tmp_path / "pki-out")
    assert not (tmp_path / "evil.key").exists()


def test_fault_database_not_matching_its_checksum_is_refused(
    taken: tuple[FolderStore, EtcdRecord], tmp_path: Path
) -> None:
    _, record = taken
    archive = tmp_path / "bad-db.tgz"
    _hostile(archive, {"n1/etcd/snapshot.db": b"\0" * len(DB) + hashlib.sha256(DB).digest()})
    with pytest.raises(errors.ArchiveError, match="does not match"):
        unpacking.unpack(archive, record, db_into=tmp_path, pki_dir=None)
    assert not (tmp_path / "n1.db").exists()


async def test_an_existing_pki_file_is_not_overwritten_unless_asked(
    taken: tuple[FolderStore, EtcdRecord], tmp_path: Path
) -> None:
    store, record = taken
    target = tmp_path / "restored"
    target.mkdir()
    (target / "ca.crt").write_bytes(b"mine")
    archive = await unpacking.download(store, record, prefix="", into=tmp_path)
    with pytest.raises(errors.ConfigError, match="already exists"):
        unpacking.unpack(archive, record, db_into=tmp_path, pki_dir=target)
    assert (target / "ca.crt").read_bytes() == b"mine"
    (tmp_path / "n1.db").unlink(missing_ok=True)
    unpacking.unpack(
        archive, dataclasses.replace(record), db_into=tmp_path, pki_dir=target, overwrite_pki=True
    )
    assert (target / "ca.crt").read_bytes().startswith(b"-----BEGIN CERT")
