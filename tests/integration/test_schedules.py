"""SnapshotSchedules through the controller against real cluster a, cluster b and S3.

Short ``@every`` periods keep these fast. Every wait is for a condition on the
API server, the bucket or the wall clock (a schedule's downtime *is* time
passing); none is a bare sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
import os
import secrets
import subprocess
import sys
from typing import Any

import pytest

from k8ssnap import errors
from k8ssnap.api import constants
from k8ssnap.devenv import env
from k8ssnap.kube.client import KubeClient
from k8ssnap.store import layout
from k8ssnap.store.s3 import S3Store
from tests.conftest import CONTROLLER_BUCKET, CONTROLLER_NS, OBJECTSTORE, Kubectl
from tests.controllerproc import ControllerProcess
from tests.crs import restore_manifest, wait_phase
from tests.exposition import sample
from tests.waiting import eventually

pytestmark = pytest.mark.integration

SNAPSHOTS = constants.SNAPSHOT.path(CONTROLLER_NS)
SCHEDULES = constants.SNAPSHOT_SCHEDULE.path(CONTROLLER_NS)


def parse_time(text: str) -> dt.datetime:
    """An RFC 3339 time as the API server writes it (``2030-07-01T02:00:00Z``)."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _name(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def schedule_manifest(name: str, *, every: str, **spec: Any) -> str:
    return json.dumps({
        "apiVersion": constants.API_VERSION, "kind": "SnapshotSchedule",
        "metadata": {"name": name, "namespace": CONTROLLER_NS},
        "spec": {
            "schedule": every,
            "template": {"clusterName": "cluster-a", "objectstoreConfig": OBJECTSTORE},
            **spec,
        },
    })  # fmt: skip


async def runs_of(kube: KubeClient, schedule: str) -> list[dict[str, Any]]:
    """The schedule's Snapshots as the API server has them now, oldest first."""
    found = await kube.get(SNAPSHOTS, {"labelSelector": f"{constants.SCHEDULE_LABEL}={schedule}"})
    return sorted(found.get("items", []), key=lambda s: s["metadata"]["name"])


def due(snapshot: dict[str, Any]) -> dt.datetime:
    return parse_time(snapshot["metadata"]["annotations"][constants.SCHEDULED_AT])


def phases(items: list[dict[str, Any]]) -> list[str]:
    return [(s.get("status") or {}).get("phase", "") for s in items]


async def status_of(kube: KubeClient, schedule: str) -> dict[str, Any]:
    status: dict[str, Any] = (await kube.get(f"{SCHEDULES}/{schedule}")).get("status") or {}
    return status


async def until_time(moment: dt.datetime) -> None:
    """Wait until the wall clock has passed ``moment`` (downtime is time passing)."""

    async def passed() -> bool:
        return dt.datetime.now(dt.UTC) > moment

    await eventually(passed, timeout=120, interval=0.25, what=f"the clock to pass {moment}")


async def _missing(store: S3Store, key: str) -> bool:
    try:
        await store.head(key)
    except errors.ObjectMissing:
        return True
    return False


async def _gone(kube: KubeClient, path: str) -> bool:
    try:
        await kube.get(path)
    except errors.NotFound:
        return True
    return False


def cleanup(kubectl: Kubectl, schedule: str) -> None:
    kubectl("delete", "snapshotschedule", schedule, "-n", CONTROLLER_NS, "--ignore-not-found", check=False)
    kubectl(
        "delete", "snapshots", "-n", CONTROLLER_NS, "-l", f"{constants.SCHEDULE_LABEL}={schedule}",
        "--wait=false", check=False,
    )  # fmt: skip


