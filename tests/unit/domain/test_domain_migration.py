"""The migration rules through the whole plan: kinds, label selector, wholeCluster, placement."""

from __future__ import annotations

from typing import Any

import pytest

from k8ssnap.domain.facts import PlanFacts
from k8ssnap.domain.paths import ApiResource
from k8ssnap.domain.placement import convert, counterpart, place
from k8ssnap.domain.plan import Tiered, classify, exclusion_reason
from k8ssnap.domain.preference import Preference
from k8ssnap.domain.selection import DiscoveredGroup, DiscoveredVersion

Obj = dict[str, Any]
RBAC = "/apis/rbac.authorization.k8s.io/v1"
BOOTSTRAP = {"kubernetes.io/bootstrapping": "rbac-defaults"}


def obj(
    kind: str, name: str, namespace: str | None = None, labels: dict[str, str] | None = None, **rest: Any
) -> Obj:
    metadata: Obj = {"name": name, "labels": labels or {}}
    if namespace:
        metadata["namespace"] = namespace
    return {"kind": kind, "metadata": metadata, **rest}


def plan(objects: list[tuple[str, Obj]], spec: Obj) -> dict[str, str | None]:
    """Every object's fate: the preference rule that left it out, its exclusion reason, or None (restored)."""
    preference = Preference.from_spec(spec)
    facts = PlanFacts(preference=preference)
    classified = [classify(path, body, preference) for path, body in objects]
    for item in classified:
        facts.observe(item)
    return {
        item.path: exclusion_reason(item.path, item.obj, facts)
        if isinstance(item, Tiered)
        else f"pref:{item.rule}"
        for item in classified
    }


SHOP = [
    ("/api/v1/namespaces/shop", obj("Namespace", "shop")),
    ("/api/v1/namespaces/other", obj("Namespace", "other")),
    ("/apis/apps/v1/namespaces/shop/deployments/web", obj("Deployment", "web", "shop", {"app": "web"})),
    ("/apis/apps/v1/namespaces/shop/deployments/db", obj("Deployment", "db", "shop", {"app": "db"})),
    ("/apis/apps/v1/namespaces/shop/deployments/cache", obj("Deployment", "cache", "shop", {"app": "cache"})),
    ("/api/v1/namespaces/shop/configmaps/web", obj("ConfigMap", "web", "shop", {"app": "web"})),
    ("/api/v1/namespaces/other/configmaps/x", obj("ConfigMap", "x", "other", {"app": "x"})),
]


@pytest.mark.parametrize(
    ("spec", "restored"),
    [
        ({}, {"shop", "other", "web", "db", "cache", "configmaps/web", "configmaps/x"}),
        ({"labelSelector": {"matchLabels": {"app": "web"}}}, {"shop", "web", "configmaps/web"}),
        (
            {
                "labelSelector": {
                    "matchExpressions": [{"key": "app", "operator": "In", "values": ["db", "x"]}]
                }
            },
            {"shop", "other", "db", "configmaps/x"},
        ),
        ({"includeKinds": ["deployments.apps"]}, {"shop", "other", "web", "db", "cache"}),
        ({"excludeKinds": ["configmaps"]}, {"shop", "other", "web", "db", "cache"}),
        ({"excludeKinds": ["ConfigMap", "namespaces"]}, {"web", "db", "cache"}),
        (
            {"includeKinds": ["deployments.apps"], "labelSelector": {"matchLabels": {"app": "cache"}}},
            {"shop", "cache"},
        ),
        ({"excludeKinds": ["*"]}, set()),
    ],
)
def test_kinds_and_selector_pick_objects_and_their_namespaces(spec: Obj, restored: set[str]) -> None:
    fates = plan(SHOP, spec)
    kept = {
        path.split("/namespaces/")[-1].removeprefix("shop/").removeprefix("other/")
        for path, f in fates.items()
        if f is None
    }
    short = {k.removeprefix("deployments/") for k in kept}
    assert short == restored


def test_namespace_without_selected_objects_is_excluded_with_a_reason() -> None:
    fates = plan(SHOP, {"labelSelector": {"matchLabels": {"app": "web"}}})
    assert fates["/api/v1/namespaces/other"] == "no-selected-objects"
    assert fates["/api/v1/namespaces/other/configmaps/x"] == "pref:label-selector"


def test_a_namespace_matching_the_selector_itself_is_restored_even_empty() -> None:
    objects = [("/api/v1/namespaces/empty", obj("Namespace", "empty", labels={"app": "web"}))]
    assert plan(objects, {"labelSelector": {"matchLabels": {"app": "web"}}}) == {
        "/api/v1/namespaces/empty": None
    }


def test_kinds_filters_are_preference_exclusions_named_after_their_field() -> None:
    fates = plan(SHOP, {"includeKinds": ["configmaps"], "excludeKinds": ["configmaps.apps"]})
    assert fates["/apis/apps/v1/namespaces/shop/deployments/web"] == "pref:include-kinds"
    fates = plan(SHOP, {"excludeKinds": ["deployments.apps"]})
    assert fates["/apis/apps/v1/namespaces/shop/deployments/web"] == "pref:exclude-kinds"


# --- wholeCluster ------------------------------------------------------------

