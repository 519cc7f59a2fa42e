"""Encrypted EtcdSnapshot archives: the engine (real, over a scripted etcd and the in-memory
bucket) age-encrypts; etcd-restore's download decrypts with the right identity and refuses
without one or with a wrong one, before writing anything."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import orjson
import pytest

from k8ssnap import errors, retry
from k8ssnap.archive.etcd import EtcdRecord
from k8ssnap.restore import etcd as unpacking
from k8ssnap.snapshot.etcd import EtcdSnapshotEngine, EtcdSnapshotJob
from k8ssnap.store import age, layout
from k8ssnap.store.snapshots import SnapshotStore
from k8ssnap.testing.store import FakeObjectStore
from tests.etcdfake import FakeEtcd

DB = bytes(range(256)) * 300
CA_KEY = (
    b"-----BEGIN RSA PRIVATE KEY-----\nTHE-CA-PRIVATE-KEY-BYTES-0123456789\n-----END RSA PRIVATE KEY-----\n"
)
IDENTITY, RECIPIENT = age.generate()
OTHER_IDENTITY, OTHER_RECIPIENT = age.generate()


async def _take(tmp_path: Path, *, recipients: age.Recipients | None) -> tuple[FakeObjectStore, EtcdRecord]:
    pki = tmp_path / "pki"
    pki.mkdir()
    (pki / "ca.crt").write_bytes(b"-----BEGIN CERTIFICATE-----\n")
    (pki / "ca.key").write_bytes(CA_KEY)
    bucket = FakeObjectStore()
    fake = FakeEtcd(db=DB)
    url = await fake.start()
    try:
        job = EtcdSnapshotJob(name="e1", endpoints=(url,), pki=".", pki_root=str(pki), recipients=recipients)
        record = await EtcdSnapshotEngine().run(
            job,
            store=SnapshotStore(bucket, prefix="team/"),
            backoff=retry.Backoff(initial=0.01, max_elapsed=1),
        )
    finally:
        await fake.stop()
    return bucket, record


@pytest.fixture
async def sealed(tmp_path: Path) -> tuple[FakeObjectStore, EtcdRecord]:
    recipients = age.Recipients.parse(f"{RECIPIENT}\n{OTHER_RECIPIENT}\n", what="test")
    return await _take(tmp_path, recipients=recipients)


async def test_the_stored_archive_is_ciphertext_and_the_record_says_so(
    sealed: tuple[FakeObjectStore, EtcdRecord],
) -> None:
    bucket, record = sealed
    key = layout.etcd_archive_key("e1", prefix="team/", encrypted=True)
    assert set(bucket.blobs) == {key, layout.etcd_record_key("e1", prefix="team/")}  # no plaintext .tgz
    blob = bucket.blobs[key]
    assert blob.data.startswith(b"age-encryption.org/v1\n")
    assert b"THE-CA-PRIVATE-KEY-BYTES" not in blob.data and b"PRIVATE KEY" not in blob.data
    assert (record.sha256, record.size) == (hashlib.sha256(blob.data).hexdigest(), len(blob.data))
    stored = orjson.loads(bucket.blobs[layout.etcd_record_key("e1", prefix="team/")].data)
    assert stored["encryption"] == {"format": age.FORMAT, "recipients": [RECIPIENT, OTHER_RECIPIENT]}
    assert stored["sha256"] == record.sha256 and stored["privateKeys"] is True
    assert IDENTITY.encode() not in bucket.blobs[layout.etcd_record_key("e1", prefix="team/")].data
    assert EtcdRecord.from_json(bucket.blobs[layout.etcd_record_key("e1", prefix="team/")].data) == record


@pytest.mark.parametrize("identity", [IDENTITY, OTHER_IDENTITY])
async def test_either_recipients_identity_decrypts_and_the_restore_verifies(
    sealed: tuple[FakeObjectStore, EtcdRecord], tmp_path: Path, identity: str
) -> None:
    bucket, record = sealed
    identities = age.Identities.parse(identity, what="test")
    work = tmp_path / "work"
    work.mkdir()
    archive = await unpacking.download(bucket, record, prefix="team/", into=work, identities=identities)
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    out = unpacking.unpack(archive, record, db_into=work, pki_dir=tmp_path / "restored")
    assert out.db.read_bytes() == DB + hashlib.sha256(DB).digest()
    assert (tmp_path / "restored" / "ca.key").read_bytes() == CA_KEY


async def test_without_an_identity_it_is_refused_saying_to_pass_one(
    sealed: tuple[FakeObjectStore, EtcdRecord], tmp_path: Path
) -> None:
    bucket, record = sealed
    with pytest.raises(errors.ConfigError, match="pass --identity FILE") as caught:
        await unpacking.download(bucket, record, prefix="team/", into=tmp_path)
    assert RECIPIENT in caught.value.reason
    assert not list(tmp_path.glob(".k8ssnap-etcd-*")) and bucket.chunks_served == 0


async def test_a_wrong_identity_is_refused_before_anything_is_downloaded(
    sealed: tuple[FakeObjectStore, EtcdRecord], tmp_path: Path
) -> None:
    bucket, record = sealed
    stranger, _ = age.generate()
    identities = age.Identities.parse(stranger, what="test")
    with pytest.raises(errors.ConfigError, match="holds none of their identities") as caught:
        await unpacking.download(bucket, record, prefix="team/", into=tmp_path, identities=identities)
    assert stranger not in caught.value.reason
    assert not list(tmp_path.glob(".k8ssnap-etcd-*")) and bucket.chunks_served == 0


async def test_a_record_lying_about_its_recipients_still_cannot_decrypt(
    sealed: tuple[FakeObjectStore, EtcdRecord], tmp_path: Path
) -> None:
    """The recipients check is a courtesy; age itself refuses an identity that is not a recipient."""
    bucket, record = sealed
    stranger, stranger_public = age.generate()
    forged = EtcdRecord.from_json(record.to_json().replace(RECIPIENT.encode(), stranger_public.encode()))
    identities = age.Identities.parse(stranger, what="test")
    with pytest.raises(errors.ArchiveError, match="could not be decrypted"):
        await unpacking.download(bucket, forged, prefix="team/", into=tmp_path, identities=identities)
    assert not list(tmp_path.glob(".k8ssnap-etcd-*"))


async def test_a_tampered_ciphertext_is_refused_and_nothing_kept(
    sealed: tuple[FakeObjectStore, EtcdRecord], tmp_path: Path
) -> None:
    bucket, record = sealed
    key = layout.etcd_archive_key("e1", prefix="team/", encrypted=True)
    data = bytearray(bucket.blobs[key].data)
    data[len(data) // 2] ^= 0xFF
    bucket.add(key, bytes(data), metadata={})
    identities = age.Identities.parse(IDENTITY, what="test")
    with pytest.raises(errors.ArchiveError):
        await unpacking.download(bucket, record, prefix="team/", into=tmp_path, identities=identities)
    assert not list(tmp_path.glob(".k8ssnap-etcd-*"))


async def test_without_recipients_the_archive_stays_plain(tmp_path: Path) -> None:
    bucket, record = await _take(tmp_path, recipients=None)
    assert layout.etcd_archive_key("e1", prefix="team/") in bucket.blobs
    assert not record.encrypted and "encryption" not in orjson.loads(record.to_json())
    archive = await unpacking.download(bucket, record, prefix="team/", into=tmp_path)
    assert archive.stat().st_size > 0


@pytest.mark.parametrize(
    "encryption", [{"format": "gpg", "recipients": ["x"]}, {"format": age.FORMAT, "recipients": []}, "age"]
)
def test_a_record_naming_an_unknown_or_empty_encryption_does_not_parse(
    sealed: tuple[FakeObjectStore, EtcdRecord], encryption: object
) -> None:
    _, record = sealed
    data = orjson.loads(record.to_json()) | {"encryption": encryption}
    with pytest.raises(errors.ArchiveError):
        EtcdRecord.from_json(orjson.dumps(data))
