"""Bounded concurrent creates of a population: the filler, and the create floor.

The order is the minimal one a dependency-aware client needs: every
namespace, then the CRD (and a wait until its resource is served), then
everything else in one stream (kind by kind, in the restore's tier order:
see :meth:`bench.population.Population.namespaced_items`). ``concurrency`` workers pull from one shared
iterator, so at most that many POSTs are in flight and the population is
never all in memory.

For the floor nothing is retried (a floor run with errors is void); the
filler retries the transient answers (429, 5xx) a few times.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from bench.population import CRD_GROUP, CRD_NAME, CRD_PLURAL, Item, Population
from bench.rawclient import ApiError, RawClient

_TRANSIENT = frozenset({429, 500, 502, 503, 504})
_FILL_ATTEMPTS = 6


@dataclass(slots=True)
class CreateStats:
    """What one run of creates did."""

    created: int = 0
    existed: int = 0
    retried: int = 0
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def objects(self) -> int:
        return self.created + self.existed


async def create_population(
    client: RawClient, population: Population, *, concurrency: int, retry: bool
) -> CreateStats:
    """Create ``population`` through ``client``; see the module docstring."""
    stats = CreateStats()
    started = time.perf_counter()
    mark = started
    phases: list[tuple[str, Iterable[Item]]] = [
        ("namespaces", population.namespace_items()),
        ("crd", [population.crd_item()]),
        ("rest", population.namespaced_items()),
    ]
    for name, items in phases:
        await _create_all(client, iter(items), concurrency=concurrency, retry=retry, stats=stats)
        if name == "crd":
            await wait_served(client)
        now = time.perf_counter()
        stats.phases[name] = now - mark
        mark = now
    stats.seconds = time.perf_counter() - started
    return stats


async def _create_all(
    client: RawClient, items: Iterator[Item], *, concurrency: int, retry: bool, stats: CreateStats
) -> None:
    async def worker() -> None:
        for item in items:  # a plain iterator: next() never awaits, so workers share it safely
            await _create(client, item, retry=retry, stats=stats)

    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(worker())


async def _create(client: RawClient, item: Item, *, retry: bool, stats: CreateStats) -> None:
    attempts = _FILL_ATTEMPTS if retry else 1
    for attempt in range(attempts):
        try:
            status = await client.post(item.collection, item.body)
        except ApiError as error:
            if error.status not in _TRANSIENT or attempt + 1 == attempts:
                raise
            stats.retried += 1
            await asyncio.sleep(0.2 * 2**attempt)
            continue
        if status == 409:
            stats.existed += 1
        else:
            stats.created += 1
        return


async def wait_served(client: RawClient, *, timeout: float = 60.0) -> None:
    """Until the CRD is Established and its group-version lists the resource."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        crd = await client.get_json(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{CRD_NAME}")
        conditions = (crd.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
            try:
                served = await client.get_json(f"/apis/{CRD_GROUP}/v1")
            except ApiError:
                served = {}
            if any(r.get("name") == CRD_PLURAL for r in served.get("resources", [])):
                return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"CRD {CRD_NAME} not served after {timeout:.0f} s")