def _cli_list(devenv: env.EnvironmentInfo) -> str:
    """``k8ssnap list`` of the controller's bucket, as a person runs it."""
    environ = {**os.environ, "AWS_ACCESS_KEY_ID": devenv.s3.access_key,
               "AWS_SECRET_ACCESS_KEY": devenv.s3.secret_key}  # fmt: skip
    command = [sys.executable, "-m", "k8ssnap.app.cli", "list", "--endpoint", devenv.s3.endpoint,
               "--bucket", CONTROLLER_BUCKET]  # fmt: skip
    done = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_every_10s_keep_2_prunes_to_two_completed_and_their_archives(
    controller: ControllerProcess,
    devenv: env.EnvironmentInfo,
    kubectl_a: Kubectl,
    kube_a: KubeClient,
    controller_store: S3Store,
) -> None:
    name = _name("keep")
    kubectl_a("create", "-f", "-", input=schedule_manifest(name, every="@every 10s", keep=2))
    seen: dict[str, dict[str, Any]] = {}

    async def four_runs_and_two_left() -> bool:
        items = await runs_of(kube_a, name)
        seen.update({s["metadata"]["name"]: s for s in items})
        if len(seen) < 4:
            return False
        fourth = sorted(seen)[3]
        live = {s["metadata"]["name"]: s for s in items if not s["metadata"].get("deletionTimestamp")}
        completed = [n for n, s in live.items() if (s.get("status") or {}).get("phase") == "Completed"]
        return fourth in completed and len(completed) == 2

    try:
        await eventually(four_runs_and_two_left, timeout=150, what="4 runs with 2 Completed left")
        first_four = sorted(seen)[:4]
        fourth = first_four[3]  # kept until two more runs completed: 20 s or more from now
        listed = await asyncio.to_thread(_cli_list, devenv)
        rows = {line.split()[0]: line.split() for line in listed.splitlines()[1:]}
        assert rows[fourth][1:3] == ["cluster-a", name], listed
        await controller_store.head(layout.archive_key(fourth))
        pruned = first_four[:2]
        for snapshot in pruned:
            await eventually(lambda s=snapshot: _gone(kube_a, f"{SNAPSHOTS}/{s}"), what=f"{snapshot} deleted")
            assert await _missing(controller_store, layout.archive_key(snapshot))
            assert await _missing(controller_store, layout.record_key(snapshot))
        # names are the scheduled times, 10 s apart, labelled with the schedule
        times = [due(seen[n]) for n in first_four]
        assert all(
            (b - a) % dt.timedelta(seconds=10) == dt.timedelta(0) for a, b in itertools.pairwise(times)
        )
        assert first_four[0] == f"{name}-{times[0].strftime('%Y%m%d%H%M%S')}"
        status = await status_of(kube_a, name)
        assert status["lastSuccessfulTime"] and status["nextScheduleTime"]
        described = kubectl_a("describe", "snapshotschedule", name, "-n", CONTROLLER_NS)
        assert "Scheduled" in described and "Pruned" in described
        metrics = controller.metrics()
        assert (sample(metrics, "k8ssnap_schedule_runs_total", schedule=name, result="completed") or 0) >= 1
        success = sample(metrics, "k8ssnap_schedule_last_success_timestamp_seconds", schedule=name)
        assert (success or 0) >= parse_time(status["lastSuccessfulTime"]).timestamp()
        columns = kubectl_a("get", "snapshotschedule", name, "-n", CONTROLLER_NS)
        assert columns.split("\n")[0].split() == [
            "NAME",
            "SCHEDULE",
            "SUSPEND",
            "LAST",
            "NEXT",
            "LAST-STATUS",
            "AGE",
        ]
    finally:
        cleanup(kubectl_a, name)


async def test_deleting_a_schedule_leaves_its_snapshots(
    controller: ControllerProcess, kubectl_a: Kubectl, kube_a: KubeClient
) -> None:
    name = _name("leave")
    kubectl_a("create", "-f", "-", input=schedule_manifest(name, every="@every 5s"))
    try:
        first = await eventually(lambda: _completed_runs(kube_a, name), timeout=60, what="a Completed run")
        kubectl_a("delete", "snapshotschedule", name, "-n", CONTROLLER_NS, "--timeout=60s")
        await eventually(lambda: _gone(kube_a, f"{SCHEDULES}/{name}"), what="schedule deleted")
        still = {s["metadata"]["name"] for s in await runs_of(kube_a, name)}
        assert first[0] in still
    finally:
        cleanup(kubectl_a, name)


async def _completed_runs(kube: KubeClient, schedule: str) -> list[str]:
    return [
        s["metadata"]["name"]
        for s in await runs_of(kube, schedule)
        if (s.get("status") or {}).get("phase") == "Completed"
    ]


