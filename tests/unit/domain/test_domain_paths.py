"""API paths: building, parsing and the round trip between them."""

from __future__ import annotations

import pytest

from k8ssnap.domain.paths import ApiResource, ObjectRef, collection_path, object_path, parse_path

PODS = ApiResource("", "v1", "pods", "Pod", True, frozenset({"list"}))
NAMESPACES = ApiResource("", "v1", "namespaces", "Namespace", False)
DEPLOYMENTS = ApiResource("apps", "v1", "deployments", "Deployment", True)
CLUSTER_ROLES = ApiResource("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False)
PVS = ApiResource("", "v1", "persistentvolumes", "PersistentVolume", False)


@pytest.mark.parametrize(
    ("resource", "expected_gv", "expected_prefix"),
    [
        (PODS, "v1", "/api/v1"),
        (DEPLOYMENTS, "apps/v1", "/apis/apps/v1"),
        (CLUSTER_ROLES, "rbac.authorization.k8s.io/v1", "/apis/rbac.authorization.k8s.io/v1"),
    ],
)
def test_group_version_and_prefix(resource: ApiResource, expected_gv: str, expected_prefix: str) -> None:
    assert resource.group_version == expected_gv
    assert resource.api_prefix == expected_prefix


@pytest.mark.parametrize(
    ("resource", "namespace", "name", "expected"),
    [
        (PODS, "default", "web-0", "/api/v1/namespaces/default/pods/web-0"),
        (NAMESPACES, None, "foo", "/api/v1/namespaces/foo"),
        (PVS, None, "pv-1", "/api/v1/persistentvolumes/pv-1"),
        (DEPLOYMENTS, "shop", "web", "/apis/apps/v1/namespaces/shop/deployments/web"),
        (
            CLUSTER_ROLES,
            None,
            "system:node",
            "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:node",
        ),
    ],
)
def test_object_path_and_round_trip(
    resource: ApiResource, namespace: str | None, name: str, expected: str
) -> None:
    path = object_path(resource, namespace=namespace, name=name)
    assert path == expected
    ref = parse_path(path)
    assert ref == ObjectRef(resource.group, resource.version, resource.resource, namespace, name)
    assert ref.path == path


@pytest.mark.parametrize(
    ("resource", "namespace", "name"),
    [
        (PODS, None, "web"),  # namespaced without a namespace
        (PVS, "default", "pv"),  # cluster-scoped with one
        (PODS, "default", "a/b"),  # slash would change the path's meaning
        (PODS, "default", ".."),
        (PODS, "default", ""),
    ],
)
def test_object_path_rejects(resource: ApiResource, namespace: str | None, name: str) -> None:
    with pytest.raises(ValueError):
        object_path(resource, namespace=namespace, name=name)


@pytest.mark.parametrize(
    ("resource", "namespace", "expected"),
    [
        (PODS, None, "/api/v1/pods"),
        (PODS, "kube-system", "/api/v1/namespaces/kube-system/pods"),
        (DEPLOYMENTS, "shop", "/apis/apps/v1/namespaces/shop/deployments"),
        (NAMESPACES, None, "/api/v1/namespaces"),
    ],
)
def test_collection_path(resource: ApiResource, namespace: str | None, expected: str) -> None:
    assert collection_path(resource, namespace) == expected


def test_collection_path_rejects_namespace_for_cluster_scope() -> None:
    with pytest.raises(ValueError):
        collection_path(PVS, "default")


@pytest.mark.parametrize(
    "path",
    [
        "",
        "api/v1/pods/x",
        "/api/v1/pods",  # collection
        "/api/v1/namespaces/default/pods/x/status",  # subresource
        "/apis/apps/v1/namespaces/default/deployments",
        "/apis/apps",
        "/api/v1/namespaces//pods/x",
        "/api/v1/foo/../x",
        "/other/v1/pods/x",
        "/api/v1/namespaces/default/pods/x/",
    ],
)
def test_parse_path_rejects(path: str) -> None:
    with pytest.raises(ValueError):
        parse_path(path)


def test_group_resource_string() -> None:
    assert str(DEPLOYMENTS.group_resource) == "deployments.apps"
    assert str(PODS.group_resource) == "pods"
