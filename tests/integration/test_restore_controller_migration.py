"""A dry-run Restore with a namespace mapping, through the controller and kubectl (issue 15)."""

from __future__ import annotations

import json
import secrets

import pytest

from k8ssnap import errors
from k8ssnap.devenv import env
from k8ssnap.kube.client import KubeClient
from tests.conftest import CONTROLLER_NS, Kubectl
from tests.controllerproc import ControllerProcess
from tests.crs import restore_manifest, snapshot_manifest, wait_phase

pytestmark = pytest.mark.integration


async def test_a_dry_run_restore_reports_the_mapped_plan_and_writes_nothing(
    controller: ControllerProcess,
    devenv: env.EnvironmentInfo,
    kubectl_a: Kubectl,
    kube_a: KubeClient,
    kube_b: KubeClient,
    namespace: str,
) -> None:
    await kube_a.create(f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "app"}})
    name = f"dry-{secrets.token_hex(3)}"
    kubectl_a("create", "-f", "-", input=snapshot_manifest(name, kubeconfig=None))
    wait_phase(kubectl_a, "snapshot", name, "Completed")
    target = f"{namespace}-copy"
    preference = f"map-{secrets.token_hex(3)}"
    kubectl_a("apply", "-f", "-", input=json.dumps({
        "apiVersion": "clustersnapshot.rywt.io/v1alpha1", "kind": "RestorePreference",
        "metadata": {"name": preference, "namespace": CONTROLLER_NS},
        "spec": {"includeNamespaces": [namespace], "includeApiPathes": [f"/,{namespace}"],
                 "namespaceMapping": {namespace: target}},
    }))  # fmt: skip
    restore = f"dry-restore-{secrets.token_hex(3)}"
    manifest = restore_manifest(
        restore,
        snapshot=name,
        kubeconfig=devenv.clusters["b"].kubeconfig,
        restorePreferenceName=preference,
        dryRun=True,
    )

    kubectl_a("create", "-f", "-", input=manifest)

    done = wait_phase(kubectl_a, "restore", restore, "Completed", timeout=120)
    assert f"/api/v1/namespaces/{target}/configmaps/app" in done["status"]["created"]
    assert f"/api/v1/namespaces/{target}" in done["status"]["created"]
    assert not done["status"].get("failed")
    assert done["status"]["numFailed"] == 0
    with pytest.raises(errors.NotFound):
        await kube_b.get(f"/api/v1/namespaces/{target}")
    table = kubectl_a("get", "restore", restore, "-n", CONTROLLER_NS).splitlines()
    header, row = table[0].split(), table[1].split()
    assert row[header.index("DRYRUN")] == "true"
