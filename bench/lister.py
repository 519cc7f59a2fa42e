"""The list floor: concurrent paginated LISTs of the snapshot's resource set, bodies discarded.

The resource set is the one the snapshot engine reads
(:func:`k8ssnap.kube.discovery.discover` and
:func:`k8ssnap.domain.selection.select_resources`), found before the clock
starts. Then, like the engine, one task per resource walks its pages in
order (``limit=500`` and continue tokens), with at most ``concurrency``
resources being listed at once (the controller's ``--snapshotthreads``).

Bodies are read and thrown away, never parsed: the continue token is
found with a regular expression in the list's metadata, which the API
server writes before the items of built-in lists and after the items of
custom-resource lists, so only the first and last kilobyte are searched.
Objects are counted from ``remainingItemCount`` of each first page, and a
resource that fits in one page is parsed to count it (such pages are small).

``exact_rv`` reads every page at one resourceVersion with
``resourceVersionMatch=Exact``, as the engine does; the floor itself uses
plain paginated LISTs, what a minimal client would send.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from bench.rawclient import RawClient
from k8ssnap.domain.paths import ApiResource, collection_path
from k8ssnap.domain.selection import select_resources
from k8ssnap.kube import discovery, listing
from k8ssnap.kube.client import KubeClient

PAGE_SIZE = 500
_EDGE = 1024
_CONTINUE = re.compile(rb'"continue":"([^"]+)"')
_REMAINING = re.compile(rb'"remainingItemCount":(\d+)')


@dataclass(frozen=True, slots=True)
class ListStats:
    """One run of the list floor."""

    objects: int
    pages: int
    bytes: int
    seconds: float
    resources: int


async def snapshot_resources(kube: KubeClient) -> tuple[ApiResource, ...]:
    """The resources a snapshot of this cluster reads, in the engine's order."""
    found = await discovery.discover(kube)
    return select_resources(found.groups)


async def list_floor(
    client: RawClient,
    resources: Sequence[ApiResource],
    *,
    concurrency: int,
    exact_rv: str = "",
) -> ListStats:
    """List every resource; see the module docstring."""
    slots = asyncio.Semaphore(concurrency)
    totals = [0, 0, 0]  # objects, pages, bytes

    async def walk(resource: ApiResource) -> None:
        path = collection_path(resource)
        query: dict[str, str | int] = {"limit": PAGE_SIZE}
        if exact_rv:
            query |= {"resourceVersion": exact_rv, "resourceVersionMatch": "Exact"}
        first = True
        async with slots:
            while True:
                body = await client.get(path, query)
                totals[1] += 1
                totals[2] += len(body)
                token = _find(_CONTINUE, body)
                if first:
                    totals[0] += _count_first(body, token)
                    first = False
                if token is None:
                    return
                query = {"limit": PAGE_SIZE, "continue": token.decode()}

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for resource in resources:
            group.create_task(walk(resource))
    seconds = time.perf_counter() - started
    return ListStats(
        objects=totals[0], pages=totals[1], bytes=totals[2], seconds=seconds, resources=len(resources)
    )


def _find(pattern: re.Pattern[bytes], body: bytes) -> bytes | None:
    match = pattern.search(body, 0, _EDGE) or pattern.search(body, max(0, len(body) - _EDGE))
    return match.group(1) if match else None


def _count_first(body: bytes, token: bytes | None) -> int:
    if token is None:
        return len(orjson.loads(body).get("items") or [])
    remaining = _find(_REMAINING, body)
    return PAGE_SIZE + (int(remaining) if remaining else 0)


async def current_resource_version(kube: KubeClient) -> str:
    """The cluster's revision now (the engine's way: a quorum ``LIST namespaces?limit=1``)."""
    return await listing.current_resource_version(kube)
