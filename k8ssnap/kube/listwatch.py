"""Adapters from :class:`KubeApi` to the runtime's protocols.

:class:`ResourceListWatcher` implements :class:`k8ssnap.runtime.source.ListWatcher`
for one collection (optionally one namespace); :class:`LeaseStore`
implements :class:`k8ssnap.runtime.leader.LeaseClient` for
``coordination.k8s.io/v1`` Leases. Neither adds behaviour: the reflector
and the elector own the rules.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from k8ssnap import errors
from k8ssnap.kube.api import KubeApi
from k8ssnap.runtime.source import ListPage, WatchEvent


class ResourceListWatcher:
    """LIST and WATCH of the collection at ``path`` (e.g. ``/apis/g/v/namespaces/ns/snapshots``)."""

    def __init__(self, client: KubeApi, path: str) -> None:
        self._client = client
        self._path = path

    def __repr__(self) -> str:
        return f"<ResourceListWatcher {self._path}>"

    async def list(self, *, limit: int, continue_token: str, resource_version: str) -> ListPage:
        query: dict[str, str | int] = {"limit": limit}
        if continue_token:
            query["continue"] = continue_token
        elif resource_version:
            query["resourceVersion"] = resource_version
        body: dict[str, Any] = orjson.loads(await self._client.request("GET", self._path, query=query))
        meta = body.get("metadata", {})
        return ListPage(
            items=body.get("items") or [],
            resource_version=str(meta.get("resourceVersion", "")),
            continue_token=str(meta.get("continue") or ""),
        )

    async def watch(self, *, resource_version: str, timeout_seconds: int) -> AsyncIterator[WatchEvent]:
        query: dict[str, str | int] = {"allowWatchBookmarks": "true"}
        if resource_version:
            query["resourceVersion"] = resource_version
        async for event in self._client.watch(self._path, query, timeout_seconds=timeout_seconds):
            yield WatchEvent(type=str(event.get("type", "")), object=event.get("object") or {})


class LeaseStore:
    """Leases in one namespace."""

    def __init__(self, client: KubeApi, namespace: str) -> None:
        self._client = client
        self._collection = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"

    async def get(self, name: str) -> dict[str, Any] | None:
        try:
            return await self._client.get(f"{self._collection}/{name}")
        except errors.NotFound:
            return None

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return await self._client.create(self._collection, body)
        except errors.AlreadyExists as exc:
            raise errors.Conflict(exc.reason) from None

    async def replace(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body["metadata"]["name"]
        return await self._client.replace(f"{self._collection}/{name}", body)
