"""Delayed and rate-limited adds (client-go ``delaying_queue.go``, ``rate_limiting_queue.go``).

:class:`DelayingQueue` is a :class:`~k8ssnap.runtime.queue.WorkQueue` with
:meth:`~DelayingQueue.add_after`:

* a delay ``<= 0`` is a plain :meth:`~k8ssnap.runtime.queue.WorkQueue.add`;
* otherwise the item waits in a min-heap ordered by ready time (ties in the
  order they were added). One background task sleeps on the injected clock
  until the earliest ready time, then adds every item that is due;
* adding an item that is already waiting keeps the *earlier* ready time;
* after shutdown ``add_after`` is ignored and waiting items are dropped;
* while items wait, the task also wakes every :data:`HEARTBEAT` seconds, as
  client-go does, as insurance against a missed wake-up; when none wait, it
  ends, and the next delayed add starts a new one.

Every ``add_after`` (including delay ``<= 0``) counts as a retry in the
queue metrics, as in client-go. The waiting task is started lazily by the
first delayed add, so ``add_after`` must be called from the event loop.

:class:`RateLimitingQueue` adds the rate limiter: ``add_rate_limited(item)``
is exactly ``add_after(item, limiter.when(item))``; ``forget`` clears only
the limiter's failure history (the worker still has to call ``done``);
``num_requeues`` reports the limiter's failure count.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from typing import Generic

from k8ssnap.runtime.clock import Clock
from k8ssnap.runtime.queue import T, WorkQueue
from k8ssnap.runtime.queuemetrics import QueueMetricsProvider
from k8ssnap.runtime.ratelimit import RateLimiter, default_controller_rate_limiter

#: Longest the waiting task sleeps without re-checking the heap.
HEARTBEAT = 10.0


class DelayingQueue(WorkQueue[T], Generic[T]):
    """A work queue that can add items later; see the module docstring."""

    def __init__(
        self,
        *,
        name: str = "",
        clock: Clock | None = None,
        metrics: QueueMetricsProvider | None = None,
    ) -> None:
        super().__init__(name=name, clock=clock, metrics=metrics)
        self._seq = itertools.count()
        self._heap: list[tuple[float, int, T]] = []
        self._ready_at: dict[T, float] = {}  # the live entry per item; others are stale
        self._waker: asyncio.Future[None] | None = None
        self._waiting_task: asyncio.Task[None] | None = None

    def add_after(self, item: T, delay: float) -> None:
        """Add ``item`` once ``delay`` seconds have passed; see the module docstring."""
        if self.shutting_down:
            return
        self._metrics.retry()
        if delay <= 0:
            self.add(item)
            return
        ready_at = self._clock.now() + delay
        current = self._ready_at.get(item)
        if current is not None and current <= ready_at:
            return
        self._ready_at[item] = ready_at
        heapq.heappush(self._heap, (ready_at, next(self._seq), item))
        self._ensure_waiting_task()
        self._wake_waiting_task()

    def shut_down(self) -> None:
        super().shut_down()
        self._wake_waiting_task()

    async def shut_down_with_drain(self) -> None:
        self._wake_waiting_task()  # it sees shutting_down as soon as it runs
        await super().shut_down_with_drain()

    @property
    def waiting(self) -> int:
        """How many items wait for their ready time."""
        return len(self._ready_at)

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]} waiting={len(self._ready_at)}>"

    # -- the waiting task ----------------------------------------------------

    def _ensure_waiting_task(self) -> None:
        if self._waiting_task is None or self._waiting_task.done():
            self._waiting_task = asyncio.get_running_loop().create_task(
                self._waiting_loop(), name=f"delaying-queue-{self.name or id(self)}"
            )

    def _wake_waiting_task(self) -> None:
        if self._waker is not None and not self._waker.done():
            self._waker.set_result(None)

    async def _waiting_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.shutting_down:
            wait = self._add_ready_items()
            if wait == float("inf"):
                return  # nothing waits; the next add_after starts a new task
            waker = self._waker = loop.create_future()
            timer = loop.create_task(self._clock.sleep(min(wait, HEARTBEAT)))
            try:
                await asyncio.wait({waker, timer}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                timer.cancel()  # not awaited: a finally must not await on task teardown
                waker.cancel()
                self._waker = None
        self._heap.clear()
        self._ready_at.clear()

    def _add_ready_items(self) -> float:
        """Add every due item; return seconds until the next one (or infinity)."""
        now = self._clock.now()
        while self._heap:
            ready_at, _, item = self._heap[0]
            if self._ready_at.get(item) != ready_at:
                heapq.heappop(self._heap)  # stale: superseded by an earlier time
                continue
            if ready_at > now:
                return ready_at - now
            heapq.heappop(self._heap)
            del self._ready_at[item]
            self.add(item)
        return float("inf")


class RateLimitingQueue(DelayingQueue[T], Generic[T]):
    """A delaying queue whose retries are paced by a :class:`RateLimiter`."""

    def __init__(
        self,
        *,
        name: str = "",
        clock: Clock | None = None,
        limiter: RateLimiter | None = None,
        metrics: QueueMetricsProvider | None = None,
    ) -> None:
        super().__init__(name=name, clock=clock, metrics=metrics)
        self._limiter = limiter if limiter is not None else default_controller_rate_limiter(self._clock)

    def add_rate_limited(self, item: T) -> None:
        """``add_after(item, limiter.when(item))``: retry when the limiter allows."""
        self.add_after(item, self._limiter.when(item))

    def forget(self, item: T) -> None:
        """Clear ``item``'s failure history in the limiter (``done`` is still needed)."""
        self._limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        """How many failures of ``item`` the limiter counts."""
        return self._limiter.num_requeues(item)
