"""TTL expiry, deletion with a finalizer, orphan cleanup, disaster recovery, validation."""

from __future__ import annotations

import json
import secrets

import pytest

from k8ssnap import errors
from k8ssnap.api.constants import ATTEMPTS
from k8ssnap.devenv import env
from k8ssnap.kube.client import KubeClient
from k8ssnap.store import layout
from k8ssnap.store.s3 import S3Store
from tests.conftest import CONTROLLER_NS, Kubectl
from tests.controllerproc import ControllerProcess
from tests.crs import restore_manifest, snapshot_manifest, wait_phase
from tests.waiting import eventually

pytestmark = pytest.mark.integration

SNAPSHOTS = "/apis/clustersnapshot.rywt.io/v1alpha1/namespaces/k8s-snap/snapshots"


def _name(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


async def _gone(kube: KubeClient, path: str) -> bool:
    try:
        await kube.get(path)
    except errors.NotFound:
        return True
    return False


async def _missing(store: S3Store, key: str) -> bool:
    try:
        await store.head(key)
    except errors.ObjectMissing:
        return True
    return False


async def test_ttl_expiry_deletes_the_cr_and_its_archive(
    controller: ControllerProcess, kubectl_a: Kubectl, kube_a: KubeClient, controller_store: S3Store
) -> None:
    name = _name("ttl")
    kubectl_a("create", "-f", "-", input=snapshot_manifest(name, kubeconfig=None, ttl="30s"))
    snap = wait_phase(kubectl_a, "snapshot", name, "Completed")
    assert snap["status"]["availableUntil"]
    await controller_store.head(layout.archive_key(name))
    await eventually(
        lambda: _gone(kube_a, f"{SNAPSHOTS}/{name}"), timeout=90, what="expired Snapshot deleted"
    )
    assert await _missing(controller_store, layout.archive_key(name))
    assert await _missing(controller_store, layout.record_key(name))


async def test_deleting_a_cr_removes_its_archive_even_if_the_controller_was_down(
    controller: ControllerProcess, kubectl_a: Kubectl, kube_a: KubeClient, controller_store: S3Store
) -> None:
    live, offline = _name("del"), _name("deloff")
    for name in (live, offline):
        kubectl_a("create", "-f", "-", input=snapshot_manifest(name, kubeconfig=None))
        wait_phase(kubectl_a, "snapshot", name, "Completed")
    kubectl_a("delete", "snapshot", live, "-n", CONTROLLER_NS, "--timeout=60s")
    assert await _missing(controller_store, layout.archive_key(live))
    controller.stop()
    try:
        kubectl_a("delete", "snapshot", offline, "-n", CONTROLLER_NS, "--wait=false")
        held = await kube_a.get(f"{SNAPSHOTS}/{offline}")
        assert held["metadata"]["deletionTimestamp"]  # the finalizer holds it while we are down
        await controller_store.head(layout.archive_key(offline))
    finally:
        controller.start()
    await eventually(lambda: _gone(kube_a, f"{SNAPSHOTS}/{offline}"), timeout=60, what="Snapshot finalized")
    assert await _missing(controller_store, layout.archive_key(offline))


async def test_orphans_are_removed_and_unrelated_keys_kept(
    controller: ControllerProcess, controller_store: S3Store
) -> None:
    orphan = _name("orphan")
    await controller_store.put(
        layout.archive_key(orphan), b"not really", metadata=layout.archive_metadata(orphan)
    )
    await controller_store.put(layout.record_key(orphan), b"{}", metadata={})
    unrelated = [f"{_name('foreign')}.tgz", "backups/other-tool/data.tgz", f"{_name('notes')}.txt"]
    for key in unrelated:
        await controller_store.put(key, b"someone else's", metadata={})
    await eventually(
        lambda: _missing(controller_store, layout.archive_key(orphan)), timeout=60, what="orphan removed"
    )
    assert await _missing(controller_store, layout.record_key(orphan))
    for key in unrelated:
        assert (await controller_store.get(key)) == b"someone else's"
        await controller_store.delete(key)


async def test_tampered_archive_fails_its_snapshot(
    controller: ControllerProcess, kubectl_a: Kubectl, controller_store: S3Store
) -> None:
    name = _name("tamper")
    kubectl_a("create", "-f", "-", input=snapshot_manifest(name, kubeconfig=None))
    wait_phase(kubectl_a, "snapshot", name, "Completed")
    key = layout.archive_key(name)
    data = bytearray(await controller_store.get(key))
    data[len(data) // 2] ^= 0xFF
    await controller_store.put(key, bytes(data) + b"x", metadata=layout.archive_metadata(name))
    snap = wait_phase(kubectl_a, "snapshot", name, "Failed", timeout=120)
    assert "not matched" in snap["status"]["reason"]


async def test_snapshots_come_back_from_the_bucket_and_restore(
    controller: ControllerProcess,
    devenv: env.EnvironmentInfo,
    kubectl_a: Kubectl,
    kubectl_b: Kubectl,
    kube_a: KubeClient,
    kube_b: KubeClient,
    namespace: str,
) -> None:
    await kube_a.create(
        f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "precious"}, "data": {"k": "v"}}
    )
    name = _name("dr")
    kubectl_a("create", "-f", "-", input=snapshot_manifest(name, kubeconfig=None))
    before = wait_phase(kubectl_a, "snapshot", name, "Completed")
    controller.stop()
    try:  # the cluster loses every Snapshot CR (finalizers and all), the bucket keeps the archives
        for item in json.loads(kubectl_a("get", "snapshots", "-n", CONTROLLER_NS, "-o", "json"))["items"]:
            path = f"{SNAPSHOTS}/{item['metadata']['name']}"
            await kube_a.merge_patch(path, {"metadata": {"finalizers": None}})
            await kube_a.delete(path)
        await eventually(lambda: _gone(kube_a, f"{SNAPSHOTS}/{name}"), what="Snapshot wiped")
    finally:
        controller.start()
    after = wait_phase(kubectl_a, "snapshot", name, "Completed", timeout=60)
    for field in ("snapshotResourceVersion", "snapshotTimestamp", "numberOfContents", "storedFileSize"):
        assert after["status"][field] == before["status"][field]
    restore = _name("dr-restore")
    preference = _name("only")
    kubectl_a("apply", "-f", "-", input=json.dumps({
        "apiVersion": "clustersnapshot.rywt.io/v1alpha1", "kind": "RestorePreference",
        "metadata": {"name": preference, "namespace": CONTROLLER_NS},
        "spec": {"includeNamespaces": [namespace]},
    }))  # fmt: skip
    manifest = restore_manifest(
        restore, snapshot=name, kubeconfig=devenv.clusters["b"].kubeconfig, restorePreferenceName=preference
    )
    kubectl_a("create", "-f", "-", input=manifest)
    done = wait_phase(kubectl_a, "restore", restore, "Completed", timeout=120)
    assert f"/api/v1/namespaces/{namespace}/configmaps/precious" in done["status"]["created"]
    assert (await kube_b.get(f"/api/v1/namespaces/{namespace}/configmaps/precious"))["data"] == {"k": "v"}
    await kube_b.delete(f"/api/v1/namespaces/{namespace}")


