"""Work-queue metrics, named and computed as in client-go (``workqueue/metrics.go``).

A queue reports four events to its :class:`QueueMetrics`:

* ``add(item)`` -- the item became dirty (a real add, not a collapsed
  duplicate): ``workqueue_adds_total`` +1, ``workqueue_depth`` +1, and the
  time is remembered for the queue-duration histogram;
* ``get(item)`` -- a worker took it: depth -1,
  ``workqueue_queue_duration_seconds`` observes how long it waited;
* ``done(item)`` -- the worker finished: ``workqueue_work_duration_seconds``
  observes how long it was held;
* ``retry()`` -- an ``add_after`` (which is how rate-limited re-adds arrive):
  ``workqueue_retries_total`` +1.

``workqueue_unfinished_work_seconds`` (the summed age of all work in
progress) and ``workqueue_longest_running_processor_seconds`` are computed at
each scrape by a prometheus-client custom collector (:class:`_InProgress`),
so a stuck worker shows up in them even though it never calls ``done``.
Every series carries the label ``name``, the queue's name.

A :class:`QueueMetricsProvider` makes the per-queue reporter; a queue without
a name or without a provider gets :class:`NoopQueueMetrics`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import Protocol

from prometheus_client.core import GaugeMetricFamily, Metric

from k8ssnap.runtime.clock import Clock
from k8ssnap.runtime.metrics import EXPONENTIAL_BUCKETS_1E_8_TO_1E3, Registry

_UNFINISHED_HELP = (
    "How many seconds of work has done that is in progress and hasn't been observed by "
    "work_duration. Large values indicate stuck threads. One can deduce the number of "
    "stuck threads by observing the rate at which this increases."
)
_LONGEST_HELP = "How many seconds has the longest running processor for workqueue been running."


class QueueMetrics(Protocol):
    """What a queue reports; see the module docstring."""

    def add(self, item: Hashable) -> None: ...

    def get(self, item: Hashable) -> None: ...

    def done(self, item: Hashable) -> None: ...

    def retry(self) -> None: ...


class QueueMetricsProvider(Protocol):
    """Makes the :class:`QueueMetrics` of one named queue."""

    def queue_metrics(self, *, name: str, clock: Clock) -> QueueMetrics: ...


class NoopQueueMetrics:
    """Reports nothing."""

    def add(self, item: Hashable) -> None:
        pass

    def get(self, item: Hashable) -> None:
        pass

    def done(self, item: Hashable) -> None:
        pass

    def retry(self) -> None:
        pass


class RegistryQueueMetricsProvider:
    """Registers the ``workqueue_*`` families in a :class:`Registry`, once."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        buckets = EXPONENTIAL_BUCKETS_1E_8_TO_1E3
        self.depth = registry.gauge("workqueue_depth", "Current depth of workqueue", ["name"])
        self.adds = registry.counter(
            "workqueue_adds_total", "Total number of adds handled by workqueue", ["name"]
        )
        self.latency = registry.histogram(
            "workqueue_queue_duration_seconds",
            "How long in seconds an item stays in workqueue before being requested.",
            ["name"],
            buckets=buckets,
        )
        self.work_duration = registry.histogram(
            "workqueue_work_duration_seconds",
            "How long in seconds processing an item from workqueue takes.",
            ["name"],
            buckets=buckets,
        )
        self.retries = registry.counter(
            "workqueue_retries_total", "Total number of retries handled by workqueue", ["name"]
        )
        self._in_progress = _InProgress()
        registry.register_collector(self._in_progress)

    def queue_metrics(self, *, name: str, clock: Clock) -> QueueMetrics:
        metrics = RegistryQueueMetrics(provider=self, name=name, clock=clock)
        self._in_progress.queues[name] = metrics
        return metrics


class _InProgress:
    """A custom collector: the age of work in progress, per queue, computed at each scrape."""

    def __init__(self) -> None:
        self.queues: dict[str, RegistryQueueMetrics] = {}

    def describe(self) -> list[Metric]:
        return []  # families are known only when collected; do not let the registry collect early

    def collect(self) -> Iterator[Metric]:
        unfinished = GaugeMetricFamily("workqueue_unfinished_work_seconds", _UNFINISHED_HELP, labels=["name"])
        longest = GaugeMetricFamily(
            "workqueue_longest_running_processor_seconds", _LONGEST_HELP, labels=["name"]
        )
        for name, queue in self.queues.items():
            ages = queue.ages()
            unfinished.add_metric([name], sum(ages))
            longest.add_metric([name], max(ages, default=0.0))
        yield unfinished
        yield longest


class RegistryQueueMetrics:
    """The ``workqueue_*`` series of one queue."""

    def __init__(self, *, provider: RegistryQueueMetricsProvider, name: str, clock: Clock) -> None:
        self._clock = clock
        self._depth = provider.depth.labels(name=name)
        self._adds = provider.adds.labels(name=name)
        self._latency = provider.latency.labels(name=name)
        self._work_duration = provider.work_duration.labels(name=name)
        self._retries = provider.retries.labels(name=name)
        self._add_times: dict[Hashable, float] = {}
        self._processing_start_times: dict[Hashable, float] = {}

    def add(self, item: Hashable) -> None:
        self._adds.inc()
        self._depth.inc()
        self._add_times.setdefault(item, self._clock.now())

    def get(self, item: Hashable) -> None:
        now = self._clock.now()
        self._depth.dec()
        self._processing_start_times[item] = now
        added = self._add_times.pop(item, None)
        if added is not None:
            self._latency.observe(now - added)

    def done(self, item: Hashable) -> None:
        started = self._processing_start_times.pop(item, None)
        if started is not None:
            self._work_duration.observe(self._clock.now() - started)

    def retry(self) -> None:
        self._retries.inc()

    def ages(self) -> list[float]:
        """How long each item in progress has been held, in seconds."""
        now = self._clock.now()
        return [now - started for started in self._processing_start_times.values()]


def queue_metrics_for(provider: QueueMetricsProvider | None, *, name: str, clock: Clock) -> QueueMetrics:
    """The reporter a queue should use: a no-op unless it has a name and a provider."""
    if provider is None or not name:
        return NoopQueueMetrics()
    return provider.queue_metrics(name=name, clock=clock)
