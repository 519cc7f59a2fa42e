"""RestorePreference parsing and every matching rule."""

from __future__ import annotations

from typing import Any

import pytest

from k8ssnap.domain.paths import parse_path
from k8ssnap.domain.preference import ApiPathRule, Preference, match_api_path

NS_FOO = "/api/v1/namespaces/foo"
NS_KUBE_SYSTEM = "/api/v1/namespaces/kube-system"
POD_FOO = "/api/v1/namespaces/foo/pods/web"
POD_KUBE_SYSTEM = "/api/v1/namespaces/kube-system/pods/dns"
DEPLOY_FOO = "/apis/apps/v1/namespaces/foo/deployments/web"
CM_BAR = "/api/v1/namespaces/bar/configmaps/cfg"
CRD_CALICO = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/ippools.crd.projectcalico.org"
CRD_CERTS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/certificates.cert-manager.io"
CLUSTER_ROLE = "/apis/rbac.authorization.k8s.io/v1/clusterroles/viewer"
SC_NFS = "/apis/storage.k8s.io/v1/storageclasses/nfs-client"
SC_GP2 = "/apis/storage.k8s.io/v1/storageclasses/gp2"


def excluded(spec: dict[str, Any], path: str) -> str | None:
    return Preference.from_spec(spec).exclusion(parse_path(path))


@pytest.mark.parametrize(
    ("rule", "path", "matched"),
    [
        ("/api/v1", POD_FOO, True),
        ("/apis/apps", POD_FOO, False),
        ("/api/v1,pods", POD_FOO, True),
        ("/api/v1,configmaps", POD_FOO, False),
        ("/apis/apps,deployments", DEPLOY_FOO, True),
        ("/apis/apps,*", DEPLOY_FOO, True),  # k8s-snap took * literally and never matched
        ("/apis/apps,", DEPLOY_FOO, True),
        ("/api/v1/namespaces/foo", POD_FOO, True),
        ("/api/v1/namespaces/foo", NS_FOO, True),
        (" /api/v1 , pods ", POD_FOO, True),
    ],
)
def test_match_api_path(rule: str, path: str, matched: bool) -> None:
    assert match_api_path(rule, path) is matched


def test_api_path_rule_parse_and_str() -> None:
    assert ApiPathRule.parse("/apis/apps,/deployments/") == ApiPathRule("/apis/apps", "/deployments/")
    assert str(ApiPathRule.parse("/api/v1,pods")) == "/api/v1,pods"
    assert str(ApiPathRule.parse("/api/v1")) == "/api/v1"


@pytest.mark.parametrize(
    ("spec", "path", "rule"),
    [
        # excludeNamespaces: exact, for the Namespace object and everything in it
        ({"excludeNamespaces": ["foo"]}, NS_FOO, "exclude-namespaces"),
        ({"excludeNamespaces": ["foo"]}, POD_FOO, "exclude-namespaces"),
        ({"excludeNamespaces": ["foo"]}, CM_BAR, None),
        ({"excludeNamespaces": ["kube"]}, NS_KUBE_SYSTEM, None),  # no substring match
        ({"excludeNamespaces": ["kube"]}, POD_KUBE_SYSTEM, None),
        ({"excludeNamespaces": ["foo"]}, CLUSTER_ROLE, None),
        # excludeCRDs: contains, on CRDs only
        ({"excludeCRDs": ["projectcalico.org"]}, CRD_CALICO, "exclude-crds"),
        ({"excludeCRDs": ["projectcalico.org"]}, CRD_CERTS, None),
        # excludeApiPathes: prefix / prefix,contains
        ({"excludeApiPathes": ["/apis/apps"]}, DEPLOY_FOO, "exclude-api-pathes"),
        ({"excludeApiPathes": ["/api/v1,configmaps"]}, CM_BAR, "exclude-api-pathes"),
        ({"excludeApiPathes": ["/api/v1,configmaps"]}, POD_FOO, None),
        # includeNamespaces: only these (exact); cluster-scoped objects unaffected
        ({"includeNamespaces": ["foo"]}, POD_FOO, None),
        ({"includeNamespaces": ["foo"]}, NS_FOO, None),
        ({"includeNamespaces": ["foo"]}, CM_BAR, "include-namespaces"),
        ({"includeNamespaces": ["fo"]}, POD_FOO, "include-namespaces"),
        ({"includeNamespaces": ["foo"]}, CLUSTER_ROLE, None),
        # includeCRDs: only matching CRDs (contains)
        ({"includeCRDs": ["cert-manager"]}, CRD_CERTS, None),
        ({"includeCRDs": ["cert-manager"]}, CRD_CALICO, "include-crds"),
        ({"includeCRDs": ["cert-manager"]}, POD_FOO, None),
        # includeApiPathes: only matching paths; Namespace objects exempt
        ({"includeApiPathes": ["/apis/apps"]}, DEPLOY_FOO, None),
        ({"includeApiPathes": ["/apis/apps"]}, POD_FOO, "include-api-pathes"),
        ({"includeApiPathes": ["/apis/apps"]}, NS_FOO, None),
        ({"includeApiPathes": ["/api/v1,pods"]}, POD_FOO, None),
        # storage classes: only restoreNfsStorageClasses prefixes (k8s-snap)
        ({"restoreNfsStorageClasses": ["nfs"]}, SC_NFS, None),
        ({"restoreNfsStorageClasses": ["nfs"]}, SC_GP2, "storageclass-not-nfs"),
        ({}, SC_NFS, "storageclass-not-nfs"),
    ],
)
def test_rules(spec: dict[str, Any], path: str, rule: str | None) -> None:
    assert excluded(spec, path) == rule


