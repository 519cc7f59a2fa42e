"""Target: archived objects looked up in the destination's discovery."""

from __future__ import annotations

import pytest

from k8ssnap.domain.paths import ApiResource, parse_path
from k8ssnap.domain.selection import DiscoveredGroup, DiscoveredVersion
from k8ssnap.kube.discovery import Discovery
from k8ssnap.restore.target import Target, Unserved


def discovery(*resources: ApiResource) -> Discovery:
    groups: dict[str, list[ApiResource]] = {}
    for resource in resources:
        groups.setdefault(resource.group, []).append(resource)
    return Discovery(
        groups=tuple(
            DiscoveredGroup(
                name=name,
                preferred_version=items[0].version,
                versions=tuple(
                    DiscoveredVersion(version=v, resources=tuple(r for r in items if r.version == v))
                    for v in sorted({r.version for r in items})
                ),
            )
            for name, items in groups.items()
        ),
        failed={},
    )


CONFIGMAPS = ApiResource(group="", version="v1", resource="configmaps", kind="ConfigMap", namespaced=True)
WIDGETS = ApiResource(group="x.y", version="v2", resource="widgets", kind="Widget", namespaced=False)
TARGET = Target(discovery(CONFIGMAPS, WIDGETS))


def test_a_served_object_gets_its_resource_and_path() -> None:
    ref = parse_path("/api/v1/namespaces/n/configmaps/c")
    assert TARGET.path(ref) == (CONFIGMAPS, "/api/v1/namespaces/n/configmaps/c")
    assert TARGET.serves([("", "v1", "configmaps"), ("x.y", "v2", "widgets")])
    assert not TARGET.serves([("x.y", "v1", "widgets")])


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/apis/x.y/v1/widgets/w", "the cluster does not serve widgets.x.y/v1"),
        ("/apis/apps/v1/namespaces/n/deployments/d", "the cluster does not serve deployments.apps/v1"),
        ("/api/v1/namespaces/n/secrets/s", "the cluster does not serve secrets/v1"),
        ("/apis/x.y/v2/namespaces/n/widgets/w", "the cluster serves widgets.x.y/v2 as cluster-scoped"),
        ("/api/v1/configmaps/c", "the cluster serves configmaps/v1 as namespaced"),
    ],
)
def test_what_the_cluster_cannot_take_has_a_reason(path: str, reason: str) -> None:
    with pytest.raises(Unserved) as caught:
        TARGET.path(parse_path(path))
    assert caught.value.reason == reason
