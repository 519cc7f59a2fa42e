"""Workers that drain a rate-limiting queue into a reconcile function (sample-controller style).

Each of ``workers`` tasks loops: ``get`` a key, reconcile it, and always
``done`` it (in ``finally``). The outcome decides what happens next:

* success -- ``forget`` the key (its backoff starts over);
* ``Requeue(after)`` raised *or returned* -- ``forget`` and then
  ``add_after(key, after)``: "look again later" (a TTL that expires, a
  status to poll) is not a failure and must not grow the backoff;
* any other exception -- logged with the key, then ``add_rate_limited``
  (5 ms doubling per failure, and the controller-wide token bucket).

Reconciles must be level-based and idempotent: a key may be reconciled
again at any time, but never by two workers at once (the queue guarantees
that).

:meth:`Controller.run` runs the workers until the queue shuts down or
:meth:`Controller.stop` is called. :meth:`Controller.stop` stops taking work
(a key a worker picks up after that is handed back unprocessed), gives the
reconciles in flight ``grace`` seconds of clock time to finish, then
cancels them. Per-reconcile duration and outcome are recorded as
``controller_reconcile_duration_seconds`` and ``controller_reconcile_total``
(labels ``controller``, ``result``) when a registry is given; queue time and
work time are recorded by the queue's own metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from k8ssnap import errors
from k8ssnap.runtime.clock import Clock, RealClock
from k8ssnap.runtime.delaying import RateLimitingQueue
from k8ssnap.runtime.metrics import Counter, Histogram, Registry

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)

RESULT_SUCCESS = "success"
RESULT_REQUEUE = "requeue_after"
RESULT_ERROR = "error"


class Requeue(Exception):
    """Ask for the key to be reconciled again after ``after`` seconds.

    Raise it or return it from a reconcile. It is a signal, not a failure:
    the key's failure history is forgotten, not grown.
    """

    def __init__(self, after: float) -> None:
        super().__init__(f"requeue after {after:g}s")
        self.after = after


class Controller(Generic[K]):
    """N workers over one queue; see the module docstring."""

    def __init__(
        self,
        *,
        name: str,
        queue: RateLimitingQueue[K],
        reconcile: Callable[[K], Awaitable[Requeue | None]],
        workers: int = 1,
        clock: Clock | None = None,
        registry: Registry | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("a controller needs at least one worker")
        self.name = name
        self._queue = queue
        self._reconcile = reconcile
        self._workers = workers
        self._clock: Clock = clock if clock is not None else RealClock()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._in_flight = 0
        self._durations: Histogram | None = None
        self._results: Counter | None = None
        if registry is not None:
            self._durations = registry.histogram(
                "controller_reconcile_duration_seconds",
                "How long one reconcile took, by controller and result.",
                ["controller", "result"],
            )
            self._results = registry.counter(
                "controller_reconcile_total",
                "Reconciles by controller and result (success, requeue_after, error).",
                ["controller", "result"],
            )

    @property
    def in_flight(self) -> int:
        """How many reconciles are running right now."""
        return self._in_flight

    async def run(self) -> None:
        """Run the workers; return once all have exited (queue shut down or :meth:`stop`)."""
        if self._tasks:
            raise RuntimeError(f"controller {self.name} is already running")
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._worker(), name=f"{self.name}-worker-{i}") for i in range(self._workers)
        ]
        try:
            await asyncio.wait(self._tasks)
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for task in self._tasks:
            if not task.cancelled() and (error := task.exception()) is not None:
                raise error

    async def stop(self, grace: float) -> None:
        """Stop taking work; wait up to ``grace`` seconds for reconciles, then cancel them."""
        self._stopping = True
        drain = asyncio.ensure_future(self._queue.shut_down_with_drain())
        timer = asyncio.ensure_future(self._clock.sleep(grace))
        try:
            await asyncio.wait({drain, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
        if not drain.done():
            log.warning(
                "controller %s: %d reconcile(s) still running after %gs; cancelling",
                self.name,
                self._in_flight,
                grace,
            )
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        drain.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await drain

    async def _worker(self) -> None:
        while not self._stopping:
            key, shutdown = await self._queue.get()
            if shutdown or key is None:
                return
            try:
                if not self._stopping:
                    await self._process(key)
            finally:
                self._queue.done(key)

    async def _process(self, key: K) -> None:
        """Reconcile one key and file the outcome with the queue."""
        started = self._clock.now()
        self._in_flight += 1
        try:
            outcome = await self._reconcile(key)
        except Requeue as requeue:
            outcome = requeue
        except errors.Conflict as exc:  # acted on a cache older than the server; retry once it caught up
            log.debug("controller %s: %s changed meanwhile, will retry: %s", self.name, key, exc.reason)
            self._queue.add_rate_limited(key)
            self._record(RESULT_ERROR, started)
            return
        except errors.K8sSnapError as exc:  # an expected failure: its reason says it all
            log.warning("controller %s: reconcile of %s failed, will retry: %s", self.name, key, exc.reason)
            self._queue.add_rate_limited(key)
            self._record(RESULT_ERROR, started)
            return
        except Exception:
            log.exception("controller %s: reconcile of %s failed; will retry", self.name, key)
            self._queue.add_rate_limited(key)
            self._record(RESULT_ERROR, started)
            return
        finally:
            self._in_flight -= 1
        self._queue.forget(key)
        if isinstance(outcome, Requeue):
            self._queue.add_after(key, outcome.after)
            self._record(RESULT_REQUEUE, started)
        else:
            self._record(RESULT_SUCCESS, started)

    def _record(self, result: str, started: float) -> None:
        if self._durations is not None and self._results is not None:
            self._durations.labels(controller=self.name, result=result).observe(self._clock.now() - started)
            self._results.labels(controller=self.name, result=result).inc()

    def __repr__(self) -> str:
        return (
            f"<Controller {self.name} workers={self._workers} in_flight={self._in_flight}"
            f"{' stopping' if self._stopping else ''}>"
        )