def test_restore_of_a_snapshot_that_is_not_completed_fails(
    controller: ControllerProcess, devenv: env.EnvironmentInfo, kubectl_a: Kubectl
) -> None:
    failed = _name("failed")
    kubectl_a(
        "create",
        "-f",
        "-",
        input=snapshot_manifest(failed, kubeconfig=None, availableUntil="2020-01-01T00:00:00Z"),
    )
    wait_phase(kubectl_a, "snapshot", failed, "Failed")
    restore = _name("from-failed")
    kubectl_a(
        "create",
        "-f",
        "-",
        input=restore_manifest(restore, snapshot=failed, kubeconfig=devenv.clusters["b"].kubeconfig),
    )
    done = wait_phase(kubectl_a, "restore", restore, "Failed")
    assert done["status"]["reason"] == "Snapshot data is not in status 'Completed'"


def test_a_snapshot_interrupted_in_progress_is_taken_again(
    controller: ControllerProcess, kubectl_a: Kubectl
) -> None:
    """A controller that died mid-snapshot left it InProgress; the next one takes it again."""
    name = _name("resume")
    controller.stop()
    try:
        kubectl_a("create", "-f", "-", input=snapshot_manifest(name, kubeconfig=None))
        kubectl_a(
            "patch", "snapshot", name, "-n", CONTROLLER_NS, "--subresource=status", "--type=merge",
            "-p", json.dumps({"status": {"phase": "InProgress"}}),
        )  # fmt: skip
    finally:
        controller.start()
    snap = wait_phase(kubectl_a, "snapshot", name, "Completed")
    assert snap["status"]["numberOfContents"] > 0
    assert "Resumed" in kubectl_a("describe", "snapshot", name, "-n", CONTROLLER_NS)
    # the second attempt was counted on the object, then claimed on the version that count wrote
    assert snap["metadata"]["annotations"][ATTEMPTS] == "2"


def test_a_restore_interrupted_three_times_fails_instead_of_running_again(
    controller: ControllerProcess, devenv: env.EnvironmentInfo, kubectl_a: Kubectl
) -> None:
    """Issue 11, fault 4: the third interrupted attempt is the last; a person reads why."""
    name = _name("crashloop")
    controller.stop()
    try:
        manifest = restore_manifest(name, snapshot="never-read", kubeconfig=devenv.clusters["b"].kubeconfig)
        kubectl_a("create", "-f", "-", input=manifest)
        kubectl_a("annotate", "restore", name, "-n", CONTROLLER_NS, f"{ATTEMPTS}=3")
        kubectl_a(
            "patch", "restore", name, "-n", CONTROLLER_NS, "--subresource=status", "--type=merge",
            "-p", json.dumps({"status": {"phase": "InProgress"}}),
        )  # fmt: skip
    finally:
        controller.start()
    done = wait_phase(kubectl_a, "restore", name, "Failed")
    assert "interrupted repeatedly" in done["status"]["reason"]


@pytest.mark.parametrize("kind", ["snapshot", "restore"])
def test_the_crd_refuses_a_ttl_beyond_go_range(kubectl_a: Kubectl, kind: str) -> None:
    """Issue 11, fault 6: ``9999999h`` matches the pattern; the CEL rule refuses it at admission."""
    name = _name("ttl-range")
    if kind == "snapshot":
        manifest = snapshot_manifest(name, kubeconfig=None, ttl="9999999h")
    else:
        manifest = restore_manifest(name, snapshot="s", kubeconfig=None, ttl="9999999h")
    out = kubectl_a("create", "-f", "-", input=manifest, check=False)
    assert "spec.ttl" in out
    assert "2562047h" in out
    assert "created" not in out
    ok = kubectl_a("create", "-f", "-", "--dry-run=server", input=manifest.replace("9999999h", "2562047h"))
    assert "created" in ok
