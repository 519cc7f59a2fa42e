"""The ground is real: two independent clusters built from Go modules, and S3 with keys."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os

import orjson
import pytest

from k8ssnap import errors
from k8ssnap.devenv import build, env, versions
from k8ssnap.kube.client import KubeClient
from k8ssnap.store.s3 import S3Store
from k8ssnap.store.snapshots import SnapshotStore
from tests.conftest import Kubectl, s3_settings
from tests.waiting import eventually

pytestmark = pytest.mark.integration


async def test_kubectl_and_kubernetes_asyncio_talk_to_cluster_a(
    kubectl_a: Kubectl, kube_a: KubeClient
) -> None:
    version = json.loads(kubectl_a("version", "-o", "json"))
    assert version["serverVersion"]["gitVersion"] == versions.KUBERNETES_VERSION
    assert version["clientVersion"]["gitVersion"] == versions.KUBERNETES_VERSION
    served = await kube_a.get("/version")
    assert served["gitVersion"] == versions.KUBERNETES_VERSION
    names = {ns["metadata"]["name"] for ns in (await kube_a.get("/api/v1/namespaces"))["items"]}
    assert {"default", "kube-system"} <= names


async def test_deployment_gets_a_replicaset(kube_a: KubeClient, namespace: str) -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
        },
    }
    created = await kube_a.create(f"/apis/apps/v1/namespaces/{namespace}/deployments", deployment)

    async def owned_replicaset() -> bool:
        sets = await kube_a.get(f"/apis/apps/v1/namespaces/{namespace}/replicasets")
        return any(
            ref["uid"] == created["metadata"]["uid"]
            for rs in sets["items"]
            for ref in rs["metadata"].get("ownerReferences", [])
        )

    await eventually(owned_replicaset, timeout=60, what="a ReplicaSet owned by the Deployment")


async def test_clusters_are_independent(kube_a: KubeClient, kube_b: KubeClient, namespace: str) -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "only-in-a"},
        "data": {"k": "v"},
    }
    await kube_a.create(f"/api/v1/namespaces/{namespace}/configmaps", cm)
    assert (await kube_a.get(f"/api/v1/namespaces/{namespace}/configmaps/only-in-a"))["data"] == {"k": "v"}
    with pytest.raises(errors.NotFound):
        await kube_b.get(f"/api/v1/namespaces/{namespace}")
    a_uid = (await kube_a.get("/api/v1/namespaces/default"))["metadata"]["uid"]
    b_uid = (await kube_b.get("/api/v1/namespaces/default"))["metadata"]["uid"]
    assert a_uid != b_uid


async def test_multipart_upload_round_trips(s3: S3Store) -> None:
    payload = os.urandom(16 << 20)  # 16 MiB in 5 MiB parts: 4 parts
    upload = s3.upload("test/multipart.bin", metadata={"purpose": "test"}, part_size=5 << 20)
    for start in range(0, len(payload), 1 << 20):
        await upload.write(payload[start : start + (1 << 20)])
    stored = await upload.complete()
    assert stored.size == len(payload)
    assert stored.metadata.get("purpose") == "test"
    assert '-4"' in (await s3._client.head_object(Bucket=s3.bucket, Key="test/multipart.bin"))["ETag"]
    data = await s3.get("test/multipart.bin")
    assert hashlib.sha256(data).digest() == hashlib.sha256(payload).digest()
    await s3.delete("test/multipart.bin")


async def test_wrong_secret_key_is_rejected(devenv: env.EnvironmentInfo) -> None:
    store = await S3Store.open(s3_settings(devenv, secret_key="not-the-secret"))
    try:
        with pytest.raises(errors.StorePermanent, match="SignatureDoesNotMatch"):
            await store.put("test/denied.txt", b"x", metadata={})
    finally:
        await store.close()


async def test_aborted_upload_leaves_nothing(s3: S3Store) -> None:
    upload = s3.upload("test/aborted.bin", metadata={}, part_size=5 << 20)
    await upload.write(os.urandom(11 << 20))
    await upload.abort()
    with pytest.raises(errors.ObjectMissing):
        await s3.head("test/aborted.bin")
    pending = await s3._client.list_multipart_uploads(Bucket=s3.bucket, Prefix="test/aborted")
    assert not pending.get("Uploads")


def test_second_start_rebuilds_nothing(devenv: env.EnvironmentInfo) -> None:
    binaries = [p for d in build.ensure_all().values() for p in d.iterdir() if p.is_file()]
    before = {p: p.stat().st_mtime_ns for p in binaries}
    assert {p.name for p in binaries} >= {
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kubectl",
    }
    again = build.ensure_all()
    after = {p: p.stat().st_mtime_ns for d in again.values() for p in d.iterdir() if p.is_file()}
    assert after == before
    assert orjson.dumps(sorted(str(p) for p in after)) == orjson.dumps(sorted(str(p) for p in before))


async def test_housekeeping_aborts_only_stale_uploads_of_archive_keys(s3: S3Store) -> None:
    prefix = f"test/shared-{os.getpid()}/"
    ours, theirs = f"{prefix}s1.tgz", f"{prefix}other-tool/disk.img"
    for key in (ours, theirs):
        await s3._client.create_multipart_upload(Bucket=s3.bucket, Key=key)
    store = SnapshotStore(s3, prefix=prefix)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert await store.abort_stale_uploads(older_than=later) == 1
    pending = await s3._client.list_multipart_uploads(Bucket=s3.bucket, Prefix=prefix)
    assert [u["Key"] for u in pending.get("Uploads", [])] == [theirs]
    await s3.abort_uploads(prefix, older_than=later)
