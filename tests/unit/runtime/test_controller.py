"""Controller workers: success, failure, requeue, metrics and graceful stop."""

from __future__ import annotations

import asyncio
import logging

import pytest

from k8ssnap.runtime.controller import Controller, Requeue
from k8ssnap.runtime.delaying import RateLimitingQueue
from k8ssnap.runtime.metrics import Registry
from k8ssnap.runtime.ratelimit import ItemExponentialFailureRateLimiter
from k8ssnap.testing.fakeclock import FakeClock, settle


def make_queue(clock: FakeClock) -> RateLimitingQueue[str]:
    return RateLimitingQueue(name="q", clock=clock, limiter=ItemExponentialFailureRateLimiter())


async def test_success_forgets_and_does_not_requeue(clock, spawn) -> None:
    queue = make_queue(clock)
    seen: list[str] = []

    async def reconcile(key: str) -> None:
        seen.append(key)

    controller = Controller(name="c", queue=queue, reconcile=reconcile, clock=clock)
    queue.add("k")
    queue.add_rate_limited("k")  # pretend it had failed before
    spawn(controller.run())
    await clock.run_for(1)
    assert seen == ["k", "k"]
    assert queue.num_requeues("k") == 0
    assert len(queue) == 0 and queue.processing == 0 and queue.waiting == 0


async def test_failure_is_logged_and_retried_with_backoff(clock, spawn, caplog) -> None:
    queue = make_queue(clock)
    attempts: list[float] = []

    async def reconcile(key: str) -> None:
        attempts.append(clock.now())
        if len(attempts) < 4:
            raise RuntimeError("boom")

    controller = Controller(name="c", queue=queue, reconcile=reconcile, clock=clock)
    queue.add("ns/k")
    with caplog.at_level(logging.ERROR, logger="k8ssnap.runtime.controller"):
        spawn(controller.run())
        await clock.run_for(1)
    assert attempts == pytest.approx([0.0, 0.005, 0.015, 0.035])  # 5, 10, 20 ms apart
    assert queue.num_requeues("ns/k") == 0  # forgotten after the success
    assert sum("ns/k" in r.getMessage() for r in caplog.records) == 3


@pytest.mark.parametrize("style", ["raise", "return"])
async def test_requeue_asks_for_a_later_look_without_counting_a_failure(clock, spawn, style: str) -> None:
    queue = make_queue(clock)
    attempts: list[float] = []

    async def reconcile(key: str) -> Requeue | None:
        attempts.append(clock.now())
        if len(attempts) == 1:
            raise RuntimeError("one failure first")
        if len(attempts) == 2:
            if style == "raise":
                raise Requeue(after=60)
            return Requeue(after=60)
        return None

    controller = Controller(name="c", queue=queue, reconcile=reconcile, clock=clock)
    queue.add("k")
    spawn(controller.run())
    await clock.run_for(0.005)
    assert queue.num_requeues("k") == 0  # the requeue forgot the failure
    await clock.run_for(59.99)
    assert len(attempts) == 2
    await clock.run_for(0.01)
    assert attempts == pytest.approx([0.0, 0.005, 60.005])


async def test_workers_share_the_queue_but_never_a_key(clock, spawn) -> None:
    queue = make_queue(clock)
    running: set[str] = set()
    clashes = 0
    done: list[str] = []

    async def reconcile(key: str) -> None:
        nonlocal clashes
        clashes += key in running
        running.add(key)
        await clock.sleep(1)
        running.discard(key)
        done.append(key)

    controller = Controller(name="c", queue=queue, reconcile=reconcile, workers=3, clock=clock)
    spawn(controller.run())
    for key in ["a", "b", "a", "c"]:
        queue.add(key)
    await settle()
    assert controller.in_flight == 3  # a, b, c in parallel
    queue.add("a")  # while "a" is running
    await clock.run_for(1)
    assert sorted(done) == ["a", "b", "c"]
    await clock.run_for(1)
    assert sorted(done) == ["a", "a", "b", "c"]
    assert clashes == 0


async def test_run_returns_when_the_queue_shuts_down(clock, spawn) -> None:
    queue = make_queue(clock)

    async def reconcile(key: str) -> None:
        pass

    controller = Controller(name="c", queue=queue, reconcile=reconcile, workers=2, clock=clock)
    runner = spawn(controller.run())
    await settle()
    queue.shut_down()
    await settle()
    assert runner.done() and runner.exception() is None


async def test_stop_lets_in_flight_work_finish_within_grace(clock, spawn) -> None:
    queue = make_queue(clock)
    finished: list[str] = []

    async def reconcile(key: str) -> None:
        await clock.sleep(3)
        finished.append(key)

    controller = Controller(name="c", queue=queue, reconcile=reconcile, clock=clock)
    runner = spawn(controller.run())
    queue.add("a")
    await settle()
    queue.add("b")  # queued behind "a": must not be started after stop
    stopper = spawn(controller.stop(grace=10))
    await clock.run_for(3)
    assert stopper.done() and runner.done()
    assert finished == ["a"]
    assert queue.processing == 0
    assert clock.now() == 3  # did not wait out the grace period


async def test_stop_cancels_work_that_outlives_grace(clock, spawn) -> None:
    queue = make_queue(clock)
    cancelled: list[str] = []

    async def reconcile(key: str) -> None:
        try:
            await asyncio.get_running_loop().create_future()
        except asyncio.CancelledError:
            cancelled.append(key)
            raise

    controller = Controller(name="c", queue=queue, reconcile=reconcile, workers=2, clock=clock)
    runner = spawn(controller.run())
    queue.add("a")
    queue.add("b")
    await settle()
    stopper = spawn(controller.stop(grace=5))
    await clock.run_for(4.9)
    assert not stopper.done()
    await clock.run_for(0.1)
    assert stopper.done() and runner.done()
    assert sorted(cancelled) == ["a", "b"]
    assert queue.processing == 0


async def test_reconcile_metrics_are_recorded(clock, spawn) -> None:
    registry = Registry()
    queue = make_queue(clock)

    async def reconcile(key: str) -> None:
        await clock.sleep(2)
        if key == "bad":
            raise ValueError("nope")

    controller = Controller(name="snaps", queue=queue, reconcile=reconcile, clock=clock, registry=registry)
    spawn(controller.run())
    queue.add("good")
    queue.add("bad")
    await clock.run_for(4)
    text = registry.render()
    assert 'controller_reconcile_total{controller="snaps",result="success"} 1.0' in text
    assert 'controller_reconcile_total{controller="snaps",result="error"} 1.0' in text
    assert 'controller_reconcile_duration_seconds_sum{controller="snaps",result="success"} 2.0' in text


def test_needs_a_worker(clock) -> None:
    async def reconcile(key: str) -> None:
        pass

    with pytest.raises(ValueError):
        Controller(name="c", queue=make_queue(clock), reconcile=reconcile, workers=0)
