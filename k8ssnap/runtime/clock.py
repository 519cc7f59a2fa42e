"""Time, injected.

Everything in :mod:`k8ssnap.runtime` that waits or measures time does so
through a :class:`Clock`, so that unit tests can drive time by hand with
:class:`k8ssnap.testing.fakeclock.FakeClock` and never really sleep.

Contract of a clock:

* ``now()`` is *monotonic* seconds. It never goes backwards, and its
  origin is meaningless: only differences between two readings matter.
  It is not wall-clock time; code that has to write a timestamp into an
  API object takes a separate wall-clock source.
* ``await sleep(seconds)`` returns once ``now()`` has advanced by at
  least ``seconds``. A non-positive duration still yields to the event
  loop once. Cancelling the sleep cancels only the sleep.

:func:`wait_for` is ``asyncio.wait_for`` measured on an injected clock:
use it wherever a timeout must be testable.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from typing import Protocol, TypeVar

T = TypeVar("T")


class Clock(Protocol):
    """Monotonic time and sleeping; see the module docstring."""

    def now(self) -> float:
        """Monotonic seconds."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return after ``seconds`` have passed on this clock."""
        ...


class RealClock:
    """The production clock: :func:`time.monotonic` and :func:`asyncio.sleep`."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def __repr__(self) -> str:
        return "<RealClock>"


async def wait_for(clock: Clock, aw: Awaitable[T], *, timeout: float) -> T:
    """Await ``aw``, but give up after ``timeout`` seconds of ``clock`` time.

    On timeout the awaitable is cancelled (and awaited, so its cleanup runs)
    and :class:`TimeoutError` is raised. If the awaitable and the timer
    finish together, the awaitable's outcome wins. Cancelling the caller
    cancels the awaitable too.
    """
    task = asyncio.ensure_future(aw)
    timer = asyncio.ensure_future(clock.sleep(timeout))
    try:
        await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        timer.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    raise TimeoutError(f"timed out after {timeout:g}s")
