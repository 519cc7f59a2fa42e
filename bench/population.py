"""The benchmark's population: what cluster a holds, generated lazily and deterministically.

``Population(objects=N)`` is ``ceil(N / 100)`` namespaces, each holding the
namespace itself and 99 objects (see :class:`Mix`): ConfigMaps with about
2 KB of configuration text, Secrets with about 2 KB of random key material,
Services with a selector, Deployments with a full pod template, and
``Widget`` custom resources of one CRD (``widgets.bench.k8ssnap.io``), plus
that CRD. Deployments have ``replicas: 0``: the controller manager makes
one ReplicaSet for each (and no pods), and the endpoints controllers one
Endpoints and one EndpointSlice per Service; the API server records each
Service's ClusterIP as an IPAddress object, and each namespace gets a
``default`` ServiceAccount and a ``kube-root-ca.crt`` ConfigMap. So the
cluster holds about 1.43 x N objects once it has settled; the snapshot
reads them all, and the restore creates the generated ones again (most
others are excluded as owned or system-managed, or already exist).

Bodies are serialised once per object as JSON bytes. The same bytes are
created in cluster a by the filler and in cluster b by the create floor.
Nothing is kept in memory: :meth:`Population.namespaced_items` is a generator.
"""

from __future__ import annotations

import base64
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

CRD_GROUP = "bench.k8ssnap.io"
CRD_PLURAL = "widgets"
CRD_NAME = f"{CRD_PLURAL}.{CRD_GROUP}"
CRD_COLLECTION = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
NAMESPACES = "/api/v1/namespaces"
NAMESPACE_PREFIX = "bench-"

_WORDS = (
    "alpha", "bravo", "cache", "delta", "edge", "frontend", "gateway", "http", "index", "json",
    "kafka", "ledger", "metrics", "node", "order", "payment", "queue", "redis", "search", "timeout",
    "user", "vault", "worker", "xml", "yield", "zone", "retry", "pool", "shard", "replica",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Mix:
    """Objects per namespace, besides the namespace itself (99 by default)."""

    configmaps: int = 30
    secrets: int = 25
    services: int = 10
    deployments: int = 10
    widgets: int = 24

    @property
    def per_namespace(self) -> int:
        """Objects per namespace, the namespace included."""
        return 1 + self.configmaps + self.secrets + self.services + self.deployments + self.widgets


@dataclass(frozen=True, slots=True)
class Item:
    """One object to create: its collection path, kind and JSON body."""

    collection: str
    kind: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Population:
    """``objects`` is the scale N; the population is N rounded up to whole namespaces, plus the CRD."""

    objects: int
    mix: Mix = Mix()

    @property
    def namespaces(self) -> int:
        return max(1, math.ceil(self.objects / self.mix.per_namespace))

    @property
    def total(self) -> int:
        """Objects created: every namespace and its contents, and the CRD."""
        return self.namespaces * self.mix.per_namespace + 1

    def namespace_names(self) -> list[str]:
        return [f"{NAMESPACE_PREFIX}{index:05d}" for index in range(self.namespaces)]

    def namespace_items(self) -> list[Item]:
        """Tier 1: the namespaces."""
        return [
            _item(NAMESPACES, "Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(name)})
            for name in self.namespace_names()
        ]

    def crd_item(self) -> Item:
        """Tier 2: the CRD of the custom resources."""
        return _item(CRD_COLLECTION, "CustomResourceDefinition", crd())

    def namespaced_items(self) -> Iterator[Item]:
        """Everything inside the namespaces, kind by kind in the restore's tier order.

        ConfigMaps and Secrets (tier 4), Services and Widgets (tier 5), then
        Deployments (tier 6), each across all namespaces: the order in which
        a k8ssnap restore creates them, so that the follow-on work of the
        controller manager (ReplicaSets for Deployments, Endpoints and
        EndpointSlices for Services) falls at the same point of both runs.
        """
        for kind in _KINDS:
            for name in self.namespace_names():
                yield from _contents(name, kind, self.mix)

    def counts(self) -> dict[str, int]:
        """Created objects per kind."""
        n, m = self.namespaces, self.mix
        return {
            "Namespace": n,
            "CustomResourceDefinition": 1,
            "ConfigMap": n * m.configmaps,
            "Secret": n * m.secrets,
            "Service": n * m.services,
            "Deployment": n * m.deployments,
            "Widget": n * m.widgets,
        }


def crd() -> dict[str, Any]:
    spec_schema = {
        "type": "object",
        "properties": {
            "size": {"type": "integer"},
            "color": {"type": "string"},
            "owner": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "settings": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD_NAME},
        "spec": {
            "group": CRD_GROUP,
            "scope": "Namespaced",
            "names": {"plural": CRD_PLURAL, "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": spec_schema}}},
                }
            ],
        },
    }


