"""Readiness: bounded waits for what the destination does after a tier.

Two tiers are followed by waiting, both bounded in time and in parallel
requests, and neither can fail the restore:

* After the CRD tier: each restored CRD must become ``Established``, and
  then discovery must show the resources it defines, before custom
  resources can be created. A CRD that does not get there in time leaves
  its custom resources to fail one by one as not served.
* After the storage tier: each claim the restore created should become
  ``Bound`` to its (restored) volume. The engine reports the ones that do
  not; the rest of the restore goes on.

Probes swallow API errors (the object may not be visible yet, the server
may be briefly unavailable) and simply try again until the deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

import orjson

from k8ssnap import errors, retry
from k8ssnap.domain.fields import at, items, mapping, spec, text
from k8ssnap.kube import discovery
from k8ssnap.kube.api import KubeApi
from k8ssnap.restore.target import Target

T = TypeVar("T")

POLL_INTERVAL = 0.25
REQUEST_TIMEOUT = 10.0

ResourceKey = tuple[str, str, str]


async def poll(
    keys: Iterable[str],
    probe: Callable[[str], Awaitable[T | None]],
    *,
    timeout: float,
    concurrency: int,
    interval: float = POLL_INTERVAL,
) -> dict[str, T]:
    """Probe each key until it answers (not None) or ``timeout`` passes.

    Returns the answers by key; a key missing from the result never
    answered in time. At most ``concurrency`` probes run at once.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    gate = asyncio.Semaphore(max(1, concurrency))
    answers: dict[str, T] = {}
    pending = sorted(set(keys))

    async def bounded(key: str) -> T | None:
        async with gate:
            return await probe(key)

    while pending:
        results = await asyncio.gather(*(bounded(key) for key in pending))
        answers.update(
            (key, answer) for key, answer in zip(pending, results, strict=True) if answer is not None
        )
        pending = [key for key in pending if key not in answers]
        if not pending or loop.time() + interval > deadline:
            break
        await asyncio.sleep(interval)
    return answers


async def _read(kube: KubeApi, path: str) -> Mapping[str, Any] | None:
    """The object at ``path``, or None on any API error (probes retry by polling)."""
    try:
        raw = await kube.request("GET", path, timeout=REQUEST_TIMEOUT)
    except errors.K8sSnapError:
        return None
    obj = orjson.loads(raw)
    return obj if isinstance(obj, dict) else None


def _established_resources(crd: Mapping[str, Any]) -> frozenset[ResourceKey] | None:
    """The ``(group, version, plural)`` a CRD serves, once it is Established."""
    conditions = items(at(crd, "status").get("conditions"))
    if not any(
        mapping(c).get("type") == "Established" and mapping(c).get("status") == "True" for c in conditions
    ):
        return None
    group, plural = text(spec(crd).get("group")), text(at(crd, "spec", "names").get("plural"))
    return frozenset(
        (group, text(mapping(v).get("name")), plural)
        for v in items(spec(crd).get("versions"))
        if mapping(v).get("served") is True
    )


async def established_crds(
    kube: KubeApi, paths: Iterable[str], *, timeout: float, concurrency: int
) -> set[ResourceKey]:
    """Wait for the CRDs at ``paths``; return the resources of those Established in time."""

    async def probe(path: str) -> frozenset[ResourceKey] | None:
        crd = await _read(kube, path)
        return None if crd is None else _established_resources(crd)

    answers = await poll(paths, probe, timeout=timeout, concurrency=concurrency)
    return {key for resources in answers.values() for key in resources}


async def serving(
    kube: KubeApi,
    expected: set[ResourceKey],
    *,
    timeout: float,
    backoff: retry.Backoff,
) -> Target:
    """Discover the destination until it serves ``expected`` or ``timeout`` passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        found = await retry.retrying(lambda: discovery.discover(kube), backoff=backoff, what="discovery")
        target = Target(found)
        if target.serves(expected) or loop.time() + POLL_INTERVAL > deadline:
            return target
        await asyncio.sleep(POLL_INTERVAL)


async def bound_claims(kube: KubeApi, paths: Iterable[str], *, timeout: float, concurrency: int) -> set[str]:
    """Wait for the claims at ``paths`` to be Bound; return the paths that are."""

    async def probe(path: str) -> bool | None:
        claim = await _read(kube, path)
        return True if claim is not None and at(claim, "status").get("phase") == "Bound" else None

    return set(await poll(paths, probe, timeout=timeout, concurrency=concurrency))
