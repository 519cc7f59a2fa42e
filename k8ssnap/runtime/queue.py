"""The work queue: client-go's ``workqueue.Type`` contract, for asyncio.

The queue is fair (FIFO), *stingy* (an item waiting to be processed is held
once, however often it is added) and safe for many producers and many
consumers. Its state is a FIFO list, a ``dirty`` set (items that need
processing) and a ``processing`` set (items a worker holds). Invariant:
every item in the FIFO is dirty and not being processed.

* :meth:`WorkQueue.add` is a no-op after shutdown or if the item is already
  dirty. If the item is being processed it is only marked dirty; so two
  workers never hold the same item at once.
* :meth:`WorkQueue.get` waits for an item, then moves it from dirty to
  processing. It returns ``(item, False)``, or ``(None, True)`` once the
  queue is shut down *and* empty: workers drain what was queued first.
* :meth:`WorkQueue.done` must be called exactly once for every item
  :meth:`~WorkQueue.get` returned (use ``try``/``finally``). If the item
  became dirty again meanwhile, it goes back on the FIFO now.
* :meth:`WorkQueue.shut_down` refuses new items and wakes every waiting
  worker. :meth:`WorkQueue.shut_down_with_drain` does the same and then
  waits until the processing set is empty (as in client-go it does not wait
  for items still in the FIFO: that is the workers' job). A later
  :meth:`~WorkQueue.shut_down` releases a waiting drain.

Concurrency: every method checks and changes state without awaiting in
between; waiting is done on plain futures kept in a list, and a waiter that
wakes re-checks the state (another worker may have taken the item first).
Items must be hashable and must not be ``None``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

from k8ssnap.runtime.clock import Clock, RealClock
from k8ssnap.runtime.queuemetrics import QueueMetrics, QueueMetricsProvider, queue_metrics_for

T = TypeVar("T", bound=Hashable)


class WorkQueue(Generic[T]):
    """A de-duplicating FIFO work queue; see the module docstring for the contract."""

    def __init__(
        self,
        *,
        name: str = "",
        clock: Clock | None = None,
        metrics: QueueMetricsProvider | None = None,
    ) -> None:
        self.name = name
        self._clock: Clock = clock if clock is not None else RealClock()
        self._metrics: QueueMetrics = queue_metrics_for(metrics, name=name, clock=self._clock)
        self._queue: deque[T] = deque()
        self._dirty: set[T] = set()
        self._processing: set[T] = set()
        self._shutting_down = False
        self._drain = False
        self._getters: deque[asyncio.Future[None]] = deque()
        self._drainers: list[asyncio.Future[None]] = []

    # -- producers ---------------------------------------------------------

    def add(self, item: T) -> None:
        """Mark ``item`` as needing processing; see the module docstring."""
        if self._shutting_down or item in self._dirty:
            return
        self._metrics.add(item)
        self._dirty.add(item)
        if item in self._processing:
            return  # done() re-queues it
        self._queue.append(item)
        self._wake_one_getter()

    # -- consumers ---------------------------------------------------------

    async def get(self) -> tuple[T | None, bool]:
        """Wait for an item: ``(item, False)``, or ``(None, True)`` after shutdown."""
        while not self._queue and not self._shutting_down:
            await self._wait_for_item()
        if not self._queue:
            return None, True
        item = self._queue.popleft()
        self._metrics.get(item)
        self._processing.add(item)
        self._dirty.discard(item)
        return item, False

    def done(self, item: T) -> None:
        """Release ``item`` after processing; re-queue it if it was added meanwhile."""
        self._metrics.done(item)
        self._processing.discard(item)
        if item in self._dirty:
            self._queue.append(item)
            self._wake_one_getter()
        if not self._processing:  # also after a re-queue: a drain waits for processing only
            self._wake_drainers()

    # -- shutdown ----------------------------------------------------------

    def shut_down(self) -> None:
        """Refuse new items; waiting workers drain the FIFO and then see shutdown."""
        self._drain = False
        self._shutting_down = True
        self._wake_all_getters()
        self._wake_drainers()

    async def shut_down_with_drain(self) -> None:
        """:meth:`shut_down`, then wait until no item is being processed."""
        self._drain = True
        self._shutting_down = True
        self._wake_all_getters()
        while self._processing and self._drain:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._drainers.append(fut)
            try:
                await fut
            finally:
                if fut in self._drainers:
                    self._drainers.remove(fut)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def __len__(self) -> int:
        """How many items wait in the FIFO (not counting those being processed)."""
        return len(self._queue)

    @property
    def processing(self) -> int:
        """How many items workers hold right now."""
        return len(self._processing)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.name or '?'} queued={len(self._queue)} "
            f"processing={len(self._processing)} dirty={len(self._dirty)}"
            f"{' shutting-down' if self._shutting_down else ''}>"
        )

    # -- waiting -----------------------------------------------------------

    async def _wait_for_item(self) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._getters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            # A wake-up that lands on a cancelled getter must not be lost.
            if fut.done() and not fut.cancelled():
                self._wake_one_getter()
            raise
        finally:
            if not fut.done():
                fut.cancel()
            if fut in self._getters:
                self._getters.remove(fut)

    def _wake_one_getter(self) -> None:
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    def _wake_all_getters(self) -> None:
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)

    def _wake_drainers(self) -> None:
        drainers, self._drainers = self._drainers, []
        for fut in drainers:
            if not fut.done():
                fut.set_result(None)