def _item(collection: str, kind: str, obj: dict[str, Any]) -> Item:
    return Item(collection=collection, kind=kind, body=orjson.dumps(obj))


def _meta(name: str, *, app: str = "", namespace: str = "") -> dict[str, Any]:
    labels = {"bench.k8ssnap.io/population": "true"}
    if app:
        labels |= {"app": app, "team": f"team-{len(app) % 7}", "tier": "backend"}
    meta: dict[str, Any] = {"name": name, "labels": labels}
    if namespace:
        meta["namespace"] = namespace
    return meta


_KINDS = ("ConfigMap", "Secret", "Service", "Widget", "Deployment")


def _contents(ns: str, kind: str, mix: Mix) -> Iterator[Item]:
    """The objects of one kind in namespace ``ns`` (random content seeded by both)."""
    rng = random.Random(f"{ns}/{kind}")
    core, apps = f"/api/v1/namespaces/{ns}", f"/apis/apps/v1/namespaces/{ns}"
    if kind == "ConfigMap":
        for i in range(mix.configmaps):
            yield _item(f"{core}/configmaps", kind, _configmap(ns, f"app-{i:03d}-config", rng))
    elif kind == "Secret":
        for i in range(mix.secrets):
            yield _item(f"{core}/secrets", kind, _secret(ns, f"app-{i:03d}-credentials", rng))
    elif kind == "Service":
        for i in range(mix.services):
            yield _item(f"{core}/services", kind, _service(ns, f"app-{i:03d}"))
    elif kind == "Widget":
        widgets = f"/apis/{CRD_GROUP}/v1/namespaces/{ns}/{CRD_PLURAL}"
        for i in range(mix.widgets):
            yield _item(widgets, kind, _widget(ns, f"widget-{i:03d}", rng))
    else:
        for i in range(mix.deployments):
            yield _item(f"{apps}/deployments", kind, _deployment(ns, f"app-{i:03d}", rng))


def _words(rng: random.Random, count: int) -> str:
    return "-".join(rng.choice(_WORDS) for _ in range(count))


def _configmap(ns: str, name: str, rng: random.Random) -> dict[str, Any]:
    lines = [
        f"{_words(rng, 3).replace('-', '.')}={_words(rng, 2)}-{rng.randint(0, 99999)}" for _ in range(50)
    ]
    flags = {_words(rng, 2): rng.random() < 0.5 for _ in range(12)}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(name, app=name.removesuffix("-config"), namespace=ns),
        "data": {
            "application.properties": "\n".join(lines) + "\n",
            "feature-flags.json": orjson.dumps(flags).decode(),
            "log-level": rng.choice(["debug", "info", "warn"]),
        },
    }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _secret(ns: str, name: str, rng: random.Random) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": _meta(name, app=name.removesuffix("-credentials"), namespace=ns),
        "data": {
            "username": _b64(f"svc-{_words(rng, 2)}".encode()),
            "password": _b64(rng.randbytes(24)),
            "signing.key": _b64(rng.randbytes(1200)),
        },
    }


def _service(ns: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, app=name, namespace=ns),
        "spec": {
            "selector": {"app": name},
            "ports": [
                {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
                {"name": "metrics", "port": 9090, "targetPort": 9090, "protocol": "TCP"},
            ],
        },
    }


def _deployment(ns: str, name: str, rng: random.Random) -> dict[str, Any]:
    env = [{"name": f"{_words(rng, 2).upper().replace('-', '_')}", "value": _words(rng, 3)} for _ in range(8)]
    probe = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10}
    container = {
        "name": name,
        "image": f"registry.example.com/{ns}/{name}:1.{rng.randint(0, 40)}.{rng.randint(0, 9)}",
        "ports": [{"containerPort": 8080, "name": "http"}, {"containerPort": 9090, "name": "metrics"}],
        "env": env,
        "envFrom": [{"configMapRef": {"name": f"{name}-config"}}],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
        "readinessProbe": probe,
        "livenessProbe": probe,
        "volumeMounts": [{"name": "credentials", "mountPath": "/etc/credentials", "readOnly": True}],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, app=name, namespace=ns),
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, "tier": "backend"}},
                "spec": {
                    "containers": [container],
                    "volumes": [{"name": "credentials", "secret": {"secretName": f"{name}-credentials"}}],
                },
            },
        },
    }


def _widget(ns: str, name: str, rng: random.Random) -> dict[str, Any]:
    return {
        "apiVersion": f"{CRD_GROUP}/v1",
        "kind": "Widget",
        "metadata": _meta(name, app=name, namespace=ns),
        "spec": {
            "size": rng.randint(1, 1000),
            "color": rng.choice(["red", "green", "blue", "amber"]),
            "owner": f"{_words(rng, 2)}@example.com",
            "tags": [_words(rng, 1) for _ in range(5)],
            "settings": {_words(rng, 2): _words(rng, 3) for _ in range(8)},
        },
    }
