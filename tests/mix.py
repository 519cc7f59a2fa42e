"""A realistic mix of objects for snapshot and restore tests, in one namespace.

A CRD (with a group unique to the namespace, so tests never collide) and
custom resources, ConfigMaps, Secrets, a Deployment, a StatefulSet,
Services (with a selector, selectorless with hand-made Endpoints, headless,
NodePort with an explicit port), RBAC bound to a ServiceAccount of the
namespace, and a PV bound to a PVC.
"""

from __future__ import annotations

import base64
from typing import Any

from k8ssnap.kube.client import KubeClient
from tests.waiting import eventually


def crd_group(namespace: str) -> str:
    return f"{namespace}.k8ssnap.test"


def crd(namespace: str) -> dict[str, Any]:
    group = crd_group(namespace)
    schema = {
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}},
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {
                "plural": "widgets",
                "singular": "widget",
                "kind": "Widget",
                "listKind": "WidgetList",
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


def _labels(app: str) -> dict[str, Any]:
    return {"selector": {"matchLabels": {"app": app}}, "template": _pod(app)}


def _pod(app: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": app}},
        "spec": {"containers": [{"name": app, "image": "registry.k8s.io/pause:3.10"}]},
    }


def namespaced_objects(ns: str) -> list[tuple[str, dict[str, Any]]]:
    """(collection path, object) pairs, in creation order."""
    core, apps, rbac = (
        f"/api/v1/namespaces/{ns}",
        f"/apis/apps/v1/namespaces/{ns}",
        "rbac.authorization.k8s.io",
    )
    objs: list[tuple[str, dict[str, Any]]] = []
    for i in range(3):
        objs.append((f"{core}/configmaps", {"metadata": {"name": f"config-{i}"}, "data": {"n": str(i)}}))
        secret = {
            "metadata": {"name": f"secret-{i}"},
            "data": {"password": base64.b64encode(b"s3cret").decode()},
        }
        objs.append((f"{core}/secrets", secret))
    objs.append((f"{core}/serviceaccounts", {"metadata": {"name": "app"}}))
    objs.append(
        (
            f"/apis/{rbac}/v1/namespaces/{ns}/roles",
            {
                "metadata": {"name": "reader"},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
            },
        )
    )
    objs.append(
        (
            f"/apis/{rbac}/v1/namespaces/{ns}/rolebindings",
            {
                "metadata": {"name": "reader"},
                "roleRef": {"apiGroup": rbac, "kind": "Role", "name": "reader"},
                "subjects": [{"kind": "ServiceAccount", "name": "app", "namespace": ns}],
            },
        )
    )
    objs.append(
        (
            f"{apps}/deployments",
            {"metadata": {"name": "web"}, "spec": {"replicas": 1, **_labels("web")}},
        )
    )
    objs.append(
        (
            f"{apps}/statefulsets",
            {
                "metadata": {"name": "db"},
                "spec": {"replicas": 1, "serviceName": "db", **_labels("db")},
            },
        )
    )
    port = {"port": 80, "targetPort": 8080}
    objs.append(
        (
            f"{core}/services",
            {"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [port]}},
        )
    )
    objs.append(
        (
            f"{core}/services",
            {
                "metadata": {"name": "db"},
                "spec": {"clusterIP": "None", "selector": {"app": "db"}, "ports": [port]},
            },
        )
    )
    objs.append((f"{core}/services", {"metadata": {"name": "external"}, "spec": {"ports": [port]}}))
    objs.append(
        (
            f"{core}/endpoints",
            {
                "metadata": {"name": "external"},
                "subsets": [{"addresses": [{"ip": "192.0.2.10"}], "ports": [{"port": 8080}]}],
            },
        )
    )
    objs.append(
        (
            f"{core}/persistentvolumeclaims",
            {
                "metadata": {"name": "data"},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": f"nfs-{ns}",
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            },
        )
    )
    return objs


def cluster_objects(ns: str) -> list[tuple[str, dict[str, Any]]]:
    rbac = "rbac.authorization.k8s.io"
    return [
        (
            "/apis/storage.k8s.io/v1/storageclasses",
            {
                "metadata": {"name": f"nfs-{ns}"},
                "provisioner": "example.com/nfs",
                "volumeBindingMode": "Immediate",
            },
        ),
        (
            "/api/v1/persistentvolumes",
            {
                "metadata": {"name": f"pv-{ns}"},
                "spec": {
                    "capacity": {"storage": "1Gi"},
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": f"nfs-{ns}",
                    "persistentVolumeReclaimPolicy": "Retain",
                    "nfs": {"server": "192.0.2.20", "path": f"/exports/{ns}"},
                },
            },
        ),
        (
            f"/apis/{rbac}/v1/clusterroles",
            {
                "metadata": {"name": f"{ns}-viewer"},
                "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}],
            },
        ),
        (
            f"/apis/{rbac}/v1/clusterrolebindings",
            {
                "metadata": {"name": f"{ns}-viewer"},
                "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": f"{ns}-viewer"},
                "subjects": [{"kind": "ServiceAccount", "name": "app", "namespace": ns}],
            },
        ),
    ]


async def create_mix(kube: KubeClient, ns: str, *, widgets: int = 3) -> None:
    """Create the whole mix in namespace ``ns`` (which must exist) and wait for it to settle."""
    await kube.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd(ns))
    group = crd_group(ns)

    async def established() -> bool:
        got = await kube.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.{group}")
        return any(
            c["type"] == "Established" and c["status"] == "True"
            for c in got.get("status", {}).get("conditions", [])
        )

    await eventually(established, what="CRD established")
    for collection, obj in cluster_objects(ns) + namespaced_objects(ns):
        await kube.create(collection, obj)
    for i in range(widgets):
        await eventually(
            lambda i=i: kube.create(
                f"/apis/{group}/v1/namespaces/{ns}/widgets",
                {
                    "apiVersion": f"{group}/v1",
                    "kind": "Widget",
                    "metadata": {"name": f"w{i}"},
                    "spec": {"size": i},
                },
            ),
            what="custom resource created",
        )

    async def bound() -> bool:
        pvc = await kube.get(f"/api/v1/namespaces/{ns}/persistentvolumeclaims/data")
        return pvc.get("status", {}).get("phase") == "Bound"

    await eventually(bound, timeout=90, what="PVC bound to the PV")


async def delete_cluster_objects(kube: KubeClient, ns: str) -> None:
    """Remove the cluster-scoped part of the mix (namespaced objects go with the namespace)."""
    for collection, obj in cluster_objects(ns):
        await kube.delete(f"{collection}/{obj['metadata']['name']}")
    await kube.delete(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.{crd_group(ns)}")
