"""Discovery: every group, every served version, every resource, in parallel.

Each group-version is fetched on its own, so one broken aggregated API
(an APIService whose backend is down) is reported in ``failed`` and
skipped instead of failing the whole discovery, which was k8s-snap's flaw.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from k8ssnap import errors
from k8ssnap.domain.paths import ApiResource
from k8ssnap.domain.selection import DiscoveredGroup, DiscoveredVersion
from k8ssnap.kube.api import KubeApi


@dataclass(frozen=True, slots=True)
class Discovery:
    """What a cluster serves. ``failed`` maps group-version to the error text."""

    groups: tuple[DiscoveredGroup, ...]
    failed: Mapping[str, str]

    def find(self, *, group: str, version: str, resource: str) -> ApiResource | None:
        """The resource at exactly this group-version, if served."""
        for g in self.groups:
            if g.name != group:
                continue
            for v in g.versions:
                if v.version != version:
                    continue
                for r in v.resources:
                    if r.resource == resource:
                        return r
        return None


def _resources(group: str, version: str, body: Mapping[str, Any]) -> tuple[ApiResource, ...]:
    return tuple(
        ApiResource(
            group=group,
            version=version,
            resource=str(item["name"]),
            kind=str(item.get("kind", "")),
            namespaced=bool(item.get("namespaced", False)),
            verbs=frozenset(item.get("verbs") or ()),
        )
        for item in body.get("resources", [])
        if "/" not in str(item.get("name", "/"))
    )


async def _version(
    client: KubeApi, group: str, version: str, failed: dict[str, str]
) -> DiscoveredVersion | None:
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    gv = f"{group}/{version}" if group else version
    try:
        body = await client.get(prefix)
    except errors.RetriableError as exc:
        failed[gv] = exc.reason
        return None
    except (errors.NotFound, errors.Invalid) as exc:
        failed[gv] = exc.reason
        return None
    return DiscoveredVersion(version=version, resources=_resources(group, version, body))


async def discover(client: KubeApi) -> Discovery:
    """Discover the cluster. Raises for errors of the cluster as a whole (e.g. Unauthorized)."""
    core, named = await asyncio.gather(client.get("/api"), client.get("/apis"))
    failed: dict[str, str] = {}
    wanted: list[tuple[str, str, list[str]]] = [("", "v1", list(core.get("versions", ["v1"])))]
    for group in named.get("groups", []):
        versions = [str(v["version"]) for v in group.get("versions", [])]
        preferred = str(group.get("preferredVersion", {}).get("version") or versions[0])
        wanted.append((str(group["name"]), preferred, versions))
    jobs = [(name, v) for name, _, versions in wanted for v in versions]
    results = await asyncio.gather(*(_version(client, name, v, failed) for name, v in jobs))
    by_group: dict[str, list[DiscoveredVersion]] = {}
    for (name, _), found in zip(jobs, results, strict=True):
        if found is not None:
            by_group.setdefault(name, []).append(found)
    groups = tuple(
        DiscoveredGroup(name=name, preferred_version=preferred, versions=tuple(by_group.get(name, ())))
        for name, preferred, _ in wanted
        if by_group.get(name)
    )
    return Discovery(groups=groups, failed=failed)
