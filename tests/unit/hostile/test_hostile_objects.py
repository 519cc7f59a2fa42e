"""Hostile archived objects: whatever JSON an archive holds, a restore reports, never aborts.

Issue 11, fault 9: a Pod whose ``volumes`` or ``volumeMounts`` hold a
non-object, or whose volume name is a list, raised inside the transform and
aborted the whole restore after earlier tiers were created.
"""

from __future__ import annotations

from typing import Any

import pytest

from k8ssnap import retry
from k8ssnap.domain.plan import transform
from k8ssnap.domain.preference import Preference
from k8ssnap.restore import RestoreEngine, RestoreJob
from tests.unit.restore.fakes import BUILTIN, FakeApiServer, archive, store

POD = "/api/v1/namespaces/n/pods/p"
TOKEN = {"name": "tok", "secret": {"secretName": "default-token-abc"}}
#: Values of every JSON type, and the shapes that broke the Pod rule.
ODD: tuple[Any, ...] = (None, 1, 1.5, True, "x", [], [1], {}, [None], ["x"], {"a": [1]}, [[1]])


def pod(spec: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "Pod", "metadata": {"name": "p", "namespace": "n"}, "spec": spec}


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({"volumes": [TOKEN, "junk"]}, id="volume-not-an-object"),
        pytest.param({"volumes": [TOKEN, {"name": ["a"]}]}, id="volume-name-a-list"),
        pytest.param(
            {"volumes": [{"name": ["a"], "secret": {"secretName": "default-token-x"}}]},
            id="token-volume-name-a-list",
        ),
        pytest.param(
            {"volumes": [TOKEN], "containers": [{"name": "c", "volumeMounts": ["junk", 1]}]},
            id="mount-not-an-object",
        ),
        pytest.param(
            {"volumes": [TOKEN], "containers": [{"name": "c", "volumeMounts": [{"name": {"x": 1}}]}]},
            id="mount-name-an-object",
        ),
    ],
)
def test_fault_9_odd_pod_volumes_are_transformed_without_error(spec: dict[str, Any]) -> None:
    new = transform(POD, pod(spec))

    volumes = new["spec"]["volumes"]
    assert TOKEN not in volumes  # the legacy token volume is still dropped
    assert all(v != TOKEN for v in volumes)


def test_fault_9_odd_entries_are_kept_for_the_api_server_to_judge() -> None:
    spec = {
        "volumes": [TOKEN, "junk", {"name": ["a"]}],
        "containers": [{"name": "c", "volumeMounts": [{"name": "tok"}, 7, {"name": ["a"]}]}],
    }
    new = transform(POD, pod(spec))

    assert new["spec"]["volumes"] == ["junk", {"name": ["a"]}]
    assert new["spec"]["containers"][0]["volumeMounts"] == [7, {"name": ["a"]}]


_RESOURCES = {
    "pods": ("/api/v1/namespaces/n/pods/p", ("spec", "volumes", "containers", "serviceAccountName")),
    "services": ("/api/v1/namespaces/n/services/s", ("spec", "ports", "type", "clusterIP", "metadata")),
    "persistentvolumes": ("/api/v1/persistentvolumes/v", ("spec", "claimRef", "metadata")),
    "persistentvolumeclaims": ("/api/v1/namespaces/n/persistentvolumeclaims/c", ("metadata",)),
    "serviceaccounts": ("/api/v1/namespaces/n/serviceaccounts/a", ("secrets", "metadata")),
    "jobs": ("/apis/batch/v1/namespaces/n/jobs/j", ("spec", "selector", "template", "metadata")),
}


def _variants() -> list[tuple[str, dict[str, Any]]]:
    """Each transformed field, at the top and inside ``spec``, holding each odd value."""
    made = []
    for path, fields in _RESOURCES.values():
        for field in fields:
            for value in ODD:
                made.append((path, {"metadata": {"name": "x"}, field: value}))
                made.append((path, {"metadata": {"name": "x"}, "spec": {field: value}}))
                made.append((path, {"metadata": {"name": "x"}, "spec": {field: [value, {"name": value}]}}))
    return made


@pytest.mark.parametrize(("path", "obj"), _variants())
def test_fault_9_every_transform_rule_takes_any_json_shape(path: str, obj: dict[str, Any]) -> None:
    assert isinstance(transform(path, obj), dict)


NAMESPACE = ("/api/v1/namespaces/n", {"kind": "Namespace", "metadata": {"name": "n"}})
CONFIG_MAP = (
    "/api/v1/namespaces/n/configmaps/c",
    {"kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}},
)


async def _restore(objects: list[tuple[str, dict[str, Any]]], *, kube: FakeApiServer | None = None) -> Any:
    job = RestoreJob(
        snapshot_name="s",
        expected_sha256="",
        expected_size=0,
        preference=Preference.default(),
        backoff=retry.Backoff(initial=0.0, max_elapsed=5.0),
    )
    kube = kube or FakeApiServer(served=(*BUILTIN, ("", "v1", "pods", "Pod", True)))
    return await RestoreEngine(concurrency=2).run(job, kube=kube, store=store("s", archive("s", objects)))


async def test_fault_9_a_hostile_pod_is_restored_with_the_rest() -> None:
    odd = pod({"volumes": [TOKEN, "junk", {"name": ["a"]}]})
    result = await _restore([NAMESPACE, (POD, odd), CONFIG_MAP])

    assert set(result.created) == {NAMESPACE[0], POD, CONFIG_MAP[0]}
    assert result.failed == ()


async def test_fault_9_an_unexpected_error_about_one_object_fails_only_that_object() -> None:
    """The engine's contract holds for any bug in a per-object step, not only the known ones."""
    kube = FakeApiServer(served=(*BUILTIN, ("", "v1", "pods", "Pod", True)))
    kube.errors_for["POST /api/v1/namespaces/n/pods"] = [KeyError("boom")]  # not a k8ssnap error

    result = await _restore([NAMESPACE, (POD, pod({})), CONFIG_MAP], kube=kube)

    assert set(result.created) == {NAMESPACE[0], CONFIG_MAP[0]}
    assert result.failed == (f"{POD},internal error: KeyError: 'boom'",)
