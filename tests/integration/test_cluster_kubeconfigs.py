"""Kubeconfigs of other clusters, through the controller (issue 11, faults 0, 1 and 15).

One kubeconfig, inline or in a Secret, serves any number of Snapshots and
Restores in one controller process; a kubeconfig that would run a command
fails its Snapshot with a reason naming the field; and a snapshot of the
controller's own cluster archives no Snapshot or Restore (they may carry
kubeconfigs).
"""

from __future__ import annotations

import gzip
import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from k8ssnap.devenv import env
from k8ssnap.kube.client import KubeClient
from k8ssnap.store import layout
from k8ssnap.store.s3 import S3Store
from tests.conftest import CONTROLLER_NS, Kubectl
from tests.controllerproc import ControllerProcess
from tests.crs import restore_manifest, snapshot_manifest, wait_phase

pytestmark = pytest.mark.integration


def _name(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def _secret(kubectl: Kubectl, kubeconfig: Path) -> str:
    name = _name("kc")
    kubectl("create", "secret", "generic", name, "-n", CONTROLLER_NS, f"--from-file=kubeconfig={kubeconfig}")
    return name


def _with_secret(manifest: str, secret: str) -> str:
    obj: dict[str, Any] = json.loads(manifest)
    obj["spec"].pop("kubeconfig")
    obj["spec"]["kubeconfigSecret"] = {"name": secret}
    return json.dumps(obj)


@pytest.mark.parametrize("source", ["inline", "secret"])
async def test_fault_0_one_kubeconfig_serves_two_snapshots_and_two_restores(
    controller: ControllerProcess,
    devenv: env.EnvironmentInfo,
    kubectl_a: Kubectl,
    kube_a: KubeClient,
    kube_b: KubeClient,
    namespace: str,
    source: str,
) -> None:
    a, b = devenv.clusters["a"].kubeconfig, devenv.clusters["b"].kubeconfig
    secrets_of = {"a": _secret(kubectl_a, a), "b": _secret(kubectl_a, b)} if source == "secret" else {}
    await kube_a.create(
        f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "kept"}, "data": {"k": "v"}}
    )
    snaps = [_name("twice") for _ in range(2)]
    for snap in snaps:
        manifest = snapshot_manifest(snap, kubeconfig=a)
        kubectl_a(
            "create", "-f", "-", input=_with_secret(manifest, secrets_of["a"]) if secrets_of else manifest
        )
        wait_phase(kubectl_a, "snapshot", snap, "Completed")
    preference = _name("only")
    kubectl_a("apply", "-f", "-", input=json.dumps({
        "apiVersion": "clustersnapshot.rywt.io/v1alpha1", "kind": "RestorePreference",
        "metadata": {"name": preference, "namespace": CONTROLLER_NS},
        "spec": {"includeNamespaces": [namespace]},
    }))  # fmt: skip
    try:
        outcomes = []
        for snap in snaps:
            restore = _name("back")
            manifest = restore_manifest(
                restore, snapshot=snap, kubeconfig=b, restorePreferenceName=preference
            )
            kubectl_a(
                "create", "-f", "-", input=_with_secret(manifest, secrets_of["b"]) if secrets_of else manifest
            )
            outcomes.append(wait_phase(kubectl_a, "restore", restore, "Completed")["status"])
        kept = f"/api/v1/namespaces/{namespace}/configmaps/kept"
        assert kept in outcomes[0]["created"] and kept in outcomes[1]["alreadyExisted"]
        assert (await kube_b.get(kept))["data"] == {"k": "v"}
    finally:
        await kube_b.delete(f"/api/v1/namespaces/{namespace}")


def test_fault_1_an_exec_kubeconfig_fails_the_snapshot_and_runs_nothing(
    controller: ControllerProcess, devenv: env.EnvironmentInfo, kubectl_a: Kubectl, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    kubeconfig = json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "x",
        "clusters": [{"name": "x", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "x", "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                                  "command": "touch", "args": [str(marker)]}}}],
        "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}],
    })  # fmt: skip
    name = _name("exec")
    kubectl_a("create", "-f", "-", input=snapshot_manifest(name, kubeconfig=kubeconfig))
    snap = wait_phase(kubectl_a, "snapshot", name, "Failed")
    assert "users[x].user.exec is refused" in snap["status"]["reason"]
    assert not marker.exists()


async def test_fault_15_a_snapshot_of_the_controllers_cluster_archives_no_snapshot_or_restore(
    controller: ControllerProcess, devenv: env.EnvironmentInfo, kubectl_a: Kubectl, controller_store: S3Store
) -> None:
    a = devenv.clusters["a"].kubeconfig
    carrier = _name("carrier")  # a Snapshot whose spec holds cluster a's admin key
    kubectl_a("create", "-f", "-", input=snapshot_manifest(carrier, kubeconfig=a))
    wait_phase(kubectl_a, "snapshot", carrier, "Completed")
    own = _name("own")
    kubectl_a("create", "-f", "-", input=snapshot_manifest(own, kubeconfig=None))
    wait_phase(kubectl_a, "snapshot", own, "Completed")
    for name in (carrier, own):
        tar = gzip.decompress(await controller_store.get(layout.archive_key(name)))
        assert b"client-key-data" not in tar and b"/snapshots/" not in tar and b"/restores/" not in tar
        assert b"clustersnapshot.rywt.io/v1alpha1/namespaces/k8s-snap/objectstoreconfigs/" in tar
