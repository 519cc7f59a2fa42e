"""Both job reconcilers (Snapshot, Restore): crash loops are bounded, finished work is never redone.

Issue 11, fault 4 (a job found InProgress after a crash ran again blind,
forever), fault 6 (a ttl out of Go's range passed the parser and raised after
the engine finished) and fault 7 (one 503 on the final status write ran the
whole restore again). Every case runs against both kinds.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, cast

import pytest

from k8ssnap import errors
from k8ssnap.api import constants
from k8ssnap.controllers import attempts, outcomes
from k8ssnap.controllers.restores import RestoreReconciler
from k8ssnap.controllers.snapshots import SnapshotReconciler
from k8ssnap.runtime.source import ObjectKey
from tests.unit.controllers.fakes import (
    NS,
    Call,
    FakeRestoreEngine,
    FakeSnapshotEngine,
    World,
    restore,
    restore_result,
    snapshot,
    snapshot_outcome,
    ts,
    utcnow,
)

Reconciler = SnapshotReconciler | RestoreReconciler


class ProcessKilled(BaseException):
    """Stands for the process dying inside the engine (OOM kill, segfault): nothing after runs."""


class RecordingClock:
    """A clock whose sleeps return at once and are recorded."""

    def __init__(self) -> None:
        self.slept: list[float] = []
        self._now = 0.0

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self._now += seconds


@dataclass
class Case:
    """One job kind: how to build its object, engine and reconciler."""

    kind: constants.ResourceKind
    name: str
    make: Callable[..., dict[str, Any]]
    engine: Callable[[], Any]
    broken_engine: Callable[[], Any]
    reconciler: Callable[[World, Any], Reconciler]

    @property
    def path(self) -> str:
        return self.kind.path(NS, self.name)

    @property
    def key(self) -> ObjectKey:
        return ObjectKey(NS, self.name)


SNAPSHOT = Case(
    kind=constants.SNAPSHOT,
    name="snap",
    make=snapshot,
    engine=lambda: FakeSnapshotEngine(outcome=snapshot_outcome()),
    broken_engine=lambda: FakeSnapshotEngine(outcome=snapshot_outcome(size=-1)),
    reconciler=lambda w, e: SnapshotReconciler(w.ctx, e),
)
RESTORE = Case(
    kind=constants.RESTORE,
    name="rst",
    make=restore,
    engine=lambda: FakeRestoreEngine(result=restore_result()),
    broken_engine=lambda: FakeRestoreEngine(result=replace(restore_result(), num_snapshot_contents=-1)),
    reconciler=lambda w, e: RestoreReconciler(w.ctx, e),
)


@pytest.fixture(params=[SNAPSHOT, RESTORE], ids=["snapshot", "restore"])
def case(request: pytest.FixtureRequest, w: World) -> Case:
    """The kind under test, with a Completed Snapshot "snap" cached for restores to use."""
    if request.param is RESTORE:
        w.put(
            constants.SNAPSHOT,
            snapshot(
                phase="Completed",
                status={"numberOfContents": 6, "availableUntil": ts(utcnow().replace(year=2099))},
            ),
        )
    w.ctx.clock = RecordingClock()
    return cast(Case, request.param)


def job(case: Case, w: World, **kw: Any) -> dict[str, Any]:
    """Put the job object on the server and in the cache (the same version)."""
    obj = case.make(case.name, **kw)
    w.kube.objects[case.path] = copy.deepcopy(obj)
    w.put(case.kind, obj)
    return obj


def server(case: Case, w: World) -> dict[str, Any]:
    return w.kube.objects[case.path]


def phase(case: Case, w: World) -> str:
    return str(server(case, w).get("status", {}).get("phase", ""))


def annotations(case: Case, w: World) -> dict[str, str]:
    return dict(server(case, w)["metadata"].get("annotations") or {})


def status_writes(case: Case, w: World) -> list[str]:
    status = case.kind.path(NS, case.name, status=True)
    return [c.body["status"]["phase"] for c in w.kube.writes() if c.path == status]


# --- fault 4: interrupted attempts ------------------------------------------------------------


async def test_fault_4_a_resumed_job_counts_its_attempt_before_claiming(case: Case, w: World) -> None:
    engine = case.engine()
    job(case, w, phase="InProgress")

    await case.reconciler(w, engine).reconcile(case.key)

    count, claim, *_ = w.kube.writes()
    assert (count.path, count.body["metadata"]["annotations"]) == (case.path, {attempts.ANNOTATION: "2"})
    assert count.body["metadata"]["resourceVersion"] == "7"
    assert claim.body["metadata"] == {"resourceVersion": "8"}  # preconditioned on the count's version
    assert len(engine.jobs) == 1
    assert phase(case, w) == "Completed"


async def test_fault_4_a_first_claim_writes_no_count(case: Case, w: World) -> None:
    job(case, w, phase="InQueue")

    await case.reconciler(w, case.engine()).reconcile(case.key)

    assert attempts.ANNOTATION not in annotations(case, w)
    assert status_writes(case, w) == ["InProgress", "Completed"]


async def test_fault_4_a_job_that_kills_the_process_fails_after_three_attempts(case: Case, w: World) -> None:
    """Each "restart" is a new reconciler (nothing in memory) over what the server holds."""
    engine = case.engine()
    engine.error = ProcessKilled()
    job(case, w, phase="InQueue")

    restarts = 0
    while restarts < 10:
        w.put(case.kind, copy.deepcopy(server(case, w)))
        try:
            await case.reconciler(w, engine).reconcile(case.key)
        except ProcessKilled:
            restarts += 1
            continue
        break

    assert restarts == 3
    assert len(engine.jobs) == 3
    assert phase(case, w) == "Failed"
    reason = server(case, w)["status"]["reason"]
    assert reason == attempts.interrupted_reason(3)
    assert "interrupted repeatedly" in reason
    assert ("Warning", "Failed", reason) in w.kube.events()


async def test_fault_4_giving_up_is_preconditioned_like_every_cache_decision(case: Case, w: World) -> None:
    engine = case.engine()
    job(case, w, phase="InProgress", resource_version="9")
    stale = case.make(case.name, phase="InProgress", resource_version="8")
    stale["metadata"]["annotations"] = {attempts.ANNOTATION: "3"}
    w.put(case.kind, stale)

    with pytest.raises(errors.Conflict):
        await case.reconciler(w, engine).reconcile(case.key)

    assert engine.jobs == []
    assert phase(case, w) == "InProgress"


async def test_fault_4_counting_on_a_stale_cache_conflicts_and_runs_nothing(case: Case, w: World) -> None:
    engine = case.engine()
    job(case, w, phase="Completed", resource_version="9")
    w.put(case.kind, case.make(case.name, phase="InProgress", resource_version="8"))

    with pytest.raises(errors.Conflict):
        await case.reconciler(w, engine).reconcile(case.key)

    assert engine.jobs == []
    assert attempts.ANNOTATION not in annotations(case, w)


@pytest.mark.parametrize(("value", "count"), [(None, 1), ("2", 2), ("3", 3), ("junk", 1), ("-4", 1)])
def test_fault_4_the_count_reads_any_annotation(value: str | None, count: int) -> None:
    raw = snapshot(phase="InProgress", annotations=None if value is None else {attempts.ANNOTATION: value})
    assert attempts.interrupted(raw) == count


# --- fault 6: bad durations and bookkeeping after the engine ------------------------------------


async def test_fault_6_a_ttl_out_of_range_fails_before_any_work(case: Case, w: World) -> None:
    engine = case.engine()
    spec = (
        {"clusterName": "c1", "objectstoreConfig": "store"} if case is SNAPSHOT else {"snapshotName": "snap"}
    )
    job(case, w, phase="InQueue", spec={**spec, "ttl": "9999999h"})

    await case.reconciler(w, engine).reconcile(case.key)

    assert engine.jobs == []
    assert phase(case, w) == "Failed"
    assert "spec.ttl '9999999h' is out of range" in server(case, w)["status"]["reason"]


async def test_fault_6_bookkeeping_that_fails_after_the_engine_never_redoes_the_work(
    case: Case, w: World
) -> None:
    engine = case.broken_engine()  # finishes, with a result its report cannot be built from
    job(case, w, phase="InQueue")

    await case.reconciler(w, engine).reconcile(case.key)
    w.put(case.kind, copy.deepcopy(server(case, w)))
    await case.reconciler(w, engine).reconcile(case.key)

    assert len(engine.jobs) == 1
    assert phase(case, w) == "Failed"
    assert "the outcome cannot be reported: ValueError: " in server(case, w)["status"]["reason"]


# --- fault 7: the outcome write --------------------------------------------------------------


def flaky_outcome_writes(w: World, error: Exception, *, times: int) -> list[str]:
    """Make the next ``times`` unconditional status writes (outcome reports) raise ``error``."""
    failures: list[str] = []

    def intercept(call: Call) -> Exception | None:
        patch = call.body or {}
        is_outcome = (
            call.method == "merge_patch" and call.path.endswith("/status") and "metadata" not in patch
        )
        if is_outcome and len(failures) < times:
            failures.append(patch["status"]["phase"])
            return error
        return None

    w.kube.intercept = intercept
    return failures


async def test_fault_7_a_503_on_the_outcome_write_is_retried_with_backoff(case: Case, w: World) -> None:
    engine = case.engine()
    job(case, w, phase="InQueue")
    failures = flaky_outcome_writes(w, errors.ApiRetriable("PATCH: 503 Service Unavailable"), times=2)

    await case.reconciler(w, engine).reconcile(case.key)

    assert failures == ["Completed", "Completed"]
    assert cast(RecordingClock, w.ctx.clock).slept == [outcomes.FIRST_DELAY, 2 * outcomes.FIRST_DELAY]
    assert phase(case, w) == "Completed"
    assert len(engine.jobs) == 1
    assert [r for r in w.kube.reasons() if r == "Completed"] == ["Completed"]


async def test_fault_7_an_outcome_not_saved_is_written_again_never_redone(case: Case, w: World) -> None:
    engine = case.engine()
    job(case, w, phase="InQueue")
    flaky_outcome_writes(w, errors.ApiRetriable("PATCH: 503"), times=outcomes.WRITE_ATTEMPTS)
    r = case.reconciler(w, engine)

    with pytest.raises(errors.ApiRetriable):
        await r.reconcile(case.key)
    assert phase(case, w) == "InProgress"
    assert cast(RecordingClock, w.ctx.clock).slept == [0.5, 1.0, 2.0, 4.0]

    w.put(case.kind, copy.deepcopy(server(case, w)))  # the work queue retries the key
    await r.reconcile(case.key)

    assert len(engine.jobs) == 1
    assert phase(case, w) == "Completed"


async def test_fault_7_an_outcome_the_server_refuses_becomes_failed(case: Case, w: World) -> None:
    engine = case.engine()
    job(case, w, phase="InQueue")
    flaky_outcome_writes(w, errors.Invalid("PATCH: status is too large"), times=1)

    await case.reconciler(w, engine).reconcile(case.key)

    assert len(engine.jobs) == 1
    assert phase(case, w) == "Failed"
    assert server(case, w)["status"]["reason"] == "the outcome could not be saved: PATCH: status is too large"


async def test_fault_7_a_job_deleted_before_its_outcome_is_saved_needs_no_report(
    case: Case, w: World
) -> None:
    engine = case.engine()
    job(case, w, phase="InQueue")
    flaky_outcome_writes(w, errors.NotFound("PATCH: not found"), times=1)

    assert await case.reconciler(w, engine).reconcile(case.key) is None

    assert status_writes(case, w) == ["InProgress", "Completed"]  # no retry, no Failed report
