"""A tiny, dependency-free metrics registry with Prometheus text exposition.

Any package may register metrics here (the work queues do, and the snapshot
and restore engines will). The model is Prometheus' own:

* a *family* has a name, a help text, a type (``counter``, ``gauge`` or
  ``histogram``) and a fixed tuple of label names;
* ``family.labels(**values)`` returns the child for one combination of
  label values (created at zero on first use); a family without labels can
  be used directly (``family.inc()``).

Registering the same name again with the same type, labels (and buckets)
returns the existing family, so independent components can share one
registry; a conflicting registration raises :class:`ValueError`.

*Collectors* are callbacks run at the start of :meth:`Registry.render`;
they set gauges that are cheaper to compute on demand (such as the age of
unfinished work) than to keep up to date.

The registry is not thread-safe: use it from the event loop thread only.
:meth:`Registry.render` returns the text format, version 0.0.4
(``text/plain; version=0.0.4``).
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

#: client-go's workqueue latency buckets: 10 ns to 1000 s, times 10 each.
EXPONENTIAL_BUCKETS_1E_8_TO_1E3: tuple[float, ...] = tuple(10.0**e for e in range(-8, 4))
#: Prometheus' default buckets.
DEFAULT_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


def format_value(value: float) -> str:
    """A sample value as Prometheus writes it (``+Inf``, ``NaN``, ``3``, ``0.25``)."""
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _label_text(names: Sequence[str], values: Sequence[str]) -> str:
    if not names:
        return ""
    pairs = ",".join(f'{n}="{_escape_label(v)}"' for n, v in zip(names, values, strict=True))
    return "{" + pairs + "}"


class CounterValue:
    """One counter time series: only goes up."""

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError("a counter cannot decrease")
        self.value += amount


class GaugeValue:
    """One gauge time series: set, or moved up and down."""

    def __init__(self) -> None:
        self.value = 0.0

    def set(self, value: float) -> None:
        self.value = float(value)

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount

    def dec(self, amount: float = 1.0) -> None:
        self.value -= amount


class HistogramValue:
    """One histogram time series: per-bucket counts, sum and count."""

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * len(buckets)  # not cumulative; cumulated at render
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        index = bisect_left(self.buckets, value)  # first bound >= value ("le")
        if index < len(self.counts):
            self.counts[index] += 1
        self.sum += value
        self.count += 1


ChildT = TypeVar("ChildT", CounterValue, GaugeValue, HistogramValue)


class _Family(Generic[ChildT]):
    """Name, help, type and label names, plus the children by label values."""

    type_name = ""

    def __init__(self, *, name: str, help_text: str, labelnames: Sequence[str]) -> None:
        if not _NAME.match(name):
            raise ValueError(f"invalid metric name {name!r}")
        for label in labelnames:
            if not _LABEL.match(label) or label.startswith("__"):
                raise ValueError(f"invalid label name {label!r}")
        if len(set(labelnames)) != len(labelnames):
            raise ValueError(f"duplicate label names in {labelnames!r}")
        self.name = name
        self.help = help_text
        self.labelnames = tuple(labelnames)
        self._children: dict[tuple[str, ...], ChildT] = {}

    def labels(self, **values: str) -> ChildT:
        """The child for these label values; every label name must be given."""
        if set(values) != set(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {sorted(values)}")
        key = tuple(str(values[n]) for n in self.labelnames)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self._new_child()
        return child

    def _unlabelled(self) -> ChildT:
        if self.labelnames:
            raise ValueError(f"{self.name} has labels {self.labelnames}; use .labels()")
        return self.labels()

    def _new_child(self) -> ChildT:
        raise NotImplementedError

    def samples(self) -> list[tuple[str, str, float]]:
        """``(suffix, label text, value)`` rows, children sorted by label values."""
        rows: list[tuple[str, str, float]] = []
        for key in sorted(self._children):
            rows.extend(self._child_samples(key, self._children[key]))
        return rows

    def _child_samples(self, key: tuple[str, ...], child: ChildT) -> list[tuple[str, str, float]]:
        raise NotImplementedError

    def render(self) -> str:
        lines = [
            f"# HELP {self.name} {_escape_help(self.help)}",
            f"# TYPE {self.name} {self.type_name}",
        ]
        lines.extend(
            f"{self.name}{suffix}{labels} {format_value(value)}" for suffix, labels, value in self.samples()
        )
        return "\n".join(lines) + "\n"

    def same_shape(self, other: object) -> bool:
        """Whether ``other`` is a registration compatible with this family."""
        return isinstance(other, type(self)) and self.labelnames == other.labelnames


class Counter(_Family[CounterValue]):
    """A family of counters."""

    type_name = "counter"

    def _new_child(self) -> CounterValue:
        return CounterValue()

    def _child_samples(self, key: tuple[str, ...], child: CounterValue) -> list[tuple[str, str, float]]:
        return [("", _label_text(self.labelnames, key), child.value)]

    def inc(self, amount: float = 1.0) -> None:
        self._unlabelled().inc(amount)


class Gauge(_Family[GaugeValue]):
    """A family of gauges."""

    type_name = "gauge"

    def _new_child(self) -> GaugeValue:
        return GaugeValue()

    def _child_samples(self, key: tuple[str, ...], child: GaugeValue) -> list[tuple[str, str, float]]:
        return [("", _label_text(self.labelnames, key), child.value)]

    def set(self, value: float) -> None:
        self._unlabelled().set(value)

    def inc(self, amount: float = 1.0) -> None:
        self._unlabelled().inc(amount)

    def dec(self, amount: float = 1.0) -> None:
        self._unlabelled().dec(amount)


class Histogram(_Family[HistogramValue]):
    """A family of histograms with fixed, sorted upper bounds (``+Inf`` is implied)."""

    type_name = "histogram"

    def __init__(
        self,
        *,
        name: str,
        help_text: str,
        labelnames: Sequence[str],
        buckets: Sequence[float] = DEFAULT_BUCKETS,
    ) -> None:
        if "le" in labelnames:
            raise ValueError("'le' is reserved for histogram buckets")
        bounds = tuple(float(b) for b in buckets if not math.isinf(b))
        if not bounds or list(bounds) != sorted(set(bounds)):
            raise ValueError("histogram buckets must be non-empty, sorted and distinct")
        super().__init__(name=name, help_text=help_text, labelnames=labelnames)
        self.buckets = bounds

    def _new_child(self) -> HistogramValue:
        return HistogramValue(self.buckets)

    def observe(self, value: float) -> None:
        self._unlabelled().observe(value)

    def _child_samples(self, key: tuple[str, ...], child: HistogramValue) -> list[tuple[str, str, float]]:
        names = (*self.labelnames, "le")
        rows: list[tuple[str, str, float]] = []
        cumulative = 0
        for bound, count in zip(self.buckets, child.counts, strict=True):
            cumulative += count
            rows.append(("_bucket", _label_text(names, (*key, format_value(bound))), cumulative))
        rows.append(("_bucket", _label_text(names, (*key, "+Inf")), child.count))
        plain = _label_text(self.labelnames, key)
        rows.append(("_sum", plain, child.sum))
        rows.append(("_count", plain, child.count))
        return rows

    def same_shape(self, other: object) -> bool:
        return super().same_shape(other) and isinstance(other, Histogram) and self.buckets == other.buckets


FamilyT = TypeVar("FamilyT", Counter, Gauge, Histogram)


class Registry:
    """Metric families by name, in registration order; see the module docstring."""

    def __init__(self) -> None:
        self._families: dict[str, Counter | Gauge | Histogram] = {}
        self._collectors: list[Callable[[], None]] = []

    def counter(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Counter:
        return self._register(Counter(name=name, help_text=help_text, labelnames=labelnames))

    def gauge(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Gauge:
        return self._register(Gauge(name=name, help_text=help_text, labelnames=labelnames))

    def histogram(
        self,
        name: str,
        help_text: str,
        labelnames: Sequence[str] = (),
        *,
        buckets: Sequence[float] = DEFAULT_BUCKETS,
    ) -> Histogram:
        family = Histogram(name=name, help_text=help_text, labelnames=labelnames, buckets=buckets)
        return self._register(family)

    def add_collector(self, collect: Callable[[], None]) -> None:
        """Run ``collect`` before every :meth:`render` (to refresh computed gauges)."""
        self._collectors.append(collect)

    def get(self, name: str) -> Counter | Gauge | Histogram | None:
        return self._families.get(name)

    def render(self) -> str:
        """Every family in Prometheus text exposition format."""
        for collect in self._collectors:
            collect()
        return "".join(family.render() for family in self._families.values())

    def _register(self, family: FamilyT) -> FamilyT:
        existing = self._families.get(family.name)
        if existing is None:
            self._families[family.name] = family
            return family
        if isinstance(existing, type(family)) and family.same_shape(existing):
            return existing
        raise ValueError(f"metric {family.name!r} is already registered with another shape")

    def __repr__(self) -> str:
        return f"<Registry families={len(self._families)} collectors={len(self._collectors)}>"
