"""ObjectstoreConfig status and lifecycle (the store contract itself: test_store_contract.py)."""

from __future__ import annotations

import json
import secrets

import pytest

from k8ssnap.devenv import env
from k8ssnap.kube.client import KubeClient
from k8ssnap.store.s3 import S3Store
from tests.conftest import CONTROLLER_NS, OBJECTSTORE, Kubectl
from tests.controllerproc import ControllerProcess
from tests.waiting import eventually

pytestmark = pytest.mark.integration


def _status(kubectl: Kubectl, name: str) -> dict[str, object]:
    obj = json.loads(kubectl("get", "objectstoreconfig", name, "-n", CONTROLLER_NS, "-o", "json"))
    status: dict[str, object] = obj.get("status") or {}
    return status


async def test_objectstoreconfig_status_says_whether_the_store_works(
    controller: ControllerProcess, kubectl_a: Kubectl
) -> None:
    async def available() -> bool:
        return _status(kubectl_a, OBJECTSTORE).get("phase") == "Available"

    await eventually(available, what="the local store Available")
    assert _status(kubectl_a, OBJECTSTORE)["bucketExists"] is True
    broken = f"nobucket-{secrets.token_hex(2)}"
    spec = json.loads(kubectl_a("get", "objectstoreconfig", OBJECTSTORE, "-n", CONTROLLER_NS, "-o", "json"))[
        "spec"
    ]
    spec["bucket"] = "there-is-no-such-bucket"
    kubectl_a("apply", "-f", "-", input=json.dumps({
        "apiVersion": "clustersnapshot.rywt.io/v1alpha1", "kind": "ObjectstoreConfig",
        "metadata": {"name": broken, "namespace": CONTROLLER_NS}, "spec": spec,
    }))  # fmt: skip

    async def unavailable() -> bool:
        return _status(kubectl_a, broken).get("phase") == "Unavailable"

    await eventually(unavailable, what="the broken store Unavailable")
    status = _status(kubectl_a, broken)
    assert "does not exist" in str(status["reason"]) and status["bucketExists"] is False
    kubectl_a("delete", "objectstoreconfig", broken, "-n", CONTROLLER_NS)


async def test_createbucket_creates_a_missing_bucket_and_only_with_the_flag(
    devenv: env.EnvironmentInfo,
) -> None:
    from k8ssnap import errors
    from k8ssnap.store.snapshots import SnapshotStore
    from tests.conftest import s3_settings

    store = SnapshotStore(await S3Store.open(s3_settings(devenv, bucket=f"made-{secrets.token_hex(3)}")))
    try:
        with pytest.raises(errors.BucketMissing, match="does not exist"):
            await store.check(create=False)
        await store.check(create=True)
        await store.check()
    finally:
        await store.close()


async def test_an_objectstoreconfig_in_use_waits_for_its_snapshots(
    controller: ControllerProcess, devenv: env.EnvironmentInfo, kubectl_a: Kubectl, kube_a: KubeClient
) -> None:
    """Deleting a store that Snapshots use waits until they are gone, so their archives stay deletable."""
    from k8ssnap import errors
    from tests.crs import snapshot_manifest, wait_phase

    store = f"shared-{secrets.token_hex(2)}"
    spec = json.loads(kubectl_a("get", "objectstoreconfig", OBJECTSTORE, "-n", CONTROLLER_NS, "-o", "json"))[
        "spec"
    ]
    kubectl_a("apply", "-f", "-", input=json.dumps({
        "apiVersion": "clustersnapshot.rywt.io/v1alpha1", "kind": "ObjectstoreConfig",
        "metadata": {"name": store, "namespace": CONTROLLER_NS}, "spec": spec,
    }))  # fmt: skip
    snap = f"uses-{store}"
    kubectl_a("create", "-f", "-", input=snapshot_manifest(snap, kubeconfig=None, objectstoreConfig=store))
    wait_phase(kubectl_a, "snapshot", snap, "Completed")
    path = f"/apis/clustersnapshot.rywt.io/v1alpha1/namespaces/{CONTROLLER_NS}/objectstoreconfigs/{store}"

    async def held() -> bool:
        return "clustersnapshot.rywt.io/archive" in (
            (await kube_a.get(path))["metadata"].get("finalizers") or []
        )

    await eventually(held, what="the store's finalizer")
    kubectl_a("delete", "objectstoreconfig", store, "-n", CONTROLLER_NS, "--wait=false")
    assert (await kube_a.get(path))["metadata"]["deletionTimestamp"]
    kubectl_a(
        "delete", "snapshot", snap, "-n", CONTROLLER_NS, "--timeout=60s"
    )  # its archive is deleted first

    async def gone() -> bool:
        try:
            await kube_a.get(path)
        except errors.NotFound:
            return True
        return False

    await eventually(gone, timeout=90, what="the store released once unused")
