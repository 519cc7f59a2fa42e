"""includeKinds / excludeKinds entries: ``resource.group``, core without a dot, kinds, wildcards."""

from __future__ import annotations

import pytest

from k8ssnap.domain.kindrules import KindRule
from k8ssnap.domain.paths import parse_path

DEPLOYMENT = "/apis/apps/v1/namespaces/shop/deployments/web"
CONFIGMAP = "/api/v1/namespaces/shop/configmaps/settings"
WIDGET = "/apis/example.com/v1beta1/namespaces/shop/widgets/w"
NAMESPACE = "/api/v1/namespaces/shop"
EXTENSIONS_DEPLOYMENT = "/apis/extensions/v1beta1/namespaces/shop/deployments/web"


@pytest.mark.parametrize(
    ("entry", "path", "kind", "matches"),
    [
        ("deployments.apps", DEPLOYMENT, "Deployment", True),
        ("deployments.apps", EXTENSIONS_DEPLOYMENT, "Deployment", False),  # the group counts
        ("deployments", DEPLOYMENT, "Deployment", False),  # no dot: the core group
        ("configmaps", CONFIGMAP, "ConfigMap", True),
        ("ConfigMap", CONFIGMAP, "ConfigMap", True),  # a kind, any case
        ("Deployment.apps", DEPLOYMENT, "Deployment", True),
        ("DEPLOYMENTS.APPS", DEPLOYMENT, "", True),
        ("widgets.example.com", WIDGET, "Widget", True),
        ("*.example.com", WIDGET, "Widget", True),
        ("*.example.com", DEPLOYMENT, "Deployment", False),
        ("*", WIDGET, "Widget", True),
        ("*", NAMESPACE, "Namespace", True),
        ("namespaces", NAMESPACE, "Namespace", True),
        (".apps", DEPLOYMENT, "", False),  # empty resource names nothing
        ("secrets", CONFIGMAP, "ConfigMap", False),
    ],
)
def test_kind_rule(entry: str, path: str, kind: str, matches: bool) -> None:
    assert KindRule.parse(entry).matches(parse_path(path), kind=kind) is matches


@pytest.mark.parametrize(
    ("entry", "shown"),
    [("deployments.apps", "deployments.apps"), (" configmaps ", "configmaps"), ("*", "*")],
)
def test_kind_rule_prints_as_written(entry: str, shown: str) -> None:
    assert str(KindRule.parse(entry)) == shown
