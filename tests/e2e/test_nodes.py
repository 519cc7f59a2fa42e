"""End to end on real nodes: the controller runs from its own image as a Pod, and restored workloads run.

Clusters a and b each get a kube-scheduler and a node (kubelet, containerd,
runc, CNI bridge, kube-proxy; ``Environment(nodes=True)``). Everything goes
through kubectl, as a user does it:

1. ``kubectl apply -k`` of an overlay of ``artifacts/`` that sets the image
   (built here from the unchanged Dockerfile); the controller Pod passes its
   probes and serves ``/metrics`` through its Service.
2. The demo application in a (Deployment, Service, ConfigMap, StatefulSet)
   is snapshotted by the controller Pod of a.
3. It is restored into b; the restored Deployment and StatefulSet become
   Ready there, and a Pod in b gets the page through the Service.
4. The controller Pod is killed in the middle of a snapshot (S3 is down, so
   the snapshot waits InProgress); the Deployment starts a new Pod, it takes
   the Lease, and the snapshot completes once S3 is back.

Part of the whole ``./scripts/test`` (``K8SSNAP_NODES=0`` leaves it out; with arguments,
``--nodes`` selects it): it needs root, apt and, on a cold machine, about 20 minutes
of builds (see the README).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from k8ssnap.devenv import env, versions
from tests.conftest import Kubectl

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(1800),  # the fixture may build images and imports ~0.5 GB into each node
    pytest.mark.nodes,  # selected by the whole ./scripts/test (needs root); it never skips
]

ROOT = Path(__file__).resolve().parents[2]
NS = "k8s-snap"
STORE = "local"
LEASE = "k8ssnap-controller"


@pytest.fixture(scope="module")
def nodes_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[env.EnvironmentInfo]:
    """Clusters a and b with a node each, and S3, all reachable from Pods.

    ``K8SSNAP_NODES_DIR`` names the folder of an environment started with
    ``python -m k8ssnap.devenv up --nodes`` to reuse (it is left running).
    """
    reuse = os.environ.get("K8SSNAP_NODES_DIR")
    if reuse:
        yield env.load(Path(reuse))
        return
    pinned = {name: versions.KUBERNETES_VERSION for name in ("a", "b")}  # the kubelet's version
    environment = env.Environment(tmp_path_factory.mktemp("nodes"), nodes=True, kubernetes=pinned)
    info = environment.up()
    try:
        yield info
    finally:
        environment.down()


def _kubectl(info: env.EnvironmentInfo, cluster: str) -> Kubectl:
    return Kubectl(info.kubectl, info.clusters[cluster].kubeconfig)


def _overlay(folder: Path, image: str) -> Path:
    """A kustomization over ``artifacts/`` that only sets the image, as a user's overlay does."""
    name, tag = image.rsplit(":", 1)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [os.path.relpath(ROOT / "artifacts", folder)],
                "images": [{"name": "k8ssnap", "newName": name, "newTag": tag}],
            }
        )
    )
    return folder


def _sample(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "artifacts" / name).read_text())
    return doc


def _install(kubectl: Kubectl, info: env.EnvironmentInfo, overlay: Path) -> None:
    kubectl("apply", "-k", str(overlay))
    kubectl(
        "wait", "--for=condition=Established", "-f", str(ROOT / "artifacts" / "crd.yaml"), "--timeout=60s"
    )
    credential = _sample("cloud-credential.yaml")
    credential["stringData"] = {"accesskey": info.s3.access_key, "secretkey": info.s3.secret_key}
    kubectl("apply", "-f", "-", input=json.dumps(credential))
    store = _sample("objectstore-config.yaml")
    store["metadata"]["name"] = STORE
    store["spec"].update(
        {
            "endpoint": info.s3.endpoint,
            "bucket": info.s3.bucket,
            "region": info.s3.region,
            "insecure": True,
            "forcePathStyle": True,
            "cloudCredentialSecret": credential["metadata"]["name"],
        }
    )
    kubectl("apply", "-f", "-", input=json.dumps(store))
    kubectl("apply", "-f", str(ROOT / "artifacts" / "preference.yaml"))


