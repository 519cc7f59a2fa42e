"""A Restore with spec.latest: the newest Completed snapshot of a schedule or cluster, or a reason."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import pytest

from k8ssnap.api import constants
from k8ssnap.controllers.restores import RestoreReconciler
from k8ssnap.restore.engine import RestoreEngine
from k8ssnap.runtime.source import ObjectKey
from k8ssnap.testing.adapters import FakeStores
from tests.unit.controllers.fakes import (
    NS,
    FakeRestoreEngine,
    World,
    restore,
    restore_result,
    snapshot,
    ts,
    utcnow,
)

RST = constants.RESTORE
KEY = ObjectKey(NS, "rst")
STATUS = RST.path(NS, "rst", status=True)


def made(name: str, *, age_minutes: float, phase: str = "Completed", owner: str | None = "nightly",
         cluster: str = "c1") -> dict[str, Any]:  # fmt: skip
    """A snapshot taken ``age_minutes`` ago; ``owner`` names its schedule (name and label)."""
    taken = utcnow() - dt.timedelta(minutes=age_minutes)
    full = f"{owner}-{taken.strftime('%Y%m%d%H%M%S')}" if owner else name
    raw = snapshot(
        full,
        phase=phase,
        spec={"clusterName": cluster, "objectstoreConfig": "store"},
        status={"snapshotTimestamp": ts(taken), "numberOfContents": 3},
    )
    if owner:
        raw["metadata"]["labels"] = {constants.SCHEDULE_LABEL: owner}
    return raw


def reconciler(w: World, engine: FakeRestoreEngine) -> RestoreReconciler:
    return RestoreReconciler(w.ctx, cast(RestoreEngine, engine))


def fill(w: World, *snapshots: dict[str, Any]) -> list[str]:
    for raw in snapshots:
        w.put(constants.SNAPSHOT, raw)
    return [raw["metadata"]["name"] for raw in snapshots]


@pytest.mark.parametrize(
    ("latest", "chosen"),
    [({"schedule": "nightly"}, 1), ({"schedule": "nightly", "maxAge": "1h"}, 1), ({"clusterName": "c2"}, 4)],
)
async def test_latest_restores_the_newest_completed_match_and_records_it(
    w: World, store: FakeStores, latest: dict[str, str], chosen: int
) -> None:
    names = fill(
        w,
        made("", age_minutes=60 * 5),
        made("", age_minutes=30),
        made("", age_minutes=1, phase="InProgress"),
        made("", age_minutes=2, phase="Failed"),
        made("hand-c2", age_minutes=10, owner=None, cluster="c2"),
    )
    w.put(RST, restore(phase="InQueue", spec={"clusterName": "b", "latest": latest}))
    engine = FakeRestoreEngine(result=restore_result())

    await reconciler(w, engine).reconcile(KEY)

    (job,) = engine.jobs
    assert job.snapshot_name == names[chosen]
    in_progress, completed = [c.body["status"] for c in w.kube.writes() if c.path == STATUS]
    assert in_progress["snapshotName"] == completed["snapshotName"] == names[chosen]
    assert completed["phase"] == "Completed"


@pytest.mark.parametrize(
    ("latest", "words"),
    [
        ({"schedule": "weekly"}, "no Completed snapshot of schedule 'weekly' to restore"),
        ({"clusterName": "zz"}, "no Completed snapshot of cluster 'zz' to restore"),
        ({"schedule": "nightly", "maxAge": "10m"}, "is 30m old, older than maxAge 10m"),
    ],
)
async def test_latest_fails_with_a_reason_when_none_fits(
    w: World, store: FakeStores, latest: dict[str, str], words: str
) -> None:
    fill(w, made("", age_minutes=30), made("", age_minutes=1, phase="InProgress"))
    w.put(RST, restore(phase="InQueue", spec={"clusterName": "b", "latest": latest}))
    engine = FakeRestoreEngine(result=restore_result())

    await reconciler(w, engine).reconcile(KEY)

    assert engine.jobs == []
    (failed,) = [c.body for c in w.kube.writes() if c.path == STATUS]
    assert failed["status"]["phase"] == "Failed"
    assert words in failed["status"]["reason"]
    assert failed["metadata"] == {"resourceVersion": "7"}


async def test_a_resumed_restore_keeps_the_snapshot_it_chose(w: World, store: FakeStores) -> None:
    older, newer = fill(w, made("", age_minutes=30), made("", age_minutes=5))
    resumed = restore(
        phase="InProgress",
        spec={"clusterName": "b", "latest": {"schedule": "nightly"}},
        status={"snapshotName": older},
    )
    w.put(RST, resumed)
    w.kube.objects[RST.path(NS, "rst")] = resumed  # the attempt count is patched on the server
    engine = FakeRestoreEngine(result=restore_result())
    await reconciler(w, engine).reconcile(KEY)
    assert [job.snapshot_name for job in engine.jobs] == [older]
    assert newer != older
