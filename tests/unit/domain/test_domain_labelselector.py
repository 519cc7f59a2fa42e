"""labelSelector: apimachinery's matchLabels/matchExpressions semantics, and refusal of bad shapes."""

from __future__ import annotations

from typing import Any

import pytest

from k8ssnap.domain.labelselector import LabelSelector

APP_WEB = {"app": "web", "tier": "front"}
APP_DB = {"app": "db"}
NONE: dict[str, str] = {}


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ({}, APP_WEB, True),
        ({}, NONE, True),
        ({"matchLabels": {"app": "web"}}, APP_WEB, True),
        ({"matchLabels": {"app": "web"}}, APP_DB, False),
        ({"matchLabels": {"app": "web"}}, NONE, False),
        ({"matchLabels": {"app": "web", "tier": "front"}}, APP_WEB, True),
        ({"matchLabels": {"app": "web", "tier": "back"}}, APP_WEB, False),
        ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "db"]}]}, APP_DB, True),
        ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]}, APP_DB, False),
        ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]}, APP_DB, True),
        ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]}, APP_WEB, False),
        # NotIn matches objects without the key (apimachinery)
        ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]}, NONE, True),
        ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, APP_WEB, True),
        ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, APP_DB, False),
        ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, APP_DB, True),
        ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, APP_WEB, False),
        # matchLabels AND matchExpressions
        (
            {
                "matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}],
            },
            APP_WEB,
            False,
        ),
    ],
)
def test_selector_matches(selector: dict[str, Any], labels: dict[str, str], matches: bool) -> None:
    assert LabelSelector.parse(selector).matches(labels) is matches


@pytest.mark.parametrize(
    ("selector", "complaint"),
    [
        ([], "must be an object"),
        ({"matchLabel": {"a": "b"}}, "unknown fields: matchLabel"),
        ({"matchLabels": ["a"]}, "matchLabels must be an object"),
        ({"matchLabels": {"a": 1}}, "string values"),
        ({"matchExpressions": {}}, "must be a list"),
        ({"matchExpressions": ["x"]}, "matchExpressions[0] must be an object"),
        ({"matchExpressions": [{"operator": "Exists"}]}, "key must be a non-empty string"),
        ({"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["b"]}]}, "must be one of"),
        ({"matchExpressions": [{"key": "a", "operator": "In"}]}, "needs at least one value"),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}, "needs at least one value"),
        ({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["b"]}]}, "takes no values"),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": [1]}]}, "list of strings"),
    ],
)
def test_malformed_selector_is_refused_not_read_as_match_all(selector: object, complaint: str) -> None:
    with pytest.raises(ValueError, match="labelSelector") as raised:
        LabelSelector.parse(selector)
    assert complaint in str(raised.value)
