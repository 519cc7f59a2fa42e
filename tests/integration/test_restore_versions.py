"""Restores across API versions and Kubernetes versions (issue 15), against the real clusters.

The CRD test runs on any pair of clusters: a serves a CRD only at
``v1beta1``, b the same CRD only at ``v1``. The mix tests need cluster a
on another Kubernetes minor than b (``K8SSNAP_KUBERNETES_A=v1.34.4``, see
the README) and are skipped otherwise.
"""

from __future__ import annotations

from typing import Any

import pytest

from k8ssnap.devenv import env
from k8ssnap.kube.api import KubeApi
from tests import mix
from tests.integration.test_restore_engine import (
    CORE,
    World,
    mix_paths,
    reasons,
    settled_mix,
    without_default_account,
    world,
)
from tests.integration.test_restore_migration import restore_into
from tests.waiting import eventually

pytestmark = pytest.mark.integration

__all__ = ["world"]

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def gadget_crd(ns: str, version: str) -> dict[str, Any]:
    schema = {
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"colour": {"type": "string"}}}},
    }
    return {
        "metadata": {"name": f"gadgets.{mix.crd_group(ns)}"},
        "spec": {
            "group": mix.crd_group(ns),
            "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget", "listKind": "GadgetList"},
            "versions": [
                {"name": version, "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}
            ],
        },
    }


async def _serve(kube: KubeApi, crd: dict[str, Any]) -> None:
    await kube.create(CRDS, crd)
    spec = crd["spec"]
    collection = f"/apis/{spec['group']}/{spec['versions'][0]['name']}/gadgets"
    await eventually(lambda: kube.get(collection), what=f"{collection} served")


async def test_custom_resources_of_a_version_b_does_not_serve_are_restored_at_b_s_version(
    world: World,
) -> None:
    w = world
    group = mix.crd_group(w.ns)
    await _serve(w.a, gadget_crd(w.ns, "v1beta1"))
    await _serve(w.b, gadget_crd(w.ns, "v1"))
    try:
        for i, colour in enumerate(("red", "green")):
            await w.a.create(
                f"/apis/{group}/v1beta1/namespaces/{w.ns}/gadgets",
                {
                    "apiVersion": f"{group}/v1beta1",
                    "kind": "Gadget",
                    "metadata": {"name": f"g{i}"},
                    "spec": {"colour": colour},
                },
            )
        name, record = await w.snapshot()

        result = await restore_into(w, w.b, name, record, w.scoped())
    finally:
        for kube in (w.a, w.b):
            await kube.delete(f"{CRDS}/gadgets.{group}")

    restored = {f"/apis/{group}/v1/namespaces/{w.ns}/gadgets/g{i}" for i in range(2)}
    assert result.failed == ()
    assert restored <= set(result.created)
    assert set(result.converted) == {f"{p},converted from {group}/v1beta1 to {group}/v1" for p in restored}
    assert f"{CRDS}/gadgets.{group}" in result.already_existed  # b keeps its own CRD


# --- across Kubernetes minors ------------------------------------------------------


def _minors(devenv: env.EnvironmentInfo) -> tuple[str, str]:
    versions = devenv.kubernetes
    if not versions or versions.get("a") == versions.get("b"):
        pytest.fail(
            "clusters a and b run the same Kubernetes version: cross_version tests need"
            " K8SSNAP_KUBERNETES_A=v1.34.4 (./scripts/test runs them so, in their own session)"
        )
    return versions["a"], versions["b"]


@pytest.mark.cross_version
async def test_the_mix_moves_from_the_older_minor_to_the_newer_without_failures(
    world: World, devenv: env.EnvironmentInfo
) -> None:
    _minors(devenv)
    w = world
    await settled_mix(w)
    name, record = await w.snapshot()

    result = await w.restore(name, record, w.scoped(restoreNfsStorageClasses=[f"nfs-{w.ns}"]))

    assert result.failed == ()
    assert mix_paths(w.ns) <= without_default_account(result.created)
    assert result.converted == ()  # every built-in kind of the mix is served at the same version


@pytest.mark.cross_version
async def test_the_mix_moves_from_the_newer_minor_to_the_older_with_failures_per_object(
    world: World, devenv: env.EnvironmentInfo
) -> None:
    _minors(devenv)
    w = world
    # the other way round: the mix in b (newer), snapshot b, restore into a (older)
    # (the test namespace exists in a already: it reports alreadyExisted)
    swapped = World(ns=w.ns, a=w.b, b=w.a, s3=w.s3, extra_namespaces=w.extra_namespaces, keys=w.keys)
    await swapped.a.create(CORE, {"metadata": {"name": w.ns}})
    try:
        await settled_mix(swapped)
        name, record = await swapped.snapshot()

        result = await swapped.restore(name, record, swapped.scoped())
    finally:
        await mix.delete_cluster_objects(w.b, w.ns)

    assert result.already_existed  # the namespace at least
    for entry in result.failed:
        assert entry.split(",", 1)[1].strip(), entry  # a reason, from the server or the plan
    placed = without_default_account(result.created + result.already_existed)
    failed = {entry.split(",", 1)[0] for entry in result.failed}
    assert mix_paths(w.ns) <= placed | failed
    assert not (set(reasons(result)) & placed)
