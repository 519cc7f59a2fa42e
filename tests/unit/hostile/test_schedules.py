"""Hostile inputs to SnapshotSchedules and Restore.spec.latest: each test names the fault it guards."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest

from k8ssnap.api import constants
from k8ssnap.controllers.schedules import ScheduleReconciler, snapshot_facts
from k8ssnap.domain import cadence
from k8ssnap.runtime.source import ObjectKey
from tests.unit.controllers.fakes import NS, World, snapshot, ts, world

SCHED = constants.SNAPSHOT_SCHEDULE
SECRET_TEXT = "token: very-secret-token"
NOW = dt.datetime(2026, 5, 1, 12, 0, 30, tzinfo=dt.UTC)


def schedule_raw(name: str = "nightly", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": constants.API_VERSION,
        "kind": SCHED.kind,
        "metadata": {
            "name": name, "namespace": NS, "uid": "u", "resourceVersion": "7", "generation": 1,
            "creationTimestamp": ts(NOW - dt.timedelta(hours=1)),
        },
        "spec": {"schedule": "@every 10s", "template": {"clusterName": "c1"}, **spec},
    }  # fmt: skip


async def reconcile(w: World, raw: dict[str, Any]) -> None:
    w.put(SCHED, raw)
    await ScheduleReconciler(w.ctx, now=lambda: NOW).reconcile(ObjectKey(NS, raw["metadata"]["name"]))


def everything_written(w: World) -> str:
    return repr([c.body for c in w.kube.calls])


async def test_fault_kubeconfig_in_a_bad_template_never_reaches_status_or_events() -> None:
    w = world()
    template = {"clusterName": "c1", "kubeconfig": SECRET_TEXT, "kubeconfigSecret": {"name": "k"}}
    await reconcile(w, schedule_raw(template=template))
    assert w.kube.reasons() == ["Failed"]
    assert "very-secret-token" not in everything_written(w)


async def test_fault_kubeconfig_in_the_template_stays_in_the_snapshot_spec_only() -> None:
    w = world()
    await reconcile(w, schedule_raw(template={"clusterName": "c1", "kubeconfig": SECRET_TEXT}))
    creates = [c for c in w.kube.calls if c.method == "create" and c.path == constants.SNAPSHOT.path(NS)]
    assert creates[0].body["spec"]["kubeconfig"] == SECRET_TEXT
    others = [c.body for c in w.kube.calls if c not in creates]
    assert "very-secret-token" not in repr(others)


async def test_fault_a_name_too_long_for_the_label_fails_instead_of_creating() -> None:
    w = world()
    await reconcile(w, schedule_raw(name="n" * 64))
    assert [c.method for c in w.kube.writes()] == ["merge_patch"]
    assert "at most 63 characters" in w.kube.writes()[0].body["status"]["reason"]


@pytest.mark.parametrize(
    "zone", ["../../../../etc/passwd", "/etc/localtime", "Europe/Berlin\x00", "UTC; rm -rf /", "x" * 300]
)
def test_fault_a_time_zone_path_never_reads_a_file(zone: str) -> None:
    with pytest.raises(ValueError, match="IANA"):
        cadence.time_zone(zone)


@pytest.mark.parametrize(
    "expression",
    [
        "*/0 * * * *",
        "0-999999999 * * * *",
        "* " * 1000,
        "@every 9999999999999999h",
        "@every -1s",
        "\u0661 * * * *",
    ],
)
def test_fault_a_malformed_cron_is_refused_not_evaluated(expression: str) -> None:
    with pytest.raises(ValueError):
        cadence.parse(expression)


def test_fault_a_sparse_cron_after_a_long_outage_is_found_in_bounded_time() -> None:
    minutely_in_march = cadence.parse("* * * 3 *")
    after = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    started = time.perf_counter()
    latest, count = cadence.latest_time(
        minutely_in_march, after=after, until=NOW, anchor=after, zone=cadence.time_zone("UTC")
    )
    assert latest == dt.datetime(2026, 3, 31, 23, 59, tzinfo=dt.UTC)
    assert count == cadence.MAX_COUNTED
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize(
    "metadata",
    [
        {"labels": {constants.SCHEDULE_LABEL: "nightly"}},  # someone labelled their own snapshot
        {"labels": {constants.SCHEDULE_LABEL: ["nightly"]}},
        {"labels": "nightly"},
    ],
)
def test_fault_a_foreign_or_malformed_label_never_makes_a_snapshot_ours(metadata: dict[str, Any]) -> None:
    raw = snapshot("precious", phase="Completed")
    raw["metadata"].update(metadata)
    facts = snapshot_facts(raw)
    assert facts is not None
    assert facts.schedule is None


def test_fault_a_snapshot_with_a_bad_timestamp_is_ignored_not_fatal() -> None:
    raw = snapshot("nightly-20260501120000", phase="Completed", status={"snapshotTimestamp": "yesterday"})
    raw["metadata"]["labels"] = {constants.SCHEDULE_LABEL: "nightly"}
    assert snapshot_facts(raw) is None
