"""FakeClock, RealClock and wait_for."""

from __future__ import annotations

import asyncio

import pytest

from k8ssnap.runtime.clock import RealClock, wait_for
from k8ssnap.testing.fakeclock import FakeClock, settle


async def test_sleep_parks_until_advance(clock: FakeClock, spawn) -> None:
    task = spawn(clock.sleep(5))
    await settle()
    assert clock.sleepers == 1
    clock.advance(4.9)
    await settle()
    assert not task.done()
    clock.advance(0.1)
    await settle()
    assert task.done()
    assert clock.now() == pytest.approx(5.0)


async def test_advance_wakes_in_deadline_order(clock: FakeClock, spawn) -> None:
    woken: list[str] = []

    async def sleeper(label: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woken.append(label)

    for label, seconds in [("c", 3), ("a", 1), ("b", 2), ("late", 10)]:
        spawn(sleeper(label, seconds))
    await settle()
    clock.advance(5)
    await settle()
    assert woken == ["a", "b", "c"]
    assert clock.deadlines() == [10]


@pytest.mark.parametrize("seconds", [0, -1])
async def test_non_positive_sleep_does_not_park(clock: FakeClock, seconds: float) -> None:
    await clock.sleep(seconds)
    assert clock.sleepers == 0


async def test_cancelled_sleeper_is_forgotten(clock: FakeClock, spawn) -> None:
    task = spawn(clock.sleep(1))
    await settle()
    task.cancel()
    await settle()
    assert clock.sleepers == 0
    assert clock.next_deadline() is None


async def test_run_for_wakes_repeated_sleepers(clock: FakeClock, spawn) -> None:
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            await clock.sleep(2)
            ticks.append(clock.now())

    spawn(ticker())
    await clock.run_for(7)
    assert ticks == [2, 4, 6]
    assert clock.now() == 7


def test_clock_cannot_go_backwards(clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)


async def test_wait_for_returns_result_before_timeout(clock: FakeClock) -> None:
    async def quick() -> str:
        return "ok"

    assert await wait_for(clock, quick(), timeout=1) == "ok"


async def test_wait_for_times_out_on_the_clock(clock: FakeClock, spawn) -> None:
    cancelled = asyncio.Event()

    async def forever() -> None:
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            cancelled.set()

    task = spawn(wait_for(clock, forever(), timeout=3))
    await clock.run_for(2.9)
    assert not task.done()
    await clock.run_for(0.1)
    assert task.done()
    assert isinstance(task.exception(), TimeoutError)
    assert cancelled.is_set()


async def test_real_clock_is_monotonic() -> None:
    real = RealClock()
    first = real.now()
    await real.sleep(0)
    assert real.now() >= first
