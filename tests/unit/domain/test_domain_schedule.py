"""SnapshotSchedule rules on a fake clock: due runs, Forbid, catch-up, names, retention, the latest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from k8ssnap.domain import cadence, schedule
from k8ssnap.domain.schedule import SnapshotFacts

UTC_ZONE = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
CREATED = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """CREATED plus ``seconds``: the fake clock."""
    return CREATED + timedelta(seconds=seconds)


def plan(
    expression: str = "@every 10s",
    *,
    now: float,
    last: float | None = None,
    deadline: float | None = None,
    suspended: bool = False,
    active: bool = False,
    zone: ZoneInfo = UTC_ZONE,
) -> schedule.Plan:
    return schedule.plan(
        cadence.parse(expression),
        zone=zone,
        created=CREATED,
        last=None if last is None else at(last),
        now=at(now),
        deadline=None if deadline is None else timedelta(seconds=deadline),
        suspended=suspended,
        active=active,
    )


@pytest.mark.parametrize(
    ("now", "last", "deadline", "active", "expected"),
    [
        # nothing due yet: wait for the first time after creation
        (5, None, None, False, ("wait", None, 10, 0)),
        # the first run, on time
        (10, None, None, False, ("run", 10, 20, 0)),
        (10.4, None, None, False, ("run", 10, 20, 0)),
        # handled already: wait for the next
        (12, 10, None, False, ("wait", None, 20, 0)),
        # Forbid: the previous snapshot is still unfinished, the due run is skipped (and consumed)
        (20, 10, None, True, ("skip", 20, 30, 0)),
        # down for 3 periods: one catch-up run for the most recent time, two dropped
        (45, 10, None, False, ("run", 40, 50, 2)),
        # ... within startingDeadlineSeconds
        (45, 10, 10, False, ("run", 40, 50, 2)),
        # ... but not when the most recent time is later than the deadline allows: missed
        (49, 10, 5, False, ("missed", 40, 50, 2)),
        # exactly at the deadline still runs
        (45, 10, 5, False, ("run", 40, 50, 2)),
        # a missed run while another is active is still only missed
        (49, 10, 5, True, ("missed", 40, 50, 2)),
    ],
)
def test_plan_every(
    now: float,
    last: float | None,
    deadline: float | None,
    active: bool,
    expected: tuple[str, float | None, float, int],
) -> None:
    found = plan(now=now, last=last, deadline=deadline, active=active)
    action, due, following, dropped = expected
    assert found == schedule.Plan(
        action=action,  # type: ignore[arg-type]
        at=None if due is None else at(due),
        next=at(following),
        dropped=dropped,
    )


def test_suspended_does_nothing_and_has_no_next_run() -> None:
    assert plan(now=1000, last=10, suspended=True) == schedule.Plan(action="suspended")


def test_resume_runs_the_latest_missed_time_once() -> None:
    resumed = plan(now=1005, last=10)
    assert (resumed.action, resumed.at, resumed.dropped) == ("run", at(1000), 98)
    after = plan(now=1006, last=1000)
    assert after.action == "wait"
    assert after.next == at(1010)


def test_resume_after_the_deadline_is_a_miss_not_a_run() -> None:
    assert plan(now=1009, last=10, deadline=5).action == "missed"


def test_catch_up_happens_once_then_the_cadence_resumes() -> None:
    """The controller was down from 10 s to 47 s; replay its decisions as it would make them."""
    first = plan(now=47, last=10)
    assert (first.action, first.at) == ("run", at(40))
    assert plan(now=48, last=40).action == "wait"
    assert plan(now=50, last=40) == schedule.Plan(action="run", at=at(50), next=at(60))


@pytest.mark.parametrize(
    ("now_local", "last_local", "expected"),
    [
        # hourly in Berlin across the long night of 2026-10-25: both 02:00s run, an hour apart in UTC
        ("2026-10-25T02:00:10+02:00", "2026-10-25T01:00:00+02:00", "2026-10-25T02:00:00+02:00"),
        ("2026-10-25T02:00:10+01:00", "2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00"),
        # daily 02:30 on the spring-forward day runs at 03:00 CEST
        ("2026-03-29T03:00:05+02:00", "2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00"),
    ],
)
def test_plan_cron_across_dst(now_local: str, last_local: str, expected: str) -> None:
    expression = "0 * * * *" if now_local.startswith("2026-10") else "30 2 * * *"
    found = schedule.plan(
        cadence.parse(expression),
        zone=BERLIN,
        created=CREATED - timedelta(days=400),
        last=datetime.fromisoformat(last_local),
        now=datetime.fromisoformat(now_local),
        deadline=None,
        suspended=False,
        active=False,
    )
    assert found.action == "run"
    assert found.at == datetime.fromisoformat(expected)
    assert found.dropped == 0


def test_fall_back_night_daily_runs_once() -> None:
    daily = cadence.parse("30 2 * * *")
    first = schedule.plan(
        daily, zone=BERLIN, created=CREATED - timedelta(days=400),
        last=datetime.fromisoformat("2026-10-24T02:30:00+02:00"),
        now=datetime.fromisoformat("2026-10-25T02:30:01+02:00"),
        deadline=None, suspended=False, active=False,
    )  # fmt: skip
    assert first.at == datetime.fromisoformat("2026-10-25T02:30:00+02:00")
    second = schedule.plan(
        daily, zone=BERLIN, created=CREATED - timedelta(days=400), last=first.at,
        now=datetime.fromisoformat("2026-10-25T02:30:01+01:00"),
        deadline=None, suspended=False, active=False,
    )  # fmt: skip
    assert second.action == "wait"
    assert second.next == datetime.fromisoformat("2026-10-26T02:30:00+01:00")


# --- names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "name"),
    [
        (datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC), "nightly-20260501120000"),
        (datetime(2026, 5, 1, 14, 0, 0, tzinfo=ZoneInfo("Europe/Berlin")), "nightly-20260501120000"),
        (datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC), "nightly-20261231235959"),
    ],
)
def test_snapshot_name_is_the_utc_time(moment: datetime, name: str) -> None:
    assert schedule.snapshot_name("nightly", moment) == name
    assert schedule.scheduled_at("nightly", name) == moment


@pytest.mark.parametrize(
    ("name", "label", "made"),
    [
        ("nightly-20260501120000", "nightly", True),
        ("nightly-20260501120000", None, False),  # a copy without the label
        ("nightly-20260501120000", "other", False),
        ("by-hand", "nightly", False),  # someone labelled their own
        ("nightly-2026050112000x", "nightly", False),
        ("nightly-20261399000000", "nightly", False),
        ("nightly-extra-20260501120000", "nightly", False),
    ],
)
def test_made_by(name: str, label: str | None, made: bool) -> None:
    assert schedule.made_by("nightly", name=name, label=label) is made


@pytest.mark.parametrize(
    ("name", "ok"), [("nightly", True), ("a" * 63, True), ("a" * 64, False), ("-bad", False), ("Up", False)]
)
def test_schedule_name_problem(name: str, ok: bool) -> None:
    assert (schedule.schedule_name_problem(name) is None) is ok


# --- retention and the latest ------------------------------------------------------------


def facts(
    name: str,
    phase: str = "Completed",
    *,
    taken: float | None = None,
    owner: str | None = "nightly",
    cluster: str = "a",
    deleting: bool = False,
) -> SnapshotFacts:
    return SnapshotFacts(
        name=name,
        phase=phase,
        taken=None if taken is None else at(taken),
        created=at(taken or 0),
        cluster_name=cluster,
        schedule=owner,
        deleting=deleting,
    )


MIXED = [
    facts("n-4", taken=40),
    facts("n-1", taken=10),
    facts("n-3", taken=30),
    facts("n-2", taken=20),
    facts("n-0f", "Failed", taken=None),
    facts("n-5p", "InProgress"),
    facts("n-6q", "InQueue"),
    facts("hand", taken=0, owner=None),
    facts("other", taken=1, owner="weekly"),
    facts("n-0d", taken=5, deleting=True),
]


@pytest.mark.parametrize(
    ("keep", "pruned"),
    [
        (None, ()),
        (10, ()),
        (4, ()),
        (3, ("n-1",)),
        (2, ("n-1", "n-2")),
        (1, ("n-1", "n-2", "n-3")),
        (0, ("n-1", "n-2", "n-3", "n-4")),
    ],
)
def test_retention_picks_exactly_the_oldest_completed_beyond_keep(
    keep: int | None, pruned: tuple[str, ...]
) -> None:
    assert schedule.to_prune(MIXED, schedule="nightly", keep=keep) == pruned


def test_retention_orders_equal_times_by_name() -> None:
    same = [facts("n-b", taken=10), facts("n-a", taken=10)]
    assert schedule.to_prune(same, schedule="nightly", keep=1) == ("n-a",)


def test_active_are_the_unfinished_of_this_schedule() -> None:
    assert schedule.active(MIXED, schedule="nightly") == ("n-5p", "n-6q")
    assert schedule.active(MIXED, schedule="weekly") == ()


def test_last_success() -> None:
    found = schedule.last_success(MIXED, schedule="nightly")
    assert found is not None
    assert found.name == "n-4"
    assert schedule.last_success([], schedule="nightly") is None


@pytest.mark.parametrize(
    ("selector", "max_age", "chosen"),
    [
        ({"schedule": "nightly"}, None, "n-4"),
        ({"schedule": "nightly"}, 61.0, "n-4"),
        ({"schedule": "weekly"}, None, "other"),
        ({"cluster_name": "a"}, None, "n-4"),
        ({"cluster_name": "b"}, None, "b-1"),
    ],
)
def test_choose_latest(selector: dict[str, str], max_age: float | None, chosen: str) -> None:
    pool = [*MIXED, facts("b-1", taken=35, owner=None, cluster="b"), facts("b-f", "Failed", cluster="b")]
    found = schedule.choose_latest(
        pool,
        schedule=selector.get("schedule"),
        cluster_name=selector.get("cluster_name"),
        now=at(100),
        max_age=None if max_age is None else timedelta(seconds=max_age),
    )
    assert found.name == chosen


@pytest.mark.parametrize(
    ("selector", "max_age", "words"),
    [
        ({"schedule": "none"}, None, "no Completed snapshot of schedule 'none'"),
        ({"cluster_name": "c"}, None, "no Completed snapshot of cluster 'c'"),
        ({"schedule": "nightly"}, 59.0, "n-4, is 1m old, older than maxAge 59s"),
        ({}, None, "neither"),
    ],
)
def test_choose_latest_fails_with_a_reason(
    selector: dict[str, str], max_age: float | None, words: str
) -> None:
    with pytest.raises(schedule.NoSnapshot, match=words):
        schedule.choose_latest(
            [*MIXED, facts("c-f", "Failed", cluster="c"), facts("c-p", "InProgress", cluster="c")],
            schedule=selector.get("schedule"),
            cluster_name=selector.get("cluster_name"),
            now=at(100),
            max_age=None if max_age is None else timedelta(seconds=max_age),
        )
