"""Shared fixtures for the runtime unit tests: a fake clock and task cleanup."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest

from k8ssnap.testing.fakeclock import FakeClock

Spawn = Callable[[Coroutine[Any, Any, Any]], "asyncio.Task[Any]"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def spawn() -> AsyncIterator[Spawn]:
    """Start background tasks that are cancelled (and awaited) after the test."""
    tasks: list[asyncio.Task[Any]] = []

    def _spawn(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        tasks.append(task)
        return task

    yield _spawn
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