async def test_suspend_stops_runs_and_resume_restarts_them(
    controller: ControllerProcess, kubectl_a: Kubectl, kube_a: KubeClient
) -> None:
    name = _name("pause")
    period = dt.timedelta(seconds=5)
    kubectl_a(
        "create", "-f", "-", input=schedule_manifest(name, every="@every 5s", startingDeadlineSeconds=3)
    )
    try:
        await eventually(lambda: _completed_runs(kube_a, name), timeout=60, what="a Completed run")
        kubectl_a("patch", "snapshotschedule", name, "-n", CONTROLLER_NS, "--type=merge",
                  "-p", '{"spec": {"suspend": true}}')  # fmt: skip

        async def suspended() -> bool:
            status = await status_of(kube_a, name)
            return status.get("phase") == "Suspended" and status.get("nextScheduleTime") is None

        await eventually(suspended, what="schedule Suspended")
        before = {s["metadata"]["name"] for s in await runs_of(kube_a, name)}
        await until_time(dt.datetime.now(dt.UTC) + 3 * period)
        assert {s["metadata"]["name"] for s in await runs_of(kube_a, name)} == before
        resumed_at = dt.datetime.now(dt.UTC)
        kubectl_a("patch", "snapshotschedule", name, "-n", CONTROLLER_NS, "--type=merge",
                  "-p", '{"spec": {"suspend": false}}')  # fmt: skip

        async def a_run_after_resume() -> bool:
            return any(due(s) >= resumed_at - period for s in await runs_of(kube_a, name)
                       if s["metadata"]["name"] not in before)  # fmt: skip

        await eventually(a_run_after_resume, timeout=60, what="a run after resuming")

        async def active_again() -> bool:  # the run is created before the status records it
            return (await status_of(kube_a, name)).get("phase") == "Active"

        await eventually(active_again, what="schedule Active again")
    finally:
        cleanup(kubectl_a, name)


async def test_controller_down_for_more_than_two_periods_catches_up_exactly_once(
    controller: ControllerProcess, kubectl_a: Kubectl, kube_a: KubeClient
) -> None:
    name = _name("catchup")
    period = dt.timedelta(seconds=5)
    kubectl_a("create", "-f", "-", input=schedule_manifest(name, every="@every 5s"))
    try:
        await eventually(lambda: _completed_runs(kube_a, name), timeout=60, what="a Completed run")
        controller.stop()
        try:
            last = parse_time((await status_of(kube_a, name))["lastScheduleTime"])
            before = {s["metadata"]["name"] for s in await runs_of(kube_a, name)}
            await until_time(last + 3 * period + dt.timedelta(seconds=1))  # 3 due times missed
            assert {s["metadata"]["name"] for s in await runs_of(kube_a, name)} == before
        finally:
            controller.start()

        async def moved_on() -> bool:  # a regular run was due after the catch-up
            status = await status_of(kube_a, name)
            times = sorted(due(s) for s in await runs_of(kube_a, name) if s["metadata"]["name"] not in before)
            return bool(times) and parse_time(status["lastScheduleTime"]) > times[0]

        await eventually(moved_on, timeout=60, what="a run after the catch-up")
        after = sorted(due(s) for s in await runs_of(kube_a, name) if s["metadata"]["name"] not in before)
        catch_up = after[0]
        assert catch_up >= last + 3 * period  # the most recent missed time; the older ones dropped
        assert all(b - a >= period for a, b in itertools.pairwise(after))
        described = kubectl_a("describe", "snapshotschedule", name, "-n", CONTROLLER_NS)
        assert "earlier missed run(s) dropped" in described
    finally:
        cleanup(kubectl_a, name)


