"""k8ssnap.retry on a fake clock: retriable errors are retried within the budget, others are not."""

from __future__ import annotations

import asyncio

import pytest

from k8ssnap import errors, retry
from k8ssnap.testing.fakeclock import FakeClock

BACKOFF = retry.Backoff(initial=1.0, factor=2.0, cap=60.0, jitter=0.0, max_elapsed=10.0)


async def test_retriable_errors_are_retried_until_success(clock: FakeClock) -> None:
    failures = [errors.StoreRetriable("503"), errors.StoreRetriable("503")]

    async def op() -> str:
        if failures:
            raise failures.pop(0)
        return "ok"

    task = asyncio.create_task(retry.retrying(op, backoff=BACKOFF, what="op", clock=clock))
    await clock.run_for(3)  # 1 s, then 2 s
    assert await task == "ok"
    assert clock.now() == 3


async def test_the_budget_ends_the_retries_with_the_last_error(clock: FakeClock) -> None:
    async def op() -> None:
        raise errors.StoreRetriable("503")

    task = asyncio.create_task(retry.retrying(op, backoff=BACKOFF, what="op", clock=clock))
    await clock.run_for(20)
    with pytest.raises(errors.StoreRetriable) as raised:
        await task
    assert raised.value.reason == "gave up after 7 s of retries: 503"  # 1 + 2 + 4 s; 8 more would pass 10


async def test_permanent_errors_are_not_retried(clock: FakeClock) -> None:
    calls = 0

    async def op() -> None:
        nonlocal calls
        calls += 1
        raise errors.StorePermanent("denied")

    with pytest.raises(errors.StorePermanent):
        await retry.retrying(op, backoff=BACKOFF, what="op", clock=clock)
    assert calls == 1
