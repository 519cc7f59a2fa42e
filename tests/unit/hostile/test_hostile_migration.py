"""Hostile inputs to the migration rules (issue 15): bad preferences are refused, odd objects pass."""

from __future__ import annotations

from typing import Any

import pytest

from k8ssnap.api.resources import parse_restore_preference
from k8ssnap.domain.namespacemap import NamespaceMapping
from k8ssnap.domain.paths import parse_path
from k8ssnap.domain.placement import place
from k8ssnap.domain.preference import Preference
from k8ssnap.errors import ConfigError


def _preference(spec: dict[str, Any]) -> Any:
    return parse_restore_preference({"metadata": {"name": "p", "namespace": "n"}, "spec": spec})


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"labelSelector": "app=web"}, "spec.labelSelector"),
        ({"labelSelector": {"matchLabel": {"app": "web"}}}, "spec.labelSelector"),
        ({"labelSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}}, "spec.labelSelector"),
        ({"namespaceMapping": ["shop", "staging"]}, "spec.namespaceMapping"),
        ({"namespaceMapping": {"shop": "Staging!"}}, "spec.namespaceMapping"),
        ({"includeKinds": "deployments.apps"}, "spec.includeKinds"),
        ({"excludeKinds": [3]}, "spec.excludeKinds"),
        ({"restoreOptions": ["wholecluster"]}, "spec.restoreOptions"),
    ],
)
def test_fault_malformed_migration_field_is_a_config_error_naming_it(
    spec: dict[str, Any], field: str
) -> None:
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        _preference(spec)


def test_fault_misspelt_selector_never_selects_everything() -> None:
    with pytest.raises(ValueError, match="unknown fields"):
        Preference.from_spec({"labelSelector": {"matchlabels": {"app": "web"}}})


MAPPING = NamespaceMapping.parse({"shop": "staging"})
RBAC = "/apis/rbac.authorization.k8s.io/v1"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/namespaces/shop/configmaps/c", {"metadata": ["not", "an", "object"]}),
        ("/api/v1/namespaces/shop", {"metadata": {"name": 7, "labels": "x"}}),
        (f"{RBAC}/namespaces/shop/rolebindings/b", {"subjects": "everyone"}),
        (
            f"{RBAC}/clusterrolebindings/b",
            {"subjects": [None, 1, {"kind": "ServiceAccount", "namespace": 5}]},
        ),
        ("/api/v1/persistentvolumes/pv", {"spec": {"claimRef": "shop/data"}}),
        ("/api/v1/persistentvolumes/pv", {"spec": []}),
        ("/api/v1/namespaces/shop/pods/p", {"kind": "Pod", "spec": {"affinity": {"podAffinity": []}}}),
        (
            "/apis/apps/v1/namespaces/shop/deployments/d",
            {
                "spec": {
                    "template": {
                        "spec": {
                            "affinity": {
                                "podAntiAffinity": {
                                    "requiredDuringSchedulingIgnoredDuringExecution": [
                                        {"namespaces": [None, "shop"]}
                                    ],
                                    "preferredDuringSchedulingIgnoredDuringExecution": "x",
                                }
                            }
                        }
                    }
                }
            },
        ),
        (
            "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies/n",
            {"spec": {"ingress": [{"from": "x"}]}},
        ),
        ("/api/v1/namespaces/shop/endpoints/e", {"subsets": [{"addresses": "x"}]}),
        (
            "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/w",
            {"webhooks": [{"clientConfig": None}]},
        ),
    ],
)
def test_fault_odd_shapes_are_mapped_where_possible_and_never_raise(path: str, body: dict[str, Any]) -> None:
    MAPPING.apply(parse_path(path), body)


def test_fault_a_hostile_namespace_object_is_placed_under_its_path_name() -> None:
    """The path decides where an object goes; a body naming another namespace cannot redirect it."""
    preference = Preference.from_spec({"namespaceMapping": {"shop": "staging"}})
    placed = place(
        "/api/v1/namespaces/shop/configmaps/c",
        {"metadata": {"name": "c", "namespace": "kube-system"}},
        preference,
    )
    assert placed.ref.namespace == "staging"
    assert placed.body["metadata"]["namespace"] == "staging"
