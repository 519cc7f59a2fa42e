"""What to snapshot: verbs, skipped kinds, one version per resource."""

from __future__ import annotations

import pytest

from k8ssnap.domain.paths import ApiResource
from k8ssnap.domain.selection import (
    DiscoveredGroup,
    DiscoveredVersion,
    discovery_failures,
    select_resources,
    version_priority,
)

ALL = frozenset({"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"})


def res(group: str, version: str, name: str, verbs: frozenset[str] = ALL) -> ApiResource:
    return ApiResource(group, version, name, name.title(), True, verbs)


def group(name: str, preferred: str, **versions: list[str]) -> DiscoveredGroup:
    return DiscoveredGroup(
        name,
        preferred,
        tuple(DiscoveredVersion(v, tuple(res(name, v, r) for r in names)) for v, names in versions.items()),
    )


@pytest.mark.parametrize(
    ("verbs", "kept"),
    [
        (ALL, True),
        (frozenset({"list", "get", "create", "delete"}), True),
        (frozenset({"list", "get", "create"}), False),  # no delete
        (frozenset({"get", "create", "delete"}), False),  # no list
        (frozenset({"create"}), False),  # tokenreviews and the like
        (frozenset({"get", "list"}), False),  # componentstatuses, metrics
    ],
)
def test_verbs(verbs: frozenset[str], kept: bool) -> None:
    core = DiscoveredGroup("", "v1", (DiscoveredVersion("v1", (res("", "v1", "things", verbs),)),))
    assert bool(select_resources([core])) is kept


@pytest.mark.parametrize(
    ("group_name", "resource"),
    [
        ("", "nodes"),
        ("", "events"),
        ("events.k8s.io", "events"),
        ("storage.k8s.io", "csinodes"),
        ("storage.k8s.io", "volumeattachments"),
        ("", "pods/log"),
        ("apps", "deployments/scale"),
    ],
)
def test_skipped_kinds(group_name: str, resource: str) -> None:
    discovered = DiscoveredGroup(
        group_name, "v1", (DiscoveredVersion("v1", (res(group_name, "v1", resource),)),)
    )
    assert select_resources([discovered]) == ()


def test_other_events_resource_is_kept() -> None:
    """Only core and events.k8s.io events are skipped, not any resource named events."""
    discovered = group("example.com", "v1", v1=["events"])
    assert [r.resource for r in select_resources([discovered])] == ["events"]


@pytest.mark.parametrize(
    ("preferred", "versions", "expected"),
    [
        ("v1", {"v1": ["hpa"], "v2": ["hpa"]}, "v1"),  # preferred wins even when lower
        ("v2", {"v1": ["hpa"], "v2beta1": ["hpa"]}, "v1"),  # preferred does not serve it
        ("v9", {"v1beta1": ["x"], "v1beta2": ["x"], "v1alpha1": ["x"]}, "v1beta2"),
        ("v9", {"v1": ["x"], "v2": ["x"], "v10alpha1": ["x"]}, "v2"),
        ("v9", {"v1alpha1": ["x"], "v1alpha2": ["x"]}, "v1alpha2"),
        ("v9", {"foo": ["x"], "v1alpha1": ["x"]}, "v1alpha1"),
    ],
)
def test_version_choice(preferred: str, versions: dict[str, list[str]], expected: str) -> None:
    selected = select_resources([group("example.com", preferred, **versions)])
    assert len(selected) == 1
    assert selected[0].version == expected


def test_version_priority_order() -> None:
    versions = ["v1alpha1", "foo10", "v1", "v1beta1", "v2", "v1beta2", "foo1", "v10", "v11beta2"]
    assert sorted(versions, key=version_priority) == [
        "v10",
        "v2",
        "v1",
        "v11beta2",
        "v1beta2",
        "v1beta1",
        "v1alpha1",
        "foo1",
        "foo10",
    ]


def test_one_version_per_resource_and_sorted() -> None:
    groups = [
        group("apps", "v1", v1=["deployments", "daemonsets"], v1beta1=["deployments"]),
        group("", "v1", v1=["pods", "configmaps"]),
        group("batch", "v1", v1=["jobs"], v1beta1=["cronjobs"]),
    ]
    selected = select_resources(groups)
    assert [(r.group, r.version, r.resource) for r in selected] == [
        ("", "v1", "configmaps"),
        ("", "v1", "pods"),
        ("apps", "v1", "daemonsets"),
        ("apps", "v1", "deployments"),
        ("batch", "v1beta1", "cronjobs"),
        ("batch", "v1", "jobs"),
    ]


def test_discovery_failures() -> None:
    reasons = discovery_failures(
        {"metrics.k8s.io/v1beta1": "the server is currently\nunable", "a.io/v1": "x" * 400}
    )
    assert reasons[0] == "discovery of a.io/v1 failed: " + "x" * 300
    assert reasons[1] == "discovery of metrics.k8s.io/v1beta1 failed: the server is currently unable"
    assert discovery_failures({}) == ()
