"""Diff classification on in-memory objects: what counts as changed, gone or new."""

from __future__ import annotations

import copy
from typing import Any

from k8ssnap.app import cli_diff
from k8ssnap.domain.paths import parse_path

CM = "/api/v1/namespaces/app/configmaps/settings"
GONE = "/api/v1/namespaces/app/configmaps/gone"
NEW = "/api/v1/namespaces/app/configmaps/new"
SVC = "/api/v1/namespaces/app/services/web"


def configmap(name: str, data: dict[str, str], **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "app", **meta},
        "data": data,
    }


def service(cluster_ip: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "app"},
        "spec": {"clusterIP": cluster_ip, "clusterIPs": [cluster_ip], "ports": [{"port": 80}]},
        "status": {"loadBalancer": {}},
    }


def test_classify_sorts_objects_into_gone_new_changed_and_unchanged() -> None:
    snapshot = {
        CM: configmap("settings", {"a": "1"}),
        GONE: configmap("gone", {}),
        SVC: service("10.0.0.1"),
    }
    live = {
        CM: configmap("settings", {"a": "2"}),
        NEW: configmap("new", {}),
        SVC: service("10.0.0.1"),
    }
    result = cli_diff.classify(cli_diff.digests(snapshot), cli_diff.digests(live))
    assert result == cli_diff.DiffResult(only_snapshot=(GONE,), only_live=(NEW,), changed=(CM,), unchanged=1)
    assert not result.identical


def test_server_set_fields_and_status_do_not_count_as_changes() -> None:
    archived = configmap(
        "settings",
        {"a": "1"},
        uid="u-1",
        resourceVersion="100",
        creationTimestamp="2026-01-01T00:00:00Z",
        managedFields=[{"manager": "kubectl"}],
        generation=1,
    )
    current = configmap(
        "settings",
        {"a": "1"},
        uid="u-2",
        resourceVersion="999",
        creationTimestamp="2026-02-02T00:00:00Z",
        managedFields=[{"manager": "someone-else"}],
        generation=7,
    )
    archived_service, current_service = service("10.0.0.1"), service("10.0.0.99")
    current_service["status"] = {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}
    result = cli_diff.classify(
        cli_diff.digests({CM: archived, SVC: archived_service}),
        cli_diff.digests({CM: current, SVC: current_service}),
    )
    assert result.identical
    assert result.unchanged == 2


def test_key_order_does_not_matter() -> None:
    one = configmap("settings", {"a": "1", "b": "2"})
    other = copy.deepcopy(one)
    other["data"] = {"b": "2", "a": "1"}
    assert cli_diff.classify(cli_diff.digests({CM: one}), cli_diff.digests({CM: other})).identical


def test_normalize_leaves_its_input_alone() -> None:
    original = service("10.0.0.1")
    kept = copy.deepcopy(original)
    cli_diff.normalize(SVC, original)
    assert original == kept


def test_objects_match_across_versions_and_differ_by_api_version() -> None:
    old = "/apis/autoscaling/v1/namespaces/app/horizontalpodautoscalers/web"
    new = "/apis/autoscaling/v2/namespaces/app/horizontalpodautoscalers/web"
    body: dict[str, Any] = {
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "app"},
    }
    result = cli_diff.classify(
        cli_diff.digests({old: {**body, "apiVersion": "autoscaling/v1"}}),
        cli_diff.digests({new: {**body, "apiVersion": "autoscaling/v2"}}),
    )
    assert result == cli_diff.DiffResult(only_snapshot=(), only_live=(), changed=(old,), unchanged=0)


def test_same_name_in_another_namespace_is_another_object() -> None:
    other = "/api/v1/namespaces/other/configmaps/settings"
    result = cli_diff.classify(
        cli_diff.digests({CM: configmap("settings", {})}),
        cli_diff.digests({other: configmap("settings", {})}),
    )
    assert result.only_snapshot == (CM,)
    assert result.only_live == (other,)


def test_in_namespace_includes_the_namespace_itself() -> None:
    assert cli_diff.in_namespace(parse_path("/api/v1/namespaces/app"), "app")
    assert cli_diff.in_namespace(parse_path(CM), "app")
    assert not cli_diff.in_namespace(parse_path("/api/v1/namespaces/other"), "app")
    assert not cli_diff.in_namespace(parse_path("/api/v1/persistentvolumes/pv"), "app")


def test_render_lists_each_kind_of_difference_with_details() -> None:
    result = cli_diff.DiffResult(only_snapshot=(GONE,), only_live=(NEW,), changed=(CM,), unchanged=3)
    details = {CM: cli_diff.unified(CM, configmap("settings", {"a": "1"}), configmap("settings", {"a": "2"}))}
    text = cli_diff.render(result, details=details)
    assert f"  - {GONE}" in text
    assert f"  + {NEW}" in text
    assert f"  ~ {CM}" in text
    assert "      -  a: '1'" in text
    assert "      +  a: '2'" in text
    assert text.endswith("1 only in the snapshot, 1 only in the cluster, 1 changed, 3 unchanged\n")


def test_render_of_no_difference_is_one_line() -> None:
    result = cli_diff.DiffResult(only_snapshot=(), only_live=(), changed=(), unchanged=5)
    assert result.identical
    assert (
        cli_diff.render(result) == "0 only in the snapshot, 0 only in the cluster, 0 changed, 5 unchanged\n"
    )


def test_excluded_objects_are_shown_apart_with_their_reasons() -> None:
    result = cli_diff.DiffResult(
        only_snapshot=("/api/v1/namespaces/a/configmaps/c", "/api/v1/namespaces/a/pods/web-1"),
        only_live=(),
        changed=(),
        unchanged=0,
    ).with_excluded({"/api/v1/namespaces/a/pods/web-1": "owner-ref"})

    assert result.only_snapshot == ("/api/v1/namespaces/a/configmaps/c",)
    assert not result.identical
    assert cli_diff.render(result).splitlines() == [
        "1 only in the snapshot (a restore would create them):",
        "  - /api/v1/namespaces/a/configmaps/c",
        "1 only in the snapshot, but a restore excludes them:",
        "  x /api/v1/namespaces/a/pods/web-1 (owner-ref)",
        "1 only in the snapshot, 0 only in the cluster, 0 changed, 0 unchanged, 1 excluded from a restore",
    ]