async def test_restore_latest_of_a_schedule_into_b_and_max_age(
    controller: ControllerProcess,
    devenv: env.EnvironmentInfo,
    kubectl_a: Kubectl,
    kube_a: KubeClient,
    kube_b: KubeClient,
    namespace: str,
) -> None:
    await kube_a.create(
        f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "latest"}, "data": {"k": "v"}}
    )
    name = _name("latest")
    kubectl_a("create", "-f", "-", input=schedule_manifest(name, every="@every 5s", keep=2))
    preference = _name("only")
    kubectl_a("apply", "-f", "-", input=json.dumps({
        "apiVersion": constants.API_VERSION, "kind": "RestorePreference",
        "metadata": {"name": preference, "namespace": CONTROLLER_NS},
        "spec": {"includeNamespaces": [namespace]},
    }))  # fmt: skip
    try:
        await eventually(lambda: _completed_runs(kube_a, name), timeout=60, what="a Completed run")
        kubectl_a("patch", "snapshotschedule", name, "-n", CONTROLLER_NS, "--type=merge",
                  "-p", '{"spec": {"suspend": true}}')  # fmt: skip
        await eventually(lambda: _settled(kube_a, name), timeout=60, what="suspended with no run in progress")
        newest = (await _completed_runs(kube_a, name))[-1]
        restore = _name("latest-restore")
        kubeconfig = devenv.clusters["b"].kubeconfig
        manifest = json.loads(restore_manifest(restore, snapshot="", kubeconfig=kubeconfig,
                                               restorePreferenceName=preference))  # fmt: skip
        del manifest["spec"]["backupName"]
        manifest["spec"]["latest"] = {"schedule": name, "maxAge": "1h"}
        kubectl_a("create", "-f", "-", input=json.dumps(manifest))
        done = wait_phase(kubectl_a, "restore", restore, "Completed", timeout=120)
        assert done["status"]["snapshotName"] == newest
        assert f"/api/v1/namespaces/{namespace}/configmaps/latest" in done["status"]["created"]
        assert (await kube_b.get(f"/api/v1/namespaces/{namespace}/configmaps/latest"))["data"] == {"k": "v"}

        taken = parse_time((await kube_a.get(f"{SNAPSHOTS}/{newest}"))["status"]["snapshotTimestamp"])
        await until_time(taken + dt.timedelta(seconds=2))
        stale = _name("too-old")
        manifest["metadata"]["name"] = stale
        manifest["spec"]["latest"] = {"schedule": name, "maxAge": "1s"}
        kubectl_a("create", "-f", "-", input=json.dumps(manifest))
        failed = wait_phase(kubectl_a, "restore", stale, "Failed", timeout=60)
        assert newest in failed["status"]["reason"]
        assert "older than maxAge 1s" in failed["status"]["reason"]

        none = _name("none")
        manifest["metadata"]["name"] = none
        manifest["spec"]["latest"] = {"schedule": "no-such-schedule"}
        kubectl_a("create", "-f", "-", input=json.dumps(manifest))
        failed = wait_phase(kubectl_a, "restore", none, "Failed", timeout=60)
        assert failed["status"]["reason"] == "no Completed snapshot of schedule 'no-such-schedule' to restore"
    finally:
        cleanup(kubectl_a, name)
        with contextlib.suppress(errors.NotFound):
            await kube_b.delete(f"/api/v1/namespaces/{namespace}")


async def _settled(kube: KubeClient, schedule: str) -> bool:
    status = await status_of(kube, schedule)
    items = await runs_of(kube, schedule)
    return status.get("phase") == "Suspended" and all(p in ("Completed", "Failed") for p in phases(items))


def test_admission_refuses_a_bad_schedule(controller_setup: str, kubectl_a: Kubectl) -> None:
    for spec, words in (
        ({"schedule": "61 * * *"}, "spec.schedule"),
        ({"keep": 0}, "spec.keep"),
    ):
        manifest = json.loads(schedule_manifest(_name("bad"), every="@hourly"))
        manifest["spec"].update(spec)
        out = kubectl_a("create", "-f", "-", input=json.dumps(manifest), check=False)
        assert words in out, out
    long_name = json.loads(schedule_manifest("x" * 64, every="@hourly"))
    out = kubectl_a("create", "-f", "-", input=json.dumps(long_name), check=False)
    assert "at most 63 characters" in out, out


async def test_a_template_with_an_inline_kubeconfig_runs_every_time(
    controller: ControllerProcess, devenv: env.EnvironmentInfo, kubectl_a: Kubectl, kube_a: KubeClient
) -> None:
    """The same inline kubeconfig serves every run (issue 11 item 0, which schedules rely on)."""
    name = _name("inline")
    manifest = json.loads(schedule_manifest(name, every="@every 5s"))
    manifest["spec"]["template"]["kubeconfig"] = devenv.clusters["b"].kubeconfig.read_text()
    manifest["spec"]["template"]["clusterName"] = "cluster-b"
    kubectl_a("create", "-f", "-", input=json.dumps(manifest))

    async def two_completed() -> list[str] | None:
        items = await runs_of(kube_a, name)
        failed = [s for s in items if (s.get("status") or {}).get("phase") == "Failed"]
        assert not failed, failed[0]["status"].get("reason")
        done = await _completed_runs(kube_a, name)
        return done if len(done) >= 2 else None

    try:
        await eventually(two_completed, timeout=90, what="two Completed runs with one inline kubeconfig")
    finally:
        cleanup(kubectl_a, name)