def _controller_pod(kubectl: Kubectl) -> dict[str, Any]:
    pods = json.loads(kubectl("get", "pods", "-n", NS, "-l", "app.kubernetes.io/name=k8ssnap", "-o", "json"))[
        "items"
    ]
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    assert len(live) == 1, [p["metadata"]["name"] for p in pods]
    pod: dict[str, Any] = live[0]
    return pod


def _demo_app(kubectl: Kubectl, ns: str, *, image: str, page: str) -> None:
    labels = {"app": "web"}
    probe = {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 2}
    container = {
        "name": "httpd",
        "image": image,
        "imagePullPolicy": "Never",
        "ports": [{"containerPort": 8080}],
        "readinessProbe": probe,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "readOnlyRootFilesystem": True},
        "volumeMounts": [{"name": "site", "mountPath": "/www"}],
    }
    volumes = [{"name": "site", "configMap": {"name": "site"}}]
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "site", "namespace": ns},
            "data": {"index.html": page},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": ns},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [container], "volumes": volumes},
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": ns},
            "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "db", "namespace": ns},
            "spec": {"clusterIP": "None", "selector": {"app": "db"}, "ports": [{"port": 8080}]},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": ns},
            "spec": {
                "serviceName": "db",
                "replicas": 1,
                "selector": {"matchLabels": {"app": "db"}},
                "template": {
                    "metadata": {"labels": {"app": "db"}},
                    "spec": {"containers": [container], "volumes": volumes},
                },
            },
        },
    ]
    kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))


def _ready(kubectl: Kubectl, ns: str) -> None:
    kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=180s")
    kubectl("rollout", "status", "statefulset/db", "-n", ns, "--timeout=180s")


def _wait_phase(kubectl: Kubectl, kind: str, name: str, phase: str, timeout: int = 240) -> dict[str, Any]:
    kubectl("wait", f"{kind}/{name}", "-n", NS, f"--for=jsonpath={{.status.phase}}={phase}",
            f"--timeout={timeout}s", check=False)  # fmt: skip
    obj: dict[str, Any] = json.loads(kubectl("get", f"{kind}/{name}", "-n", NS, "-o", "json"))
    assert obj.get("status", {}).get("phase") == phase, obj.get("status")
    return obj


def _snapshot(kubectl: Kubectl, name: str) -> None:
    snapshot = _sample("snapshot.yaml")
    snapshot["metadata"]["name"] = name
    snapshot["spec"].pop("kubeconfig")  # the controller's own cluster
    snapshot["spec"].update({"clusterName": "cluster-a", "objectstoreConfig": STORE})
    kubectl("create", "-f", "-", input=json.dumps(snapshot))


def _token_kubeconfig(info: env.EnvironmentInfo, cluster: str) -> str:
    target = info.clusters[cluster]
    ca = base64.b64encode(target.ca_cert.read_bytes()).decode()
    server = {"server": target.server, "certificate-authority-data": ca}
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": cluster,
        "clusters": [{"name": cluster, "cluster": server}],
        "users": [{"name": "admin", "user": {"token": target.token}}],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": "admin"}}],
    })  # fmt: skip


def _http_get_in_pod(kubectl: Kubectl, *, image: str, host: str, port: int = 80) -> str:
    """The HTTP response to ``GET /`` from ``host:port``, sent by a fresh Pod of the cluster.

    busybox's ``nc`` (Debian's static busybox ``wget`` crashes), run to completion.
    """
    name = f"client-{secrets.token_hex(3)}"
    request = f"busybox printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 5 {host} {port}"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{
                "name": "client", "image": image, "imagePullPolicy": "Never",
                "command": ["/bin/sh", "-c", request],
            }],
        },
    }  # fmt: skip
    kubectl("create", "-f", "-", input=json.dumps(pod))
    kubectl("wait", f"pod/{name}", "-n", "default", "--for=jsonpath={.status.phase}=Succeeded",
            "--timeout=120s", check=False)  # fmt: skip
    logs = kubectl("logs", name, "-n", "default", check=False)
    phase = kubectl("get", f"pod/{name}", "-n", "default", "-o", "jsonpath={.status.phase}")
    assert phase == "Succeeded", f"GET http://{host}:{port}/ from a Pod: {phase}: {logs}"
    return logs