@pytest.mark.parametrize(
    ("spec", "path", "rule"),
    [
        (
            {"includeNamespaces": ["foo"], "excludeNamespaces": ["foo"]},
            POD_FOO,
            "exclude-namespaces",
        ),
        (
            {"includeApiPathes": ["/apis/apps"], "excludeApiPathes": ["/apis/apps,deployments"]},
            DEPLOY_FOO,
            "exclude-api-pathes",
        ),
        ({"includeCRDs": ["calico"], "excludeCRDs": ["ippools"]}, CRD_CALICO, "exclude-crds"),
        ({"includeNamespaces": ["foo"], "excludeApiPathes": ["/apis/apps"]}, POD_FOO, None),
    ],
)
def test_excludes_win_over_includes(spec: dict[str, Any], path: str, rule: str | None) -> None:
    assert excluded(spec, path) == rule


def test_default_excludes_nothing_but_storage_classes() -> None:
    default = Preference.default()
    for path in (NS_KUBE_SYSTEM, POD_FOO, CRD_CALICO, CLUSTER_ROLE, DEPLOY_FOO):
        assert default.exclusion(parse_path(path)) is None
    assert default.exclusion(parse_path(SC_NFS)) == "storageclass-not-nfs"
    assert default == Preference.from_spec({})


@pytest.mark.parametrize(
    ("spec", "path", "is_app"),
    [
        ({}, DEPLOY_FOO, True),
        ({}, "/apis/apps/v1/namespaces/foo/statefulsets/db", True),
        ({}, "/apis/apps/v1/namespaces/foo/daemonsets/agent", True),
        ({}, "/apis/apps/v1/namespaces/foo/replicasets/web-1", True),
        ({}, "/apis/batch/v1/namespaces/foo/jobs/once", True),
        ({}, "/apis/batch/v1/namespaces/foo/cronjobs/nightly", True),
        ({}, "/apis/apps/v1/namespaces/foo/controllerrevisions/web-1", False),
        ({}, POD_FOO, False),
        ({"restoreAppApiPathes": []}, DEPLOY_FOO, False),  # explicit empty: no app tier
        ({"restoreAppApiPathes": ["/api/v1,pods"]}, POD_FOO, True),
        ({"restoreAppApiPathes": ["/api/v1,pods"]}, DEPLOY_FOO, False),
    ],
)
def test_app_paths(spec: dict[str, Any], path: str, is_app: bool) -> None:
    assert Preference.from_spec(spec).is_app(path) is is_app


@pytest.mark.parametrize(
    ("options", "overwrite"),
    [
        (None, False),
        ({"overwriteExisting": True}, True),
        ({"overwriteExisting": "true"}, False),
        ({"overwriteExisting": False}, False),
        (["overwriteExisting"], True),  # k8s-snap's list form
        (["restorePVDifinitions"], False),
    ],
)
def test_restore_options(options: object, overwrite: bool) -> None:
    assert Preference.from_spec({"restoreOptions": options}).overwrite_existing is overwrite


def test_from_spec_ignores_junk() -> None:
    preference = Preference.from_spec(
        {"excludeNamespaces": ["a", 3, None, " ", " b "], "excludeCRDs": "not-a-list"}
    )
    assert preference.exclude_namespaces == frozenset({"a", "b"})
    assert preference.exclude_crds == ()


@pytest.mark.parametrize(
    ("prefixes", "name", "allowed"),
    [(("nfs",), "nfs-client", True), (("nfs",), "gp2", False), ((), "nfs", False)],
)
def test_nfs_storage_class(prefixes: tuple[str, ...], name: str, allowed: bool) -> None:
    spec = {"restoreNfsStorageClasses": list(prefixes)}
    assert Preference.from_spec(spec).nfs_storage_class(name) is allowed
