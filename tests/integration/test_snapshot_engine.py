"""The snapshot engine against the real cluster a and S3 (no controller involved)."""

from __future__ import annotations

import asyncio
import hashlib
import os

import pytest

from k8ssnap.archive.index import RecordedSpec, StoredRecord
from k8ssnap.archive.reader import ArchiveReader
from k8ssnap.kube.client import KubeClient
from k8ssnap.snapshot.engine import SnapshotEngine, SnapshotJob
from k8ssnap.store import layout
from k8ssnap.store.multipart import MIN_PART
from k8ssnap.store.s3 import S3Store
from k8ssnap.store.snapshots import SnapshotStore
from tests import mix

pytestmark = pytest.mark.integration


async def test_engine_archives_the_mix_point_in_time(kube_a: KubeClient, s3: S3Store, namespace: str) -> None:
    await mix.create_mix(kube_a, namespace)
    name = f"engine-{namespace}"
    spec = RecordedSpec(cluster_name="a", ttl=None, available_until=None, objectstore_config="")
    engine = SnapshotEngine(slots=asyncio.Semaphore(5))
    outcome = await engine.run(
        SnapshotJob(name=name, cluster_name="a", spec=spec), kube=kube_a, store=SnapshotStore(s3)
    )

    raw = await s3.get(layout.archive_key(name))
    assert hashlib.sha256(raw).hexdigest() == outcome.sha256
    assert len(raw) == outcome.stored.size
    reader = ArchiveReader()
    entries = reader.feed(raw)
    reader.close()
    paths = {e.path for e in entries}
    assert f"/api/v1/namespaces/{namespace}/configmaps/config-0" in paths
    assert f"/apis/{mix.crd_group(namespace)}/v1/namespaces/{namespace}/widgets/w2" in paths
    assert f"/api/v1/persistentvolumes/pv-{namespace}" in paths
    assert not any("/events/" in p or p.startswith("/api/v1/nodes") for p in paths)
    assert paths == set(outcome.index.paths)
    record = StoredRecord.from_json(await s3.get(layout.record_key(name)))
    assert record.sha256 == outcome.sha256
    assert b"kubeconfig" not in raw


@pytest.mark.parametrize(("level", "xfl"), [(1, 4), (9, 2)])
async def test_the_gzip_level_reaches_the_archive(
    kube_a: KubeClient, s3: S3Store, namespace: str, level: int, xfl: int
) -> None:
    """gzip's XFL header byte says how hard deflate worked: 4 for the fastest, 2 for the best."""
    name = f"level{level}-{namespace}"
    spec = RecordedSpec(cluster_name="a", ttl=None, available_until=None, objectstore_config="")
    engine = SnapshotEngine(slots=asyncio.Semaphore(5), gzip_level=level)
    outcome = await engine.run(
        SnapshotJob(name=name, cluster_name="a", spec=spec), kube=kube_a, store=SnapshotStore(s3)
    )

    raw = await s3.get(layout.archive_key(name))
    assert raw[8] == xfl
    reader = ArchiveReader()
    assert {e.path for e in reader.feed(raw)} == set(outcome.index.paths)
    reader.close()


async def test_fault_17_retaking_a_snapshot_aborts_the_orphaned_upload_of_its_key(
    kube_a: KubeClient, s3: S3Store, namespace: str
) -> None:
    """A process killed mid-upload leaves its multipart upload behind; the retake aborts it once Completed."""
    name = f"orphan-{namespace}"
    key = layout.archive_key(name)
    client = s3._client
    orphan = await client.create_multipart_upload(
        Bucket=s3.bucket, Key=key, Metadata=layout.archive_metadata(name)
    )
    await client.upload_part(
        Bucket=s3.bucket, Key=key, UploadId=orphan["UploadId"], PartNumber=1, Body=os.urandom(MIN_PART)
    )
    other = f"{name}-bystander.tgz"  # shares the prefix, is not the snapshot's key: left alone
    bystander = await client.create_multipart_upload(Bucket=s3.bucket, Key=other, Metadata={})

    spec = RecordedSpec(cluster_name="a", ttl=None, available_until=None, objectstore_config="")
    engine = SnapshotEngine(slots=asyncio.Semaphore(5))
    outcome = await engine.run(
        SnapshotJob(name=name, cluster_name="a", spec=spec), kube=kube_a, store=SnapshotStore(s3)
    )

    assert outcome.stored.size == len(await s3.get(key))
    listed = await client.list_multipart_uploads(Bucket=s3.bucket, Prefix=name)
    assert {(u["Key"], u["UploadId"]) for u in listed.get("Uploads", [])} == {(other, bystander["UploadId"])}
    await client.abort_multipart_upload(Bucket=s3.bucket, Key=other, UploadId=bystander["UploadId"])
