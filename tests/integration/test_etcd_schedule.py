"""A SnapshotSchedule of EtcdSnapshots through the session controller, against the real etcd of
cluster a and S3: runs are EtcdSnapshots named by their scheduled time, and retention keeps
``keep`` of them, deleting the others through their finalizer (archive and record too)."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest

from k8ssnap.api import constants
from k8ssnap.devenv import env
from k8ssnap.kube.client import KubeClient
from k8ssnap.store import layout
from k8ssnap.store.s3 import S3Store
from tests.conftest import CONTROLLER_NS, OBJECTSTORE, Kubectl
from tests.controllerproc import ControllerProcess
from tests.integration.test_schedules import SNAPSHOTS, _gone, _missing, due, status_of
from tests.waiting import eventually

pytestmark = pytest.mark.integration

ETCD_SNAPSHOTS = constants.ETCD_SNAPSHOT.path(CONTROLLER_NS)


def etcd_schedule_manifest(name: str, *, endpoint: str, every: str, keep: int) -> str:
    return json.dumps({
        "apiVersion": constants.API_VERSION, "kind": "SnapshotSchedule",
        "metadata": {"name": name, "namespace": CONTROLLER_NS},
        "spec": {
            "schedule": every, "keep": keep,
            "etcdTemplate": {"endpoints": [endpoint], "objectstoreConfig": OBJECTSTORE},
        },
    })  # fmt: skip


async def labelled(kube: KubeClient, collection: str, schedule: str) -> list[dict[str, Any]]:
    found = await kube.get(collection, {"labelSelector": f"{constants.SCHEDULE_LABEL}={schedule}"})
    return sorted(found.get("items", []), key=lambda s: s["metadata"]["name"])


async def test_a_scheduled_etcd_snapshot_with_keep_2_keeps_2(
    controller: ControllerProcess,
    devenv: env.EnvironmentInfo,
    kubectl_a: Kubectl,
    kube_a: KubeClient,
    controller_store: S3Store,
) -> None:
    name = f"etcd-keep-{secrets.token_hex(3)}"
    manifest = etcd_schedule_manifest(name, endpoint=devenv.clusters["a"].etcd_url, every="@every 5s", keep=2)
    kubectl_a("create", "-f", "-", input=manifest)
    seen: dict[str, dict[str, Any]] = {}

    async def four_runs_and_two_left() -> bool:
        items = await labelled(kube_a, ETCD_SNAPSHOTS, name)
        seen.update({s["metadata"]["name"]: s for s in items})
        if len(seen) < 4:
            return False
        fourth = sorted(seen)[3]
        live = {s["metadata"]["name"]: s for s in items if not s["metadata"].get("deletionTimestamp")}
        completed = [n for n, s in live.items() if (s.get("status") or {}).get("phase") == "Completed"]
        return fourth in completed and len(completed) == 2

    try:
        await eventually(four_runs_and_two_left, timeout=150, what="4 etcd runs with 2 Completed left")
        first_four = sorted(seen)[:4]
        assert first_four[0] == f"{name}-{due(seen[first_four[0]]).strftime('%Y%m%d%H%M%S')}"
        await controller_store.head(layout.etcd_archive_key(first_four[3]))
        for pruned in first_four[:2]:
            await eventually(
                lambda p=pruned: _gone(kube_a, f"{ETCD_SNAPSHOTS}/{p}"), what=f"{pruned} deleted"
            )
            assert await _missing(controller_store, layout.etcd_archive_key(pruned))
            assert await _missing(controller_store, layout.etcd_record_key(pruned))
        assert await labelled(kube_a, SNAPSHOTS, name) == []  # a schedule creates only its template's kind
        status = await status_of(kube_a, name)
        assert status["phase"] == "Active" and status["lastSuccessfulTime"]
        described = kubectl_a("describe", "snapshotschedule", name, "-n", CONTROLLER_NS)
        assert "created EtcdSnapshot" in described and "deleted EtcdSnapshot" in described
    finally:
        kubectl_a("delete", "snapshotschedule", name, "-n", CONTROLLER_NS, "--ignore-not-found", check=False)
        kubectl_a(
            "delete", "etcdsnapshots", "-n", CONTROLLER_NS, "-l", f"{constants.SCHEDULE_LABEL}={name}",
            "--wait=false", check=False,
        )  # fmt: skip


def test_a_schedule_with_both_templates_is_refused_at_admission(
    controller: ControllerProcess, kubectl_a: Kubectl
) -> None:
    both = json.loads(
        etcd_schedule_manifest("both", endpoint="http://127.0.0.1:2379", every="@hourly", keep=1)
    )
    both["spec"]["template"] = {"clusterName": "c1"}
    out = kubectl_a("create", "-f", "-", input=json.dumps(both), check=False)
    assert "set exactly one of spec.template" in out, out
    neither = json.loads(etcd_schedule_manifest("neither", endpoint="http://x:1", every="@hourly", keep=1))
    del neither["spec"]["etcdTemplate"]
    out = kubectl_a("create", "-f", "-", input=json.dumps(neither), check=False)
    assert "set exactly one of spec.template" in out, out
