"""Metrics: prometheus-client, behind a registry that components can share.

The families, samples and the text exposition are prometheus-client's. This
module adds only what k8ssnap needs on top:

* :class:`Registry` -- get-or-create of families by name. Independent
  components (three controllers, the reconcilers of each leadership term)
  register the same family; the second registration returns the first one
  when its type and labels match, and raises :class:`ValueError` when not
  (prometheus-client itself refuses any duplicate).
* Counters are named with their ``_total`` suffix, as Prometheus shows them;
  the ``_created`` series of prometheus-client are switched off, so the
  exposition holds exactly the families we declare.
* Computed families (the work queues' in-progress gauges) are custom
  collectors, :meth:`Registry.register_collector`; they are asked for their
  samples at each scrape.

Use from the event loop thread. :meth:`Registry.render` returns the text
format 0.0.4 (:data:`CONTENT_TYPE`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.registry import Collector

_disable_created: Callable[[], None] = prometheus_client.disable_created_metrics
_disable_created()  # process-wide: no ``*_created`` series, our exposition is the families we declare

CONTENT_TYPE = prometheus_client.CONTENT_TYPE_LATEST

#: client-go's workqueue latency buckets: 10 ns to 1000 s, times 10 each.
EXPONENTIAL_BUCKETS_1E_8_TO_1E3: tuple[float, ...] = tuple(10.0**e for e in range(-8, 4))
#: Prometheus' default buckets.
DEFAULT_BUCKETS: tuple[float, ...] = tuple(Histogram.DEFAULT_BUCKETS[:-1])

__all__ = ["CONTENT_TYPE", "Counter", "Gauge", "Histogram", "Registry"]

F = TypeVar("F", Counter, Gauge, Histogram)


class Registry:
    """A prometheus-client registry with get-or-create families; see the module docstring."""

    def __init__(self) -> None:
        self.collectors = CollectorRegistry(auto_describe=True)
        self._families: dict[str, tuple[Counter | Gauge | Histogram, tuple[str, ...], tuple[float, ...]]] = {}

    def counter(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Counter:
        """A counter family; ``name`` ends in ``_total``."""
        if not name.endswith("_total"):
            raise ValueError(f"counter {name!r} must end in _total")
        return self._family(Counter, name, help_text, labelnames)

    def gauge(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Gauge:
        return self._family(Gauge, name, help_text, labelnames)

    def histogram(
        self,
        name: str,
        help_text: str,
        labelnames: Sequence[str] = (),
        *,
        buckets: Sequence[float] = DEFAULT_BUCKETS,
    ) -> Histogram:
        return self._family(Histogram, name, help_text, labelnames, buckets=tuple(buckets))

    def register_collector(self, collector: Collector) -> None:
        """Add a custom collector (asked for its families at every scrape)."""
        self.collectors.register(collector)

    def render(self) -> str:
        """Every family in Prometheus text exposition format."""
        return prometheus_client.generate_latest(self.collectors).decode()

    def _family(
        self,
        kind: type[F],
        name: str,
        help_text: str,
        labelnames: Sequence[str],
        *,
        buckets: tuple[float, ...] = (),
    ) -> F:
        labels = tuple(labelnames)
        known = self._families.get(name)
        if known is not None:
            family, known_labels, known_buckets = known
            if isinstance(family, kind) and (known_labels, known_buckets) == (labels, buckets):
                return family
            raise ValueError(f"metric {name!r} is already registered with another shape")
        made: F
        if kind is Histogram:
            made = kind(name, help_text, labels, registry=self.collectors, buckets=buckets)
        else:
            made = kind(name, help_text, labels, registry=self.collectors)
        self._families[name] = (made, labels, buckets)
        return made

    def __repr__(self) -> str:
        return f"<Registry families={len(self._families)}>"
