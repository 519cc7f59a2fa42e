"""namespaceMapping: every namespace reference restore-rules.md lists is rewritten, nothing else."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from k8ssnap.domain.namespacemap import NamespaceMapping
from k8ssnap.domain.paths import parse_path

Obj = dict[str, Any]
MAP = NamespaceMapping.parse({"shop": "shop-staging"})
RBAC = "/apis/rbac.authorization.k8s.io/v1"


def mapped(path: str, obj: Obj) -> Obj:
    body = copy.deepcopy(obj)
    MAP.apply(parse_path(path), body)
    return body


def test_namespaced_object_moves() -> None:
    path = "/api/v1/namespaces/shop/configmaps/c"
    body = mapped(path, {"metadata": {"name": "c", "namespace": "shop"}})
    assert body["metadata"]["namespace"] == "shop-staging"
    assert MAP.ref(parse_path(path)).path == "/api/v1/namespaces/shop-staging/configmaps/c"


def test_unmapped_namespace_stays() -> None:
    path = "/api/v1/namespaces/other/configmaps/c"
    assert mapped(path, {"metadata": {"namespace": "other"}})["metadata"]["namespace"] == "other"
    assert MAP.ref(parse_path(path)).path == path


def test_namespace_object_is_renamed_with_its_name_label() -> None:
    path = "/api/v1/namespaces/shop"
    obj = {"metadata": {"name": "shop", "labels": {"kubernetes.io/metadata.name": "shop", "team": "a"}}}
    body = mapped(path, obj)
    assert body["metadata"] == {
        "name": "shop-staging",
        "labels": {"kubernetes.io/metadata.name": "shop-staging", "team": "a"},
    }
    assert MAP.ref(parse_path(path)).path == "/api/v1/namespaces/shop-staging"


@pytest.mark.parametrize(
    "binding", [f"{RBAC}/namespaces/shop/rolebindings/b", f"{RBAC}/clusterrolebindings/b"]
)
def test_binding_service_account_subjects_are_mapped_users_are_not(binding: str) -> None:
    obj = {
        "subjects": [
            {"kind": "ServiceAccount", "name": "app", "namespace": "shop"},
            {"kind": "ServiceAccount", "name": "ci", "namespace": "ci"},
            {"kind": "User", "name": "shop", "apiGroup": "rbac.authorization.k8s.io"},
            {"kind": "Group", "name": "shop", "namespace": "shop"},
        ]
    }
    subjects = mapped(binding, obj)["subjects"]
    assert [s.get("namespace") for s in subjects] == ["shop-staging", "ci", None, "shop"]


def test_volume_claim_ref_follows_a_mapped_claim() -> None:
    path = "/api/v1/persistentvolumes/pv1"
    body = mapped(path, {"spec": {"claimRef": {"namespace": "shop", "name": "data"}}})
    assert body["spec"]["claimRef"] == {"namespace": "shop-staging", "name": "data"}
    other = mapped(path, {"spec": {"claimRef": {"namespace": "ci", "name": "data"}}})
    assert other["spec"]["claimRef"]["namespace"] == "ci"


def test_claim_data_source_ref_namespace() -> None:
    path = "/api/v1/namespaces/shop/persistentvolumeclaims/data"
    body = mapped(path, {"spec": {"dataSourceRef": {"kind": "VolumeSnapshot", "namespace": "shop"}}})
    assert body["spec"]["dataSourceRef"]["namespace"] == "shop-staging"


AFFINITY = {
    "podAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            {"namespaces": ["shop", "ci"], "topologyKey": "k"},
        ],
    },
    "podAntiAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {
                "weight": 1,
                "podAffinityTerm": {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shop"}},
                    "topologyKey": "k",
                },
            }
        ],
    },
}


def _affinity_namespaces(pod_spec: Obj) -> tuple[list[str], str]:
    affinity = pod_spec["affinity"]
    required = affinity["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]["namespaces"]
    term = affinity["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0][
        "podAffinityTerm"
    ]
    return required, term["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]


@pytest.mark.parametrize(
    ("path", "obj", "where"),
    [
        ("/api/v1/namespaces/shop/pods/p", {"kind": "Pod", "spec": {"affinity": AFFINITY}}, ("spec",)),
        (
            "/apis/apps/v1/namespaces/shop/deployments/d",
            {"kind": "Deployment", "spec": {"template": {"spec": {"affinity": AFFINITY}}}},
            ("spec", "template", "spec"),
        ),
        (
            "/apis/batch/v1/namespaces/shop/cronjobs/c",
            {
                "kind": "CronJob",
                "spec": {"jobTemplate": {"spec": {"template": {"spec": {"affinity": AFFINITY}}}}},
            },
            ("spec", "jobTemplate", "spec", "template", "spec"),
        ),
    ],
)
def test_pod_affinity_namespaces(path: str, obj: Obj, where: tuple[str, ...]) -> None:
    pod_spec = mapped(path, obj)
    for key in where:
        pod_spec = pod_spec[key]
    assert _affinity_namespaces(pod_spec) == (["shop-staging", "ci"], "shop-staging")


def test_network_policy_namespace_selectors() -> None:
    path = "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies/n"
    by_name = {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["shop", "ci"]}
    other_key = {"key": "team", "operator": "In", "values": ["shop"]}
    obj = {
        "spec": {
            "ingress": [{"from": [{"namespaceSelector": {"matchExpressions": [by_name, other_key]}}]}],
            "egress": [
                {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shop"}}}]}
            ],
        }
    }
    spec = mapped(path, obj)["spec"]
    expressions = spec["ingress"][0]["from"][0]["namespaceSelector"]["matchExpressions"]
    assert expressions[0]["values"] == ["shop-staging", "ci"]
    assert expressions[1]["values"] == ["shop"]  # a team label is not a namespace name
    assert spec["egress"][0]["to"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "shop-staging"
    }


def test_endpoint_target_refs() -> None:
    endpoints = mapped(
        "/api/v1/namespaces/shop/endpoints/e",
        {"subsets": [{"addresses": [{"targetRef": {"namespace": "shop"}}], "notReadyAddresses": [{}]}]},
    )
    assert endpoints["subsets"][0]["addresses"][0]["targetRef"]["namespace"] == "shop-staging"
    slices = mapped(
        "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices/e",
        {"endpoints": [{"targetRef": {"namespace": "shop"}}, "junk"]},
    )
    assert slices["endpoints"][0]["targetRef"]["namespace"] == "shop-staging"


@pytest.mark.parametrize(
    ("path", "obj", "service_at"),
    [
        (
            "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/w",
            {"webhooks": [{"clientConfig": {"service": {"namespace": "shop", "name": "hook"}}}]},
            lambda b: b["webhooks"][0]["clientConfig"]["service"],
        ),
        (
            "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/w",
            {"webhooks": [{"clientConfig": {"service": {"namespace": "shop", "name": "hook"}}}]},
            lambda b: b["webhooks"][0]["clientConfig"]["service"],
        ),
        (
            "/apis/apiregistration.k8s.io/v1/apiservices/v1.example.com",
            {"spec": {"service": {"namespace": "shop", "name": "api"}}},
            lambda b: b["spec"]["service"],
        ),
        (
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com",
            {"spec": {"conversion": {"webhook": {"clientConfig": {"service": {"namespace": "shop"}}}}}},
            lambda b: b["spec"]["conversion"]["webhook"]["clientConfig"]["service"],
        ),
    ],
)
def test_called_services(path: str, obj: Obj, service_at: Any) -> None:
    assert service_at(mapped(path, obj))["namespace"] == "shop-staging"


def test_free_text_is_left_alone() -> None:
    path = "/api/v1/namespaces/shop/services/ext"
    obj = {"metadata": {"namespace": "shop"}, "spec": {"type": "ExternalName", "externalName": "db.shop.svc"}}
    assert mapped(path, obj)["spec"]["externalName"] == "db.shop.svc"


def test_empty_mapping_changes_nothing() -> None:
    obj = {"metadata": {"namespace": "shop"}, "subjects": [{"kind": "ServiceAccount", "namespace": "shop"}]}
    body = copy.deepcopy(obj)
    NamespaceMapping().apply(parse_path(f"{RBAC}/namespaces/shop/rolebindings/b"), body)
    assert body == obj
    assert not NamespaceMapping.parse({"shop": "shop"})  # identity pairs are dropped


@pytest.mark.parametrize(
    "value",
    [["shop"], {"shop": ""}, {"Shop": "x"}, {"shop": "a/b"}, {"shop": 1}, {"shop": "x" * 64}],
)
def test_malformed_mapping_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="namespaceMapping"):
        NamespaceMapping.parse(value)