def test_controller_pod_snapshots_a_and_restored_workloads_run_in_b(
    nodes_env: env.EnvironmentInfo, tmp_path: Path
) -> None:
    info = nodes_env
    kubectl_a, kubectl_b = _kubectl(info, "a"), _kubectl(info, "b")
    overlay = _overlay(tmp_path / "overlay", info.images["controller"])
    _install(kubectl_a, info, overlay)

    # 1. the controller runs as a Pod from its own image, passes its probes, serves /metrics
    kubectl_a("rollout", "status", "deployment/k8ssnap-controller", "-n", NS, "--timeout=300s")
    pod = _controller_pod(kubectl_a)
    assert pod["spec"]["containers"][0]["image"] == info.images["controller"]
    status = pod["status"]["containerStatuses"][0]
    assert status["ready"] and status["restartCount"] == 0, status
    metrics = kubectl_a(
        "get", "--raw", f"/api/v1/namespaces/{NS}/services/k8ssnap-controller-metrics:metrics/proxy/metrics"
    )
    assert "workqueue_adds_total" in metrics

    # 2. the demo application in a, snapshotted by the controller Pod
    app_ns = f"demo-{secrets.token_hex(3)}"
    page = f"hello from {app_ns}\n"
    demo = info.images["demo"]
    _demo_app(kubectl_a, app_ns, image=demo, page=page)
    _ready(kubectl_a, app_ns)
    snap = f"cluster-a-{secrets.token_hex(3)}"
    _snapshot(kubectl_a, snap)
    _wait_phase(kubectl_a, "snapshot", snap, "Completed")

    # 3. restored into b: the workloads run there and the app answers through its Service
    restore = _sample("restore.yaml")
    restore["metadata"]["name"] = f"{app_ns}-to-b"
    restore["spec"].update(
        {"backupName": snap, "clusterName": "cluster-b", "kubeconfig": _token_kubeconfig(info, "b")}
    )
    kubectl_a("create", "-f", "-", input=json.dumps(restore))
    done = _wait_phase(kubectl_a, "restore", f"{app_ns}-to-b", "Completed")
    assert done["status"]["numFailed"] == 0, done["status"].get("failed")
    _ready(kubectl_b, app_ns)
    cluster_ip = kubectl_b("get", "service/web", "-n", app_ns, "-o", "jsonpath={.spec.clusterIP}")
    response = _http_get_in_pod(kubectl_b, image=demo, host=cluster_ip)
    # kubectl's text output: the CRLFs of the response arrive as newlines
    assert response.startswith("HTTP/1.1 200 OK") and response.endswith("\n\n" + page), response


def test_a_killed_controller_pod_is_replaced_and_the_snapshot_completes(
    nodes_env: env.EnvironmentInfo,
) -> None:
    info = nodes_env
    kubectl_a = _kubectl(info, "a")
    environment = env.Environment(info.folder)
    kubectl_a("rollout", "status", "deployment/k8ssnap-controller", "-n", NS, "--timeout=300s")
    old = _controller_pod(kubectl_a)["metadata"]["name"]
    snap = f"killed-{secrets.token_hex(3)}"
    environment.stop_service("s3")  # the snapshot cannot finish: it stays InProgress, retrying
    try:
        _snapshot(kubectl_a, snap)
        _wait_phase(kubectl_a, "snapshot", snap, "InProgress", timeout=120)
        kubectl_a("delete", "pod", old, "-n", NS, "--grace-period=0", "--force")
    finally:
        environment.start_service("s3")
    kubectl_a("rollout", "status", "deployment/k8ssnap-controller", "-n", NS, "--timeout=300s")
    new = _controller_pod(kubectl_a)["metadata"]["name"]
    assert new != old
    deadline = time.monotonic() + 120
    holder = ""
    while time.monotonic() < deadline:
        holder = kubectl_a("get", "lease", LEASE, "-n", NS, "-o", "jsonpath={.spec.holderIdentity}")
        if holder.startswith(new):
            break
        kubectl_a("wait", f"pod/{new}", "-n", NS, "--for=condition=Ready", "--timeout=5s", check=False)
    assert holder.startswith(new), f"the Lease is held by {holder!r}, not the new Pod {new}"
    _wait_phase(kubectl_a, "snapshot", snap, "Completed")
