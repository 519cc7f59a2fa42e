"""A SnapshotSchedule of Snapshots or of EtcdSnapshots: each run creates its template's kind, and
Forbid and retention count only objects of that kind (the same label on the other kind is foreign)."""

from __future__ import annotations

from typing import Any

import pytest

from k8ssnap.api import constants
from tests.unit.controllers import fakes
from tests.unit.controllers.fakes import NS, World
from tests.unit.controllers.test_schedules import KEY, Clock, at, reconciler, schedule_raw, status_patches, ts

SNAP = constants.SNAPSHOT
ETCD = constants.ETCD_SNAPSHOT
ETCD_TEMPLATE = {"endpoints": ["https://10.0.0.1:2379"], "tlsSecret": "etcd-client", "pki": ".", "ttl": "2h"}
SNAP_TEMPLATE = {"clusterName": "c1", "objectstoreConfig": "store", "ttl": "2h"}
KINDS = {"Snapshot": SNAP, "EtcdSnapshot": ETCD}


def schedule_of(kind: str, **spec: Any) -> dict[str, Any]:
    """A schedule every 10 s whose runs are ``kind``."""
    raw = schedule_raw(**spec)
    if kind == "EtcdSnapshot":
        del raw["spec"]["template"]
        raw["spec"]["etcdTemplate"] = dict(ETCD_TEMPLATE)
    return raw


def run_of(kind: str, seconds: float, phase: str, *, taken: float | None = None) -> dict[str, Any]:
    """A ``kind`` the schedule "nightly" made for ``at(seconds)``."""
    name = f"nightly-{at(seconds).strftime('%Y%m%d%H%M%S')}"
    status = {} if taken is None else {"snapshotTimestamp": ts(at(taken))}
    labels = {constants.SCHEDULE_LABEL: "nightly"}
    if kind == "EtcdSnapshot":
        return fakes.etcd_snapshot(name, phase=phase, status=status, created=at(seconds), labels=labels)
    raw = fakes.snapshot(name, phase=phase, status=status, created=at(seconds))
    raw["metadata"]["labels"] = labels
    return raw


def put(w: World, kind: str, raw: dict[str, Any]) -> None:
    w.put(KINDS[kind], raw)


@pytest.mark.parametrize(("kind", "template"), [("Snapshot", SNAP_TEMPLATE), ("EtcdSnapshot", ETCD_TEMPLATE)])
async def test_a_run_creates_its_templates_kind_with_the_deterministic_name(
    w: World, kind: str, template: dict[str, Any]
) -> None:
    w.put(constants.SNAPSHOT_SCHEDULE, schedule_of(kind))
    await reconciler(w, Clock(10.5)).reconcile(KEY)
    creates = [c for c in w.kube.writes() if c.method == "create"]
    assert [c.path for c in creates] == [KINDS[kind].path(NS)]
    body = creates[0].body
    assert (body["kind"], body["metadata"]["name"]) == (kind, "nightly-20260501120010")
    assert body["metadata"]["labels"] == {constants.SCHEDULE_LABEL: "nightly"}
    assert body["spec"] == template
    assert f"created {kind} nightly-20260501120010" in w.kube.events()[-1][2]


@pytest.mark.parametrize(
    ("kind", "unfinished", "created"),
    [
        ("Snapshot", "Snapshot", False),  # Forbid: its own run is still going
        ("Snapshot", "EtcdSnapshot", True),  # the other kind's run is not this schedule's
        ("EtcdSnapshot", "EtcdSnapshot", False),
        ("EtcdSnapshot", "Snapshot", True),
    ],
)
async def test_forbid_counts_only_the_schedules_kind(
    w: World, kind: str, unfinished: str, created: bool
) -> None:
    w.put(constants.SNAPSHOT_SCHEDULE, schedule_of(kind, status={"lastScheduleTime": ts(at(10))}))
    put(w, unfinished, run_of(unfinished, 10, "InProgress"))
    await reconciler(w, Clock(20.5)).reconcile(KEY)
    assert bool([c for c in w.kube.writes() if c.method == "create"]) is created
    assert ("Skipped" in w.kube.reasons()) is not created


@pytest.mark.parametrize("kind", ["Snapshot", "EtcdSnapshot"])
async def test_retention_deletes_only_the_schedules_kind_beyond_keep(w: World, kind: str) -> None:
    other = "EtcdSnapshot" if kind == "Snapshot" else "Snapshot"
    w.put(constants.SNAPSHOT_SCHEDULE, schedule_of(kind, keep=2, status={"lastScheduleTime": ts(at(60))}))
    for seconds in (10, 20, 30, 40):
        put(w, kind, run_of(kind, seconds, "Completed", taken=seconds + 1))
        put(w, other, run_of(other, seconds + 1, "Completed", taken=seconds + 2))  # older and newer
    put(w, kind, run_of(kind, 5, "Failed"))
    put(w, kind, run_of(kind, 50, "InProgress"))

    await reconciler(w, Clock(62)).reconcile(KEY)

    deletes = [c.path for c in w.kube.writes() if c.method == "delete"]
    assert deletes == [
        KINDS[kind].path(NS, "nightly-20260501120010"),
        KINDS[kind].path(NS, "nightly-20260501120020"),
    ]
    assert f"deleted {kind} nightly-20260501120010: beyond keep 2" in [m for _, _, m in w.kube.events()]
    status = status_patches(w)[-1]["status"]
    assert status["active"] == ["nightly-20260501120050"]


async def test_a_schedule_of_etcd_snapshots_without_their_crd_fails_with_the_reason(w: World) -> None:
    del w.ctx.informers[ETCD.plural]
    w.put(constants.SNAPSHOT_SCHEDULE, schedule_of("EtcdSnapshot"))
    assert await reconciler(w, Clock(10.5)).reconcile(KEY) is None
    status = status_patches(w)[-1]["status"]
    assert status["phase"] == "Failed" and "etcdsnapshots.clustersnapshot.rywt.io CRD" in status["reason"]
    assert [c for c in w.kube.writes() if c.method == "create"] == []
