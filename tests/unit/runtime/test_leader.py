"""Leader election: acquire, renew, lose, take over and release, on a fake Lease API."""

from __future__ import annotations

import asyncio
import copy
import datetime
from typing import Any

import pytest

from k8ssnap import errors
from k8ssnap.runtime.leader import (
    LeaderElectionConfig,
    LeaderElector,
    LeaseClient,
    format_micro_time,
)
from k8ssnap.testing.fakeclock import FakeClock, settle

EPOCH = datetime.datetime(2026, 11, 21, 1, 2, 3, tzinfo=datetime.UTC)


class FakeLeaseClient:
    """One namespace's Leases in memory, with optimistic concurrency."""

    def __init__(self) -> None:
        self.leases: dict[str, dict[str, Any]] = {}
        self.version = 0
        self.failure: Exception | None = None
        self.hang_gets = False
        """True: every ``get`` waits forever (an API server that stopped answering)."""
        self.writes: list[str] = []

    def _check(self) -> None:
        if self.failure is not None:
            raise self.failure

    async def get(self, name: str) -> dict[str, Any] | None:
        if self.hang_gets:
            await asyncio.get_running_loop().create_future()
        self._check()
        lease = self.leases.get(name)
        return copy.deepcopy(lease) if lease else None

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check()
        name = body["metadata"]["name"]
        if name in self.leases:
            raise errors.AlreadyExists(f"lease {name} exists")
        return self._store(body, "create")

    async def replace(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check()
        current = self.leases[body["metadata"]["name"]]
        if body["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
            raise errors.Conflict("the object has been modified")
        return self._store(body, "replace")

    def _store(self, body: dict[str, Any], verb: str) -> dict[str, Any]:
        self.version += 1
        stored = copy.deepcopy(body)
        stored["metadata"]["resourceVersion"] = str(self.version)
        self.leases[stored["metadata"]["name"]] = stored
        self.writes.append(f"{verb} {stored['spec'].get('holderIdentity')}")
        return copy.deepcopy(stored)

    def spec(self) -> dict[str, Any]:
        return self.leases["lock"]["spec"]

    def put_foreign(self, holder: str, *, renew: str = "2000-01-01T00:00:00.000000Z") -> None:
        """Another replica writes the lease (a renewal, as far as we can tell)."""
        spec = {"holderIdentity": holder, "leaseDurationSeconds": 15, "renewTime": renew}
        lease = self.leases.get("lock")
        body = copy.deepcopy(lease) if lease else {"metadata": {"name": "lock"}}
        body["spec"] = spec
        self._store(body, "foreign")


class Leadership:
    """Records the callbacks; the leading task runs until cancelled."""

    def __init__(self) -> None:
        self.log: list[str] = []

    async def started(self) -> None:
        self.log.append("started")
        try:
            await asyncio.get_running_loop().create_future()
        except asyncio.CancelledError:
            self.log.append("cancelled")
            raise

    async def stopped(self) -> None:
        self.log.append("stopped")


def elector(clock: FakeClock, client: FakeLeaseClient, identity: str = "me", **kw: Any) -> LeaderElector:
    typed: LeaseClient = client
    config = LeaderElectionConfig(lease_name="lock", namespace="k8ssnap", identity=identity, **kw)
    return LeaderElector(
        config=config,
        client=typed,
        clock=clock,
        wall=lambda: EPOCH + datetime.timedelta(seconds=clock.now()),
        rand=lambda: 0.0,
    )


async def test_acquires_a_missing_lease(clock, spawn) -> None:
    client, leadership = FakeLeaseClient(), Leadership()
    spawn(elector(clock, client).run(leadership.started, leadership.stopped))
    await settle()
    assert leadership.log == ["started"]
    lease = client.leases["lock"]
    assert lease["apiVersion"] == "coordination.k8s.io/v1" and lease["kind"] == "Lease"
    assert lease["metadata"]["namespace"] == "k8ssnap"
    assert lease["spec"] == {
        "holderIdentity": "me",
        "leaseDurationSeconds": 15,
        "acquireTime": "2026-11-21T01:02:03.000000Z",
        "renewTime": "2026-11-21T01:02:03.000000Z",
        "leaseTransitions": 0,
    }


async def test_acquires_a_released_lease_and_counts_the_transition(clock, spawn) -> None:
    client, leadership = FakeLeaseClient(), Leadership()
    client.put_foreign("")
    client.spec()["leaseTransitions"] = 4
    spawn(elector(clock, client).run(leadership.started, leadership.stopped))
    await settle()
    assert leadership.log == ["started"]
    assert client.spec()["holderIdentity"] == "me"
    assert client.spec()["leaseTransitions"] == 5


async def test_renews_every_retry_period_keeping_acquire_time(clock, spawn) -> None:
    client, leadership = FakeLeaseClient(), Leadership()
    spawn(elector(clock, client).run(leadership.started, leadership.stopped))
    await clock.run_for(5)
    assert client.writes == ["create me", "replace me", "replace me"]  # at 0, 2 and 4 s
    assert client.spec()["acquireTime"] == "2026-11-21T01:02:03.000000Z"
    assert client.spec()["renewTime"] == "2026-11-21T01:02:07.000000Z"
    assert leadership.log == ["started"]


async def test_waits_out_a_stale_foreign_lease_by_its_own_clock(clock, spawn) -> None:
    client, leadership = FakeLeaseClient(), Leadership()
    client.put_foreign("other")  # renewTime in the year 2000: ignored, we time it ourselves
    me = elector(clock, client)
    spawn(me.run(leadership.started, leadership.stopped))
    await clock.run_for(14.9)
    assert leadership.log == []
    assert not me.is_leader
    await clock.run_for(2.1)  # next retry after 15 s of no change
    assert leadership.log == ["started"]
    assert client.spec()["holderIdentity"] == "me"
    assert client.spec()["leaseTransitions"] == 1


async def test_never_takes_a_lease_that_keeps_being_renewed(clock, spawn) -> None:
    client, leadership = FakeLeaseClient(), Leadership()
    me = elector(clock, client)
    client.put_foreign("other")
    spawn(me.run(leadership.started, leadership.stopped))
    for second in range(1, 60):
        await clock.run_for(1)
        if second % 5 == 0:
            client.put_foreign("other", renew=f"2026-11-21T01:02:{second:02d}.000000Z")
    assert leadership.log == []
    assert client.spec()["holderIdentity"] == "other"
    assert me.observed_record is not None and me.observed_record.holder_identity == "other"


async def test_loses_leadership_when_renewals_fail_past_the_deadline(clock, spawn) -> None:
    client, leadership = FakeLeaseClient(), Leadership()
    runner = spawn(elector(clock, client).run(leadership.started, leadership.stopped))
    await clock.run_for(1)  # leading; the next renewal is at t=2
    client.failure = errors.ApiRetriable("apiserver unreachable")
    await clock.run_for(10.9)  # renewals fail from t=2; the deadline is t=12
    assert leadership.log == ["started"]
    await clock.run_for(0.2)
    assert leadership.log == ["started", "cancelled", "stopped"]
    assert runner.done() and runner.exception() is None


async def test_a_hanging_api_call_cannot_outlive_the_renew_deadline(clock, spawn) -> None:
    client, leadership = FakeLeaseClient(), Leadership()
    runner = spawn(elector(clock, client).run(leadership.started, leadership.stopped))
    await clock.run_for(1)
    client.hang_gets = True
    await clock.run_for(11.1)
    assert leadership.log == ["started", "cancelled", "stopped"]
    assert runner.done()


async def test_taken_over_leader_steps_down_and_the_other_takes_over(clock, spawn) -> None:
    client = FakeLeaseClient()
    first, second = Leadership(), Leadership()
    spawn(elector(clock, client, "a").run(first.started, first.stopped))
    await settle()
    spawn(elector(clock, client, "b").run(second.started, second.stopped))
    await clock.run_for(30)
    assert first.log == ["started"] and second.log == []  # b waits while a renews
    client.put_foreign("b")  # e.g. an admin hands the lease to b
    await clock.run_for(11.9)  # a's renewal round began at t=32: its deadline is t=42
    assert first.log == ["started"]
    assert second.log == ["started"]  # b sees itself named and renews at its next retry
    await clock.run_for(0.2)
    assert first.log == ["started", "cancelled", "stopped"]
    assert client.spec()["holderIdentity"] == "b"


async def test_conflicting_writers_only_one_wins(clock, spawn) -> None:
    client = FakeLeaseClient()
    first, second = Leadership(), Leadership()
    spawn(elector(clock, client, "a").run(first.started, first.stopped))
    spawn(elector(clock, client, "b").run(second.started, second.stopped))
    await clock.run_for(60)
    assert sorted([first.log, second.log]) == [[], ["started"]]


async def test_releases_the_lease_on_cancel(clock, spawn) -> None:
    client, leadership = FakeLeaseClient(), Leadership()
    me = elector(clock, client)
    runner = spawn(me.run(leadership.started, leadership.stopped))
    await clock.run_for(3)
    runner.cancel()
    await settle()
    assert runner.cancelled()
    assert leadership.log == ["started", "cancelled", "stopped"]
    assert client.spec()["holderIdentity"] == ""
    assert client.spec()["leaseDurationSeconds"] == 1
    assert client.spec()["leaseTransitions"] == 0
    assert not me.is_leader


async def test_a_released_lease_is_taken_at_once(clock, spawn) -> None:
    client = FakeLeaseClient()
    first, second = Leadership(), Leadership()
    runner = spawn(elector(clock, client, "a").run(first.started, first.stopped))
    await settle()
    spawn(elector(clock, client, "b").run(second.started, second.stopped))
    await clock.run_for(5)
    runner.cancel()
    await clock.run_for(2.5)  # b's next retry, far sooner than 15 s
    assert second.log == ["started"]
    assert client.spec()["leaseTransitions"] == 1


async def test_leading_task_ending_releases_and_reraises(clock, spawn) -> None:
    client = FakeLeaseClient()
    stopped: list[bool] = []

    async def crash() -> None:
        raise RuntimeError("controller died")

    async def on_stopped() -> None:
        stopped.append(True)

    runner = spawn(elector(clock, client).run(crash, on_stopped))
    await settle()
    assert isinstance(runner.exception(), RuntimeError)
    assert stopped == [True]
    assert client.spec()["holderIdentity"] == ""


@pytest.mark.parametrize(
    "timing",
    [
        {"lease_duration": 10.0, "renew_deadline": 10.0},
        {"renew_deadline": 2.0, "retry_period": 2.0},
        {"retry_period": 0.0},
    ],
)
def test_config_rejects_unsafe_timing(timing: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        LeaderElectionConfig(lease_name="l", namespace="n", identity="me", **timing)


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (
            datetime.datetime(2026, 11, 21, 1, 2, 3, 123456, tzinfo=datetime.UTC),
            "2026-11-21T01:02:03.123456Z",
        ),
        (
            datetime.datetime(
                2026, 11, 21, 3, 2, 3, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
            ),
            "2026-11-21T01:02:03.000005Z",
        ),
    ],
)
def test_micro_time_format(moment: datetime.datetime, text: str) -> None:
    assert format_micro_time(moment) == text
