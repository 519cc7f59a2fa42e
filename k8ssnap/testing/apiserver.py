"""An in-memory API server for engine tests: discovery, POST/PUT/GET, scripted failures.

:class:`FakeApiServer` is a :class:`~k8ssnap.kube.api.KubeApi` that answers
the calls the restore engine makes (discovery, POST, GET, PUT, the
resourceVersion LIST) from a dict of objects, and reacts as controllers
would (CRDs become Established, claims Bound). ``errors_for`` maps
``"<METHOD> <path>"`` to exceptions raised, in order, before answering
normally; ``before_write`` is awaited before every write. It records every
request, every successful write and the most writes in flight at once.
Writes sent with ``dryRun=All`` are checked as a real server would (the
namespace exists, the name is free) and recorded in ``dry_runs``; nothing
is stored.
Unlike :class:`~k8ssnap.testing.kube.FakeKube` (the controller's own cluster,
for reconcilers) it serves discovery.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import orjson

from k8ssnap import errors

# (group, version, resource, kind, namespaced)
BUILTIN = (
    ("", "v1", "namespaces", "Namespace", False),
    ("", "v1", "configmaps", "ConfigMap", True),
    ("", "v1", "secrets", "Secret", True),
    ("", "v1", "services", "Service", True),
    ("", "v1", "endpoints", "Endpoints", True),
    ("", "v1", "persistentvolumes", "PersistentVolume", False),
    ("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True),
    ("apps", "v1", "deployments", "Deployment", True),
    ("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False),
    ("storage.k8s.io", "v1", "storageclasses", "StorageClass", False),
)


class FakeApiServer:
    """A tiny API server: discovery from ``served``, objects in a dict keyed by path."""

    host = "https://fake-apiserver"

    def __init__(self, *, served: tuple[tuple[str, str, str, str, bool], ...] = BUILTIN) -> None:
        self.served = list(served)
        self.objects: dict[str, dict[str, Any]] = {}
        self.errors_for: dict[str, list[Exception]] = {}
        self.writes: list[tuple[str, str]] = []
        self.dry_runs: list[tuple[str, str]] = []
        self.requests: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.revision = 100
        self.claims_bind = True
        self.before_write: Callable[[str, str], Awaitable[None]] | None = None
        """Awaited before every write (``method``, ``path``): lets a test hold a request."""

    # -- the KubeApi surface -----------------------------------------------------

    async def get(self, path: str, query: Mapping[str, str | int] | None = None) -> dict[str, Any]:
        parsed: dict[str, Any] = orjson.loads(await self.request("GET", path, query=query))
        return parsed

    async def create(self, collection: str, obj: Mapping[str, Any] | bytes) -> dict[str, Any]:
        body = obj if isinstance(obj, bytes) else orjson.dumps(obj)
        parsed: dict[str, Any] = orjson.loads(await self.request("POST", collection, body=body))
        return parsed

    async def replace(self, path: str, obj: Mapping[str, Any] | bytes) -> dict[str, Any]:
        body = obj if isinstance(obj, bytes) else orjson.dumps(obj)
        parsed: dict[str, Any] = orjson.loads(await self.request("PUT", path, body=body))
        return parsed

    async def merge_patch(self, path: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        raise AssertionError("FakeApiServer does not patch")

    async def delete(
        self, path: str, *, propagation: str = "Background", resource_version: str | None = None
    ) -> None:
        self.requests.append(f"DELETE {path}")
        self.objects.pop(path, None)

    def watch(
        self, path: str, query: Mapping[str, str | int], *, timeout_seconds: int
    ) -> AsyncIterator[dict[str, Any]]:
        raise AssertionError("FakeApiServer does not watch")

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | int] | None = None,
        body: bytes | None = None,
        content_type: str = "application/json",
        timeout: float = 120.0,
    ) -> bytes:
        self.requests.append(f"{method} {path}")
        script = self.errors_for.get(f"{method} {path}")
        if script:
            raise script.pop(0)
        if method == "GET":
            return orjson.dumps(self._read(path))
        if self.before_write is not None:
            await self.before_write(method, path)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            for _ in range(10):
                await asyncio.sleep(0)  # a request takes a while: let other writers in
            assert body is not None
            if query and query.get("dryRun") == "All":
                return orjson.dumps(self._dry_run(method, path, orjson.loads(body)))
            return orjson.dumps(self._write(method, path, orjson.loads(body)))
        finally:
            self.in_flight -= 1

    # -- behaviour ------------------------------------------------------------------

    def _discovery(self, path: str) -> dict[str, Any]:
        if path == "/api":
            return {"versions": ["v1"]}
        if path == "/apis":
            groups = sorted({(g, v) for g, v, *_ in self.served if g})
            return {
                "groups": [
                    {"name": g, "versions": [{"version": v}], "preferredVersion": {"version": v}}
                    for g, v in groups
                ]
            }
        prefix = path.split("/")
        group, version = ("", prefix[2]) if prefix[1] == "api" else (prefix[2], prefix[3])
        resources = [
            {"name": r, "kind": k, "namespaced": n, "verbs": ["create", "get", "list", "delete"]}
            for g, v, r, k, n in self.served
            if (g, v) == (group, version)
        ]
        if not resources:
            raise errors.NotFound(f"{path} not found")
        return {"resources": resources}

    def _read(self, path: str) -> dict[str, Any]:
        if path == "/api/v1/namespaces" or path.count("/") <= 3:
            if path == "/api/v1/namespaces":
                return {"metadata": {"resourceVersion": str(self.revision)}, "items": []}
            return self._discovery(path)
        if path in self.objects:
            return self.objects[path]
        raise errors.NotFound(f"{path} not found")

    def _write(self, method: str, path: str, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        target = path if method == "PUT" else f"{path}/{meta['name']}"
        if method == "POST" and target in self.objects:
            raise errors.AlreadyExists(f"{meta['name']} already exists")
        if method == "PUT":
            live = self.objects[target]["metadata"]["resourceVersion"]
            if meta.get("resourceVersion") != live:
                raise errors.Conflict("the object has been modified")
        self.writes.append((method, target))
        self.revision += 1
        meta["resourceVersion"] = str(self.revision)
        self._react(obj)
        self.objects[target] = obj
        return obj

    def _dry_run(self, method: str, path: str, obj: dict[str, Any]) -> dict[str, Any]:
        """What the server answers to ``dryRun=All``: the same checks, nothing stored."""
        self.dry_runs.append((method, path))
        parts = path.split("/")
        if (
            "namespaces" in parts[:-2]
            and "/".join(parts[: parts.index("namespaces") + 2]) not in self.objects
        ):
            raise errors.NotFound(f"namespaces {parts[parts.index('namespaces') + 1]} not found")
        if method == "POST" and f"{path}/{obj['metadata']['name']}" in self.objects:
            raise errors.AlreadyExists(f"{obj['metadata']['name']} already exists")
        return obj

    def _react(self, obj: dict[str, Any]) -> None:
        """What controllers would do: establish CRDs, bind claims."""
        kind = obj.get("kind")
        if kind == "CustomResourceDefinition":
            spec = obj["spec"]
            for version in spec["versions"]:
                self.served.append(
                    (spec["group"], version["name"], spec["names"]["plural"], spec["names"]["kind"], True)
                )
            obj["status"] = {"conditions": [{"type": "Established", "status": "True"}]}
        elif kind == "PersistentVolumeClaim" and self.claims_bind:
            obj["status"] = {"phase": "Bound"}
