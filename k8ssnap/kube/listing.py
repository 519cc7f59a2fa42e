"""Paginated raw LISTs, one page in memory at a time.

Pages are split into their items' bytes natively (:mod:`k8ssnap.kube.itemsplit`),
never parsed into Python objects. Items of a LIST lack ``apiVersion`` and
``kind``; they are filled in from the resource so every archived object is
complete on its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from k8ssnap import errors, retry
from k8ssnap.domain.paths import ApiResource, collection_path
from k8ssnap.kube.api import KubeApi
from k8ssnap.kube.itemsplit import MalformedPage, RawItem, RawPage, split_page

__all__ = ["RawItem", "RawPage", "current_resource_version", "list_pages"]


async def list_pages(
    client: KubeApi,
    resource: ApiResource,
    *,
    limit: int = 500,
    resource_version: str = "",
    exact: bool = False,
    backoff: retry.Backoff | None = None,
) -> AsyncIterator[RawPage]:
    """Yield the pages of a cluster-wide LIST of ``resource``.

    With ``exact`` every page is read at exactly ``resource_version``
    (``resourceVersionMatch=Exact``), so the whole list is one point in
    time; the continue token keeps that version across pages. A page that
    is not a list of Kubernetes objects fails with a PermanentError.
    """
    path = collection_path(resource)
    query: dict[str, str | int] = {"limit": limit}
    if resource_version:
        query["resourceVersion"] = resource_version
        if exact:
            query["resourceVersionMatch"] = "Exact"
    while True:
        raw = await _page(client, path, query, backoff)
        try:
            page = split_page(raw, api_version=resource.group_version, kind=resource.kind)
        except MalformedPage as exc:
            raise errors.PermanentError(f"LIST {path}: {exc}") from None
        del raw
        yield page
        if not page.continue_token:
            return
        query = {"limit": limit, "continue": page.continue_token}


async def _page(
    client: KubeApi, path: str, query: dict[str, str | int], backoff: retry.Backoff | None
) -> bytes:
    async def fetch() -> bytes:
        return await client.request("GET", path, query=query)

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
