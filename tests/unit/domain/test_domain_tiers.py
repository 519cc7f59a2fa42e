"""Tier assignment and classification."""

from __future__ import annotations

import pytest

from k8ssnap.domain.plan import PreferenceExcluded, Tier, Tiered, classify
from k8ssnap.domain.preference import Preference

NFS = Preference.from_spec({"restoreNfsStorageClasses": ["nfs"]})


@pytest.mark.parametrize(
    ("path", "tier"),
    [
        ("/api/v1/namespaces/foo", Tier.NAMESPACES),
        ("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/a.example.com", Tier.CRDS),
        ("/apis/apiextensions.k8s.io/v1beta1/customresourcedefinitions/a.example.com", Tier.CRDS),
        ("/apis/storage.k8s.io/v1/storageclasses/nfs-client", Tier.STORAGE),
        ("/api/v1/persistentvolumes/pv-1", Tier.STORAGE),
        ("/api/v1/namespaces/foo/persistentvolumeclaims/data", Tier.STORAGE),
        ("/apis/rbac.authorization.k8s.io/v1/namespaces/foo/roles/r", Tier.IDENTITY),
        ("/apis/rbac.authorization.k8s.io/v1/clusterroles/r", Tier.IDENTITY),
        ("/apis/rbac.authorization.k8s.io/v1/namespaces/foo/rolebindings/rb", Tier.IDENTITY),
        ("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/crb", Tier.IDENTITY),
        ("/api/v1/namespaces/foo/serviceaccounts/sa", Tier.IDENTITY),
        ("/api/v1/namespaces/foo/secrets/s", Tier.IDENTITY),
        ("/api/v1/namespaces/foo/configmaps/c", Tier.IDENTITY),
        ("/api/v1/namespaces/foo/services/web", Tier.GENERAL),
        ("/api/v1/namespaces/foo/pods/web", Tier.GENERAL),
        ("/apis/networking.k8s.io/v1/namespaces/foo/ingresses/web", Tier.GENERAL),
        ("/apis/example.com/v1/namespaces/foo/widgets/w", Tier.GENERAL),
        ("/apis/apps/v1/namespaces/foo/deployments/web", Tier.APPS),
        ("/apis/apps/v1/namespaces/foo/statefulsets/db", Tier.APPS),
        ("/apis/batch/v1/namespaces/foo/cronjobs/nightly", Tier.APPS),
    ],
)
def test_tier_assignment(path: str, tier: Tier) -> None:
    obj = {"metadata": {"name": path.rsplit("/", 1)[1]}}
    result = classify(path, obj, NFS)
    assert isinstance(result, Tiered)
    assert result.tier == tier
    assert result.obj is obj
    assert result.path == path


def test_fixed_tiers_win_over_app_rules() -> None:
    preference = Preference.from_spec({"restoreAppApiPathes": ["/api/v1"]})
    secret = classify("/api/v1/namespaces/foo/secrets/s", {}, preference)
    pod = classify("/api/v1/namespaces/foo/pods/p", {}, preference)
    assert isinstance(secret, Tiered)
    assert isinstance(pod, Tiered)
    assert (secret.tier, pod.tier) == (Tier.IDENTITY, Tier.APPS)


def test_preference_excluded() -> None:
    preference = Preference.from_spec({"excludeNamespaces": ["foo"]})
    result = classify("/api/v1/namespaces/foo/pods/web", {}, preference)
    assert isinstance(result, PreferenceExcluded)
    assert result.rule == "exclude-namespaces"


def test_tiers_are_ordered() -> None:
    assert sorted(Tier) == [
        Tier.NAMESPACES,
        Tier.CRDS,
        Tier.STORAGE,
        Tier.IDENTITY,
        Tier.GENERAL,
        Tier.APPS,
    ]
    assert [int(t) for t in Tier] == [1, 2, 3, 4, 5, 6]


def test_classify_rejects_bad_path() -> None:
    with pytest.raises(ValueError):
        classify("/api/v1/pods", {}, NFS)
