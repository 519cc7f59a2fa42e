"""A hand-driven :class:`~k8ssnap.runtime.clock.Clock` for tests.

``FakeClock`` never really sleeps. ``await sleep(s)`` parks the coroutine
on a future with the deadline ``now() + s``; time only moves when the test
says so:

* :meth:`FakeClock.advance` moves time forward at once and wakes every
  sleeper whose deadline has passed, in deadline order (ties in the order
  they went to sleep). It is synchronous: the woken coroutines run at the
  test's next ``await``, for instance :func:`settle`.
* :meth:`FakeClock.run_for` is the usual way to let a system run for a
  while: it steps from one deadline to the next, letting the event loop
  settle after each, so a task that wakes up and goes back to sleep within
  the window is woken again, just as it would be in real time.

It lives in the package (not under ``tests/``) so that every package's
tests can reuse it. It is loop-bound only through the futures it creates,
so one instance must be used from a single event loop.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools

#: How many event-loop iterations :func:`settle` yields by default. Each
#: hop of a wake-up (future -> task -> awaiting task) costs one iteration;
#: this is far more than any chain in the runtime needs, and still cheap.
SETTLE_ROUNDS = 100


async def settle(rounds: int = SETTLE_ROUNDS) -> None:
    """Yield to the event loop ``rounds`` times so that ready tasks run."""
    for _ in range(rounds):
        await asyncio.sleep(0)


class FakeClock:
    """A clock that only moves when told to; see the module docstring."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._seq = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        """Park until :meth:`advance` moves time past ``now() + seconds``."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), fut))
        try:
            await fut
        finally:
            fut.cancel()  # a no-op if woken; marks the entry dead if cancelled

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` and wake the sleepers that are due."""
        if seconds < 0:
            raise ValueError("a monotonic clock cannot go backwards")
        self._now += seconds
        self._wake_due()

    async def run_for(self, seconds: float, *, rounds: int = SETTLE_ROUNDS) -> None:
        """Let ``seconds`` pass deadline by deadline, settling the loop at each."""
        if seconds < 0:
            raise ValueError("a monotonic clock cannot go backwards")
        end = self._now + seconds
        await settle(rounds)
        while (deadline := self.next_deadline()) is not None and deadline <= end:
            self._now = max(self._now, deadline)
            self._wake_due()
            await settle(rounds)
        self._now = end
        self._wake_due()
        await settle(rounds)

    def next_deadline(self) -> float | None:
        """The earliest deadline of a parked sleeper, or ``None``."""
        self._drop_dead()
        return self._sleepers[0][0] if self._sleepers else None

    @property
    def sleepers(self) -> int:
        """How many coroutines are parked in :meth:`sleep` right now."""
        return sum(1 for _, _, fut in self._sleepers if not fut.done())

    def deadlines(self) -> list[float]:
        """The deadlines of all parked sleepers, earliest first."""
        return sorted(d for d, _, fut in self._sleepers if not fut.done())

    def _wake_due(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)

    def _drop_dead(self) -> None:
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)

    def __repr__(self) -> str:
        return f"<FakeClock now={self._now:g} sleepers={self.sleepers}>"
