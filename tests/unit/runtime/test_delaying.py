"""DelayingQueue (heap by ready time, earlier time wins) and RateLimitingQueue."""

from __future__ import annotations

import pytest

from k8ssnap.runtime.delaying import HEARTBEAT, DelayingQueue, RateLimitingQueue
from k8ssnap.runtime.ratelimit import ItemExponentialFailureRateLimiter
from k8ssnap.testing.fakeclock import FakeClock, settle


async def take_all(queue: DelayingQueue[str]) -> list[str]:
    items = []
    while len(queue):
        item, _ = await queue.get()
        assert item is not None
        items.append(item)
        queue.done(item)
    return items


@pytest.mark.parametrize("delay", [0, -1.5])
async def test_non_positive_delay_adds_at_once(clock: FakeClock, delay: float) -> None:
    queue: DelayingQueue[str] = DelayingQueue(clock=clock)
    queue.add_after("a", delay)
    assert len(queue) == 1
    assert queue.waiting == 0


async def test_items_become_ready_in_ready_time_order(clock: FakeClock) -> None:
    queue: DelayingQueue[str] = DelayingQueue(clock=clock)
    for item, delay in [("c", 3.0), ("a", 1.0), ("b", 2.0), ("b2", 2.0)]:
        queue.add_after(item, delay)
    await settle()
    assert len(queue) == 0
    await clock.run_for(0.999)
    assert len(queue) == 0
    await clock.run_for(0.001)
    assert await take_all(queue) == ["a"]
    await clock.run_for(2)
    assert await take_all(queue) == ["b", "b2", "c"]  # ties keep insertion order
    assert queue.waiting == 0


@pytest.mark.parametrize(
    ("delays", "ready_at"),
    [
        ((5.0, 1.0), 1.0),  # re-adding sooner moves it earlier
        ((1.0, 5.0), 1.0),  # re-adding later keeps the earlier time
    ],
)
async def test_re_adding_keeps_the_earlier_ready_time(
    clock: FakeClock, delays: tuple[float, float], ready_at: float
) -> None:
    queue: DelayingQueue[str] = DelayingQueue(clock=clock)
    for delay in delays:
        queue.add_after("x", delay)
    assert queue.waiting == 1
    await clock.run_for(ready_at - 0.01)
    assert len(queue) == 0
    await clock.run_for(0.01)
    assert await take_all(queue) == ["x"]
    await clock.run_for(10)
    assert len(queue) == 0  # added once, not again at the later time


async def test_long_delays_survive_heartbeats(clock: FakeClock) -> None:
    queue: DelayingQueue[str] = DelayingQueue(clock=clock)
    queue.add_after("x", 2.5 * HEARTBEAT)
    await settle()
    assert clock.deadlines() == [HEARTBEAT]
    await clock.run_for(2.5 * HEARTBEAT - 0.1)
    assert len(queue) == 0
    await clock.run_for(0.1)
    assert len(queue) == 1


async def test_waiting_task_ends_when_nothing_waits(clock: FakeClock) -> None:
    queue: DelayingQueue[str] = DelayingQueue(clock=clock)
    queue.add_after("x", 1)
    await clock.run_for(1)
    assert len(queue) == 1
    assert clock.sleepers == 0
    queue.add_after("y", 1)  # a new task starts
    await clock.run_for(1)
    assert len(queue) == 2


async def test_a_delayed_item_already_queued_collapses(clock: FakeClock) -> None:
    queue: DelayingQueue[str] = DelayingQueue(clock=clock)
    queue.add("x")
    queue.add_after("x", 1)
    await clock.run_for(1)
    assert await take_all(queue) == ["x"]


async def test_shutdown_drops_waiting_items_and_refuses_new_ones(clock: FakeClock) -> None:
    queue: DelayingQueue[str] = DelayingQueue(clock=clock)
    queue.add_after("x", 1)
    await settle()
    queue.shut_down()
    queue.add_after("y", 1)
    queue.add_after("z", 0)
    await clock.run_for(5)
    assert len(queue) == 0
    assert queue.waiting == 0
    assert clock.sleepers == 0
    assert await queue.get() == (None, True)


async def test_rate_limited_adds_follow_the_limiter(clock: FakeClock) -> None:
    queue: RateLimitingQueue[str] = RateLimitingQueue(
        clock=clock, limiter=ItemExponentialFailureRateLimiter()
    )
    expected_delays = [0.005, 0.010, 0.020]
    for attempt, delay in enumerate(expected_delays, start=1):
        queue.add_rate_limited("k")
        await clock.run_for(delay - 0.0001)
        assert len(queue) == 0
        await clock.run_for(0.0001)
        assert await take_all(queue) == ["k"]
        assert queue.num_requeues("k") == attempt
    queue.forget("k")
    assert queue.num_requeues("k") == 0
    queue.add_rate_limited("k")
    await clock.run_for(0.005)
    assert len(queue) == 1


async def test_default_limiter_is_used_when_none_given(clock: FakeClock) -> None:
    queue: RateLimitingQueue[str] = RateLimitingQueue(clock=clock)
    queue.add_rate_limited("k")
    queue.add_rate_limited("k")
    assert queue.num_requeues("k") == 2
    queue.shut_down()
    await settle()
    assert clock.sleepers == 0
