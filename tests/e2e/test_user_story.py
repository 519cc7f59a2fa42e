"""End to end, as a user does it, with kubectl only, on cluster b.

Install with ``kubectl apply -k artifacts/`` (and ``artifacts/restore-rbac/`` just
before restoring into the same cluster); run the controller as its own
ServiceAccount (a kubeconfig built from that account's token, so missing
RBAC fails this test); create the sample CRs with kubectl; lose a namespace;
restore it; check ``kubectl get`` columns, ``kubectl describe`` events and
``/metrics``. Cluster b has no other controller, so the sample namespace
``k8s-snap`` is free there.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest
import yaml

from k8ssnap.devenv import env
from k8ssnap.devenv.accounts import service_account_kubeconfig
from tests.conftest import Kubectl, s3_settings
from tests.controllerproc import ControllerProcess
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
NS = "k8s-snap"


def _sample(name: str) -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all((ROOT / "artifacts" / name).read_text()) if d]
    assert len(docs) == 1
    doc: dict[str, Any] = docs[0]
    return doc


def _application(kubectl: Kubectl, app_ns: str) -> None:
    kubectl("create", "namespace", app_ns)
    kubectl("create", "configmap", "settings", "-n", app_ns, "--from-literal=color=blue")
    kubectl("create", "secret", "generic", "db", "-n", app_ns, "--from-literal=password=hunter2")
    kubectl("create", "deployment", "web", "-n", app_ns, "--image=nginx:1.27", "--replicas=2")
    kubectl("expose", "deployment", "web", "-n", app_ns, "--port=80")
    kubectl("create", "serviceaccount", "worker", "-n", app_ns)
    kubectl(
        "create",
        "rolebinding",
        "worker-view",
        "-n",
        app_ns,
        "--clusterrole=view",
        f"--serviceaccount={app_ns}:worker",
    )


def _can_i(kubectl: Kubectl, verb: str, what: str, *args: str) -> str:
    return kubectl("auth", "can-i", verb, what, *args, check=False).strip().splitlines()[0]


def _wait(kubectl: Kubectl, kind: str, name: str, phase: str) -> None:
    kubectl("wait", f"{kind}/{name}", "-n", NS, f"--for=jsonpath={{.status.phase}}={phase}", "--timeout=180s")


async def test_a_user_installs_snapshots_loses_a_namespace_and_restores_it(
    devenv: env.EnvironmentInfo, kubectl_b: Kubectl, tmp_path: Path
) -> None:
    kubectl_b("apply", "-k", str(ROOT / "artifacts"))
    kubectl_b(
        "wait", "--for=condition=Established", "-f", str(ROOT / "artifacts" / "crd.yaml"), "--timeout=60s"
    )
    # the default install reads everything and writes only k8ssnap's own resources
    account = f"--as=system:serviceaccount:{NS}:k8ssnap-controller"
    for verb, what in (("create", "configmaps"), ("update", "deployments.apps"), ("bind", "clusterroles")):
        assert _can_i(kubectl_b, verb, what, account) == "no", (verb, what)
    assert _can_i(kubectl_b, "list", "secrets", account) == "yes"
    assert _can_i(kubectl_b, "patch", "snapshots.clustersnapshot.rywt.io", account, "-n", NS) == "yes"
    # the user edits the sample credential and store for their bucket
    settings = s3_settings(devenv)
    credential = _sample("cloud-credential.yaml")
    credential.pop("data", None)
    credential["stringData"] = {"accesskey": settings.access_key, "secretkey": settings.secret_key}
    kubectl_b("apply", "-f", "-", input=json.dumps(credential))
    store = _sample("objectstore-config.yaml")
    store["spec"].update(
        {"endpoint": settings.endpoint, "bucket": settings.bucket, "region": settings.region}
    )
    store["spec"].update({"insecure": True, "forcePathStyle": True})
    kubectl_b("apply", "-f", "-", input=json.dumps(store))
    kubectl_b("apply", "-f", str(ROOT / "artifacts" / "preference.yaml"))

    controller = ControllerProcess(
        kubeconfig=service_account_kubeconfig(
            devenv, cluster="b", namespace=NS, account="k8ssnap-controller", path=tmp_path / "sa.kubeconfig"
        ),
        namespace=NS,
        log=devenv.folder / "e2e-controller.log",
    )
    controller.start()
    try:
        app_ns = f"shop-{secrets.token_hex(3)}"
        _application(kubectl_b, app_ns)
        snapshot = _sample("snapshot.yaml")
        snap_name = f"cluster-b-{secrets.token_hex(3)}"
        snapshot["metadata"]["name"] = snap_name
        snapshot["spec"].pop("kubeconfig")  # its own cluster, with the ServiceAccount's rights
        snapshot["spec"]["objectstoreConfig"] = store["metadata"]["name"]
        snapshot["spec"]["clusterName"] = "cluster-b"
        kubectl_b("create", "-f", "-", input=json.dumps(snapshot))
        _wait(kubectl_b, "snapshot", snap_name, "Completed")

        table = kubectl_b("get", "snapshots", "-n", NS).splitlines()
        assert table[0].split() == ["NAME", "CLUSTERNAME", "BACKUPDATE", "STATUS"]
        assert any(
            line.split()[:2] == [snap_name, "cluster-b"] and line.split()[-1] == "Completed" for line in table
        )
        described = kubectl_b("describe", "snapshot", snap_name, "-n", NS)
        for reason in ("InQueue", "InProgress", "Completed"):
            assert reason in described

        kubectl_b("delete", "namespace", app_ns, "--timeout=120s")  # the accident
        assert "NotFound" in kubectl_b("get", "namespace", app_ns, check=False)

        # restoring into its own cluster needs the separate restore rights, bound for the occasion
        kubectl_b("apply", "-k", str(ROOT / "artifacts" / "restore-rbac"))
        assert _can_i(kubectl_b, "create", "configmaps", account) == "yes"
        restore = _sample("restore.yaml")
        restore_name = f"{app_ns}-back"
        restore["metadata"]["name"] = restore_name
        restore["spec"].pop("kubeconfig")
        restore["spec"]["backupName"] = snap_name
        restore["spec"]["clusterName"] = "cluster-b"
        kubectl_b("create", "-f", "-", input=json.dumps(restore))
        _wait(kubectl_b, "restore", restore_name, "Completed")

        assert (
            kubectl_b("get", "configmap", "settings", "-n", app_ns, "-o", "jsonpath={.data.color}") == "blue"
        )
        kubectl_b("get", "deployment/web", "service/web", "secret/db", "serviceaccount/worker", "-n", app_ns)
        kubectl_b("get", "rolebinding/worker-view", "-n", app_ns)
        status = json.loads(kubectl_b("get", "restore", restore_name, "-n", NS, "-o", "json"))["status"]
        assert f"/api/v1/namespaces/{app_ns}" in status["created"]
        assert status["numFailed"] == 0, status["failed"]
        assert status["numAlreadyExisted"] > 0  # the rest of the cluster was still there
        header = kubectl_b("get", "restores", "-n", NS).splitlines()[0].split()
        columns = "NAME CLUSTER SNAPSHOT TIMESTAMP RV EXCLUDED CREATED UPDATED EXIST FAILED STATUS"
        assert header == [*columns.split(), "DRYRUN"]  # k8s-snap's columns, then k8ssnap's own
        assert "Completed" in kubectl_b("describe", "restore", restore_name, "-n", NS)

        metrics = controller.metrics()
        assert 'k8ssnap_snapshots_total{result="completed"} 1' in metrics
        assert 'k8ssnap_restores_total{result="completed"} 1' in metrics
        assert (
            "workqueue_adds_total" in metrics and "k8ssnap_snapshot_last_success_timestamp_seconds" in metrics
        )

        async def new_objects_seen() -> bool:
            return "workqueue_depth" in controller.metrics()

        await eventually(new_objects_seen, what="queue metrics")
    finally:
        controller.stop()