CLUSTER = [
    ("/api/v1/namespaces/shop", obj("Namespace", "shop")),
    (
        f"{RBAC}/clusterrolebindings/team-admins",
        obj(
            "ClusterRoleBinding",
            "team-admins",
            roleRef={"kind": "ClusterRole", "name": "team-admin"},
            subjects=[{"kind": "Group", "name": "team", "apiGroup": "rbac.authorization.k8s.io"}],
        ),
    ),
    (f"{RBAC}/clusterroles/team-admin", obj("ClusterRole", "team-admin")),
    (f"{RBAC}/clusterroles/system:my-team", obj("ClusterRole", "system:my-team")),
    (f"{RBAC}/clusterroles/unused", obj("ClusterRole", "unused")),
    (f"{RBAC}/clusterroles/system:node", obj("ClusterRole", "system:node", labels=BOOTSTRAP)),
    (
        f"{RBAC}/clusterrolebindings/gone-sa",
        obj(
            "ClusterRoleBinding",
            "gone-sa",
            roleRef={"kind": "ClusterRole", "name": "unused"},
            subjects=[{"kind": "ServiceAccount", "name": "x", "namespace": "not-archived"}],
        ),
    ),
    ("/apis/storage.k8s.io/v1/storageclasses/standard", obj("StorageClass", "standard")),
    ("/apis/scheduling.k8s.io/v1/priorityclasses/high", obj("PriorityClass", "high")),
]


@pytest.mark.parametrize(
    ("name", "default", "whole_cluster"),
    [
        ("clusterrolebindings/team-admins", "not-binded-to-ns", None),
        ("clusterroles/team-admin", "not-binded-to-ns", None),
        ("clusterroles/system:my-team", "not-binded-to-ns", None),  # a name prefix marks nothing
        ("clusterroles/unused", "not-binded-to-ns", None),
        ("clusterroles/system:node", "system-managed", "system-managed"),
        ("clusterrolebindings/gone-sa", "not-binded-to-ns", "not-binded-to-ns"),
        ("storageclasses/standard", "pref:storageclass-not-nfs", None),
        ("priorityclasses/high", None, None),
    ],
)
def test_whole_cluster_restores_people_rbac_and_storage_classes(
    name: str, default: str | None, whole_cluster: str | None
) -> None:
    path = next(p for p, _ in CLUSTER if p.endswith(name))
    assert plan(CLUSTER, {})[path] == default
    assert plan(CLUSTER, {"restoreOptions": ["wholeCluster"]})[path] == whole_cluster
    assert plan(CLUSTER, {"restoreOptions": {"wholeCluster": True}})[path] == whole_cluster


# --- placement -----------------------------------------------------------------


def test_place_maps_after_transform_and_never_changes_the_archived_object() -> None:
    archived = obj("ConfigMap", "c", "shop")
    archived["metadata"]["uid"] = "u1"
    placed = place(
        "/api/v1/namespaces/shop/configmaps/c",
        archived,
        Preference.from_spec({"namespaceMapping": {"shop": "shop-staging"}}),
    )
    assert placed.ref.path == "/api/v1/namespaces/shop-staging/configmaps/c"
    assert placed.body["metadata"] == {"name": "c", "namespace": "shop-staging", "labels": {}}
    assert archived["metadata"]["namespace"] == "shop" and archived["metadata"]["uid"] == "u1"


def _group(name: str, preferred: str, *versions: tuple[str, str]) -> DiscoveredGroup:
    return DiscoveredGroup(
        name,
        preferred,
        tuple(
            DiscoveredVersion(version, (ApiResource(name, version, resource, "Widget", True),))
            for version, resource in versions
        ),
    )


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        ([_group("example.com", "v1", ("v1", "widgets"))], "v1"),
        ([_group("example.com", "v2", ("v1", "widgets"), ("v2", "widgets"))], "v2"),
        # the preferred version does not serve the kind: highest priority of the others
        ([_group("example.com", "v3", ("v1beta1", "widgets"), ("v1", "widgets"))], "v1"),
        ([_group("other.com", "v1", ("v1", "widgets"))], None),
        ([], None),
    ],
)
def test_counterpart_is_the_preferred_served_version_of_the_kind(
    groups: list[DiscoveredGroup], expected: str | None
) -> None:
    found = counterpart(groups, group="example.com", resource="widgets", kind="Widget")
    assert (found.version if found else None) == expected


def test_counterpart_does_not_take_another_kind() -> None:
    groups = [_group("example.com", "v1", ("v1", "widgets"))]
    assert counterpart(groups, group="example.com", resource="widgets", kind="Gadget") is None
    assert counterpart(groups, group="example.com", resource="widgets", kind="") is not None


def test_convert_relabels_the_body_and_says_so() -> None:
    placed = place(
        "/apis/example.com/v1beta1/namespaces/shop/widgets/w",
        {"apiVersion": "example.com/v1beta1", "kind": "Widget", "metadata": {"name": "w"}},
        Preference.default(),
    )
    served = ApiResource("example.com", "v1", "widgets", "Widget", True)
    converted, note = convert(placed, served)
    assert converted.ref.path == "/apis/example.com/v1/namespaces/shop/widgets/w"
    assert converted.body["apiVersion"] == "example.com/v1"
    assert note == "converted from example.com/v1beta1 to example.com/v1"
    assert placed.body["apiVersion"] == "example.com/v1beta1"
