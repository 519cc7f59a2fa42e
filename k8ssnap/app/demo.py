"""The main job on the local environment: snapshot cluster a, restore it into cluster b.

``./scripts/demo`` runs this. It brings up (or reuses) the local
environment in ``.devenv``, installs the CRDs, credentials, an
ObjectstoreConfig and a RestorePreference into cluster a with kubectl,
creates a small application in namespace ``demo``, starts the controller,
and then does what a user does: ``kubectl create -f`` a Snapshot of
cluster a, waits for it, ``kubectl create -f`` a Restore carrying cluster
b's kubeconfig, waits for it, and prints ``kubectl get snapshots,restores``
and what arrived in cluster b. The archive is encrypted with age
(docs/encryption.md): the ObjectstoreConfig names a Secret of recipients,
and the Restore a Secret holding the identity, made by ``k8ssnap keygen``'s
code for the demo. Then it creates a SnapshotSchedule (``@every 5s``, keep 2),
lets it run four times, suspends it and prints ``kubectl get
snapshotschedules,snapshots``: unattended snapshots, the oldest pruned. The
environment stays up afterwards; ``python -m k8ssnap.devenv down`` stops it.

``--nodes`` (root) gives each cluster a scheduler and a node: the controller
then runs as a Pod from its own image (installed with ``kubectl apply -k`` of
an overlay that sets the image), the application runs the demo image, and
the restored Deployment is shown Ready in cluster b.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from k8ssnap.devenv import env, process
from k8ssnap.devenv.accounts import service_account_kubeconfig
from k8ssnap.devenv.controller import ControllerProcess
from k8ssnap.store import age

NS = "k8s-snap"
ROOT = Path(__file__).resolve().parents[2]


class _Kubectl:
    def __init__(self, info: env.EnvironmentInfo, cluster: str) -> None:
        self.argv = [str(info.kubectl), "--kubeconfig", str(info.clusters[cluster].kubeconfig)]

    def __call__(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        proc = subprocess.run([*self.argv, *args], input=stdin, capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            raise SystemExit(f"kubectl {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc.stdout

    def apply(self, obj: dict[str, Any]) -> None:
        self("apply", "-f", "-", stdin=json.dumps(obj))


def _say(text: str) -> None:
    print(f"\n== {text}", flush=True)


def _environment(folder: Path, *, nodes: bool) -> env.EnvironmentInfo:
    try:
        info = env.load(folder)
        if info.nodes == nodes and all(process.alive(r.pgid) for r in info.services.values()):
            return info
    except FileNotFoundError:
        pass
    return env.Environment(folder, nodes=nodes).up()


def _kustomization(info: env.EnvironmentInfo) -> Path:
    """``artifacts/`` itself, or with nodes an overlay of it that sets the image built here."""
    if not info.nodes:
        return ROOT / "artifacts"
    overlay = info.folder / "overlay"
    overlay.mkdir(exist_ok=True)
    name, tag = info.images["controller"].rsplit(":", 1)
    (overlay / "kustomization.yaml").write_text(json.dumps({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": [os.path.relpath(ROOT / "artifacts", overlay)],
        "images": [{"name": "k8ssnap", "newName": name, "newTag": tag}],
    }))  # fmt: skip
    return overlay


def _install(a: _Kubectl, info: env.EnvironmentInfo) -> None:
    a("apply", "-k", str(_kustomization(info)))  # CRDs, namespace, RBAC, credential, Deployment
    a("wait", "--for=condition=Established", "-f", str(ROOT / "artifacts" / "crd.yaml"), "--timeout=60s")
    a.apply({  # the sample credential, filled in for the local S3
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "demo-s3", "namespace": NS},
        "stringData": {"accesskey": info.s3.access_key, "secretkey": info.s3.secret_key},
    })  # fmt: skip
    identity, recipient = age.generate()  # a real setup keeps the identity out of this cluster
    for name, key, text in (("demo-age-recipients", "recipients", recipient),
                            ("demo-age-identity", "identity", identity)):  # fmt: skip
        a.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": NS},
                 "stringData": {key: text + "\n"}})  # fmt: skip
    a.apply({
        "apiVersion": "clustersnapshot.rywt.io/v1alpha1", "kind": "ObjectstoreConfig",
        "metadata": {"name": "demo", "namespace": NS},
        "spec": {"region": info.s3.region, "endpoint": info.s3.endpoint, "bucket": info.s3.bucket,
                 "cloudCredentialSecret": "demo-s3", "insecure": True, "forcePathStyle": True,
                 "encryption": {"recipientsSecret": {"name": "demo-age-recipients"}}},
    })  # fmt: skip
    a.apply({
        "apiVersion": "clustersnapshot.rywt.io/v1alpha1", "kind": "RestorePreference",
        "metadata": {"name": "demo-only", "namespace": NS},
        "spec": {"includeNamespaces": ["demo"]},
    })  # fmt: skip


def _application(a: _Kubectl, *, image: str | None) -> None:
    a.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}})
    a.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "demo"},
             "data": {"greeting": "hello from cluster a"}})  # fmt: skip
    a.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-password", "namespace": "demo"},
             "stringData": {"password": "demo-only"}})  # fmt: skip
    labels = {"app": "web"}
    a.apply({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "demo"},
        "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [_web_container(image)]}}},
    })  # fmt: skip
    a.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "demo"},
             "spec": {"selector": labels, "ports": [{"port": 80}]}})  # fmt: skip


def _web_container(image: str | None) -> dict[str, Any]:
    if image is None:  # no nodes: the Pods stay Pending, the image is never pulled
        return {"name": "web", "image": "nginx:1.27"}
    return {"name": "web", "image": image, "imagePullPolicy": "Never",
            "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 2}}  # fmt: skip


def _controller_pod(a: _Kubectl) -> None:
    a("rollout", "status", "deployment/k8ssnap-controller", "-n", NS, "--timeout=300s")
    print(a("get", "pods", "-n", NS, "-o", "wide"))
    service = f"/api/v1/namespaces/{NS}/services/k8ssnap-controller-metrics:metrics/proxy"
    metrics = a("get", "--raw", f"{service}/metrics")
    print(f"/metrics through its Service: {len(metrics.splitlines())} lines")


def _controller(info: env.EnvironmentInfo) -> ControllerProcess:
    """The controller, out of cluster but as its ServiceAccount: the RBAC in artifacts/ is what it has."""
    kubeconfig = service_account_kubeconfig(
        info,
        cluster="a",
        namespace=NS,
        account="k8ssnap-controller",
        path=info.folder / "controller.kubeconfig",
    )
    controller = ControllerProcess(kubeconfig=kubeconfig, namespace=NS, log=info.folder / "controller.log")
    try:
        controller.start()
    except RuntimeError:
        raise SystemExit(f"the controller did not start; see {controller.log}") from None
    print(f"controller running (pid {controller.pid}); metrics at {controller.metrics_url}/metrics")
    return controller


def _wait(a: _Kubectl, kind: str, name: str) -> None:
    for _ in range(600):
        phase = a("get", kind, name, "-n", NS, "-o", "jsonpath={.status.phase}")
        if phase in ("Completed", "Failed"):
            print(f"{kind}/{name}: {phase}")
            if phase == "Failed":
                print(a("get", kind, name, "-n", NS, "-o", "jsonpath={.status.reason}"))
            return
        time.sleep(0.5)
    raise SystemExit(f"{kind}/{name} did not finish")


def _schedule(a: _Kubectl, name: str) -> None:
    """A SnapshotSchedule of cluster a every 5 s keeping 2; four runs, then suspended.

    The template names no kubeconfig: the controller snapshots its own cluster (a) with
    the read-all grant of artifacts/namespace-rbac.yaml.
    """
    a("create", "-f", "-", stdin=json.dumps({
        "apiVersion": "clustersnapshot.rywt.io/v1alpha1", "kind": "SnapshotSchedule",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"schedule": "@every 5s", "keep": 2,
                 "template": {"clusterName": "cluster-a", "objectstoreConfig": "demo", "ttl": "1h"}},
    }))  # fmt: skip
    runs: set[str] = set()
    for _ in range(240):
        last = a("get", "snapshotschedule", name, "-n", NS, "-o", "jsonpath={.status.lastSnapshot}")
        status = a("get", "snapshotschedule", name, "-n", NS, "-o", "jsonpath={.status.lastStatus}")
        if last and last not in runs:
            runs.add(last)
            print(f"run {len(runs)}: snapshot/{last}")
        if len(runs) >= 4 and status in ("Completed", "Failed"):
            break
        time.sleep(0.5)
    a("patch", "snapshotschedule", name, "-n", NS, "--type=merge", "-p", '{"spec": {"suspend": true}}')


def run(folder: Path, *, nodes: bool = False) -> int:
    """The whole story; returns the exit code."""
    _say("local environment: clusters a and b, S3" + (", a node in each" if nodes else ""))
    info = _environment(folder, nodes=nodes)
    a, b = _Kubectl(info, "a"), _Kubectl(info, "b")
    _say("kubectl apply -k artifacts/ on cluster a, an age-encrypting ObjectstoreConfig, a preference")
    _install(a, info)
    _say("an application in namespace demo of cluster a")
    _application(a, image=info.images.get("demo"))
    controller: ControllerProcess | None = None
    if nodes:
        _say(f"the controller runs as a Pod of cluster a, from the image {info.images['controller']}")
        _controller_pod(a)
    else:
        _say("start the controller as its ServiceAccount (out of cluster: the local clusters run no pods)")
        controller = _controller(info)
    try:
        suffix = secrets.token_hex(3)
        snap, restore = f"cluster-a-{suffix}", f"cluster-b-from-a-{suffix}"
        _say(f"kubectl create -f snapshot.yaml  ({snap})")
        a("create", "-f", "-", stdin=json.dumps({
            "apiVersion": "clustersnapshot.rywt.io/v1alpha1", "kind": "Snapshot",
            "metadata": {"name": snap, "namespace": NS},
            "spec": {"clusterName": "cluster-a", "objectstoreConfig": "demo", "ttl": "720h",
                     "kubeconfig": info.clusters["a"].kubeconfig.read_text()},
        }))  # fmt: skip
        _wait(a, "snapshot", snap)
        print(f"stored as s3://{info.s3.bucket}/{snap}.tgz.age (age; the record beside it is plain)")
        _say(f"kubectl create -f restore.yaml  ({restore}: into cluster b, b's kubeconfig, the identity)")
        a("create", "-f", "-", stdin=json.dumps({
            "apiVersion": "clustersnapshot.rywt.io/v1alpha1", "kind": "Restore",
            "metadata": {"name": restore, "namespace": NS},
            "spec": {"clusterName": "cluster-b", "backupName": snap, "restorePreferenceName": "demo-only",
                     "kubeconfig": info.clusters["b"].kubeconfig.read_text(),
                     "encryption": {"identitySecret": {"name": "demo-age-identity"}}},
        }))  # fmt: skip
        _wait(a, "restore", restore)
        _say("kubectl get snapshots,restores -n k8s-snap  (cluster a)")
        print(a("get", "snapshots,restores", "-n", NS))
        _say("what arrived in cluster b: kubectl get all,configmaps,secrets -n demo")
        print(b("get", "deployments,services,configmaps,secrets", "-n", "demo"))
        print(b("get", "configmap", "settings", "-n", "demo", "-o", "jsonpath={.data.greeting}"))
        if nodes:
            _say("the restored Deployment runs in cluster b")
            b("rollout", "status", "deployment/web", "-n", "demo", "--timeout=180s")
            print(b("get", "pods", "-n", "demo", "-o", "wide"))
        schedule = f"cluster-a-every-5s-{suffix}"
        _say(f"kubectl create -f schedule.yaml  ({schedule}: @every 5s, keep 2; four runs, then suspended)")
        _schedule(a, schedule)
        _say("kubectl get snapshotschedules,snapshots -n k8s-snap  (keep 2: the older runs were pruned)")
        print(a("get", "snapshotschedules,snapshots", "-n", NS))
    finally:
        if controller is not None:
            controller.stop()
    _say("done; the environment is still up")
    print(f"stop it with: .venv/bin/python -m k8ssnap.devenv down --dir {folder}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="k8ssnap-demo", description=__doc__)
    parser.add_argument("--dir", type=Path, default=Path(".devenv"))
    parser.add_argument(
        "--nodes", action="store_true", help="run the controller as a Pod on real nodes (root)"
    )
    args = parser.parse_args(argv)
    return run(args.dir.resolve(), nodes=args.nodes)


if __name__ == "__main__":
    sys.exit(main())
