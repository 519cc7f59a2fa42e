"""Paginated raw LISTs, one page in memory at a time.

Items of a LIST lack ``apiVersion`` and ``kind``; they are filled in from
the resource so every archived object is complete on its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson

from k8ssnap import gcpause, retry
from k8ssnap.domain.paths import ApiResource, collection_path
from k8ssnap.kube.api import KubeApi


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a LIST: parsed items and the list's resourceVersion."""

    items: list[dict[str, Any]]
    resource_version: str


async def list_pages(
    client: KubeApi,
    resource: ApiResource,
    *,
    limit: int = 500,
    resource_version: str = "",
    exact: bool = False,
    backoff: retry.Backoff | None = None,
) -> AsyncIterator[Page]:
    """Yield the pages of a cluster-wide LIST of ``resource``.

    With ``exact`` every page is read at exactly ``resource_version``
    (``resourceVersionMatch=Exact``), so the whole list is one point in
    time; the continue token keeps that version across pages.
    """
    path = collection_path(resource)
    query: dict[str, str | int] = {"limit": limit}
    if resource_version:
        query["resourceVersion"] = resource_version
        if exact:
            query["resourceVersionMatch"] = "Exact"
    api_version, kind = resource.group_version, resource.kind
    while True:
        body = await _page(client, path, query, backoff)
        items: list[dict[str, Any]] = body.get("items") or []
        for item in items:
            item["apiVersion"] = api_version
            item["kind"] = kind
        metadata = body.get("metadata", {})
        yield Page(items=items, resource_version=str(metadata.get("resourceVersion", "")))
        token = metadata.get("continue")
        if not token:
            return
        query = {"limit": limit, "continue": str(token)}


async def _page(
    client: KubeApi, path: str, query: dict[str, str | int], backoff: retry.Backoff | None
) -> dict[str, Any]:
    async def fetch() -> dict[str, Any]:
        raw = await client.request("GET", path, query=query)
        with gcpause.paused():  # see k8ssnap.gcpause: the collector, not JSON, was the cost
            parsed: dict[str, Any] = orjson.loads(raw)
        return parsed

    if backoff is None:
        return await fetch()
    return await retry.retrying(fetch, backoff=backoff, what=f"LIST {path}")


async def current_resource_version(client: KubeApi) -> str:
    """The cluster's current resourceVersion, from a quorum LIST (no writes).

    k8s-snap created and deleted a marker ConfigMap for this; a LIST with
    ``limit=1`` and no resourceVersion is a consistent read that reports
    the current etcd revision without touching the cluster.
    """
    body = await client.get("/api/v1/namespaces", {"limit": 1})
    return str(body["metadata"]["resourceVersion"])
