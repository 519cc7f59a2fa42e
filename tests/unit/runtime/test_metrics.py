"""The metrics registry (prometheus-client, get-or-create), its exposition, and the workqueue metrics."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from k8ssnap.runtime.delaying import DelayingQueue
from k8ssnap.runtime.metrics import Registry
from k8ssnap.runtime.queuemetrics import RegistryQueueMetricsProvider
from k8ssnap.testing.fakeclock import FakeClock


def samples(registry: Registry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition text, parsed: (name, sorted labels) -> value."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(registry.render())
        for s in family.samples
    }


def value(registry: Registry, metric: str, /, **labels: str) -> float:
    return samples(registry)[(metric, tuple(sorted(labels.items())))]


def test_counter_and_gauge_exposition() -> None:
    registry = Registry()
    requests = registry.counter("k8ssnap_requests_total", "Requests.", ["verb"])
    requests.labels(verb="get").inc()
    requests.labels(verb="get").inc(2)
    requests.labels(verb="create").inc()
    registry.gauge("k8ssnap_up", "Whether it runs.").set(1)
    text = registry.render()
    assert "# HELP k8ssnap_requests_total Requests.\n# TYPE k8ssnap_requests_total counter\n" in text
    assert 'k8ssnap_requests_total{verb="get"} 3.0\n' in text
    assert "# TYPE k8ssnap_up gauge\nk8ssnap_up 1.0\n" in text
    assert "_created" not in text  # only the families we declare


def test_histogram_has_cumulative_buckets_sum_and_count() -> None:
    registry = Registry()
    latency = registry.histogram("op_seconds", "Op latency.", ["op"], buckets=[0.1, 1.0])
    for observed in (0.05, 0.1, 0.5, 3.0):
        latency.labels(op="x").observe(observed)
    assert value(registry, "op_seconds_bucket", op="x", le="0.1") == 2
    assert value(registry, "op_seconds_bucket", op="x", le="1.0") == 3
    assert value(registry, "op_seconds_bucket", op="x", le="+Inf") == 4
    assert value(registry, "op_seconds_sum", op="x") == pytest.approx(3.65)
    assert value(registry, "op_seconds_count", op="x") == 4


def test_label_values_are_escaped() -> None:
    registry = Registry()
    registry.counter("c_total", "C.", ["v"]).labels(v='a"b\\c\nd').inc()
    assert 'c_total{v="a\\"b\\\\c\\nd"} 1.0\n' in registry.render()


def test_same_registration_is_shared_and_conflicts_are_refused() -> None:
    registry = Registry()
    first = registry.counter("x_total", "X.", ["a"])
    assert registry.counter("x_total", "X again.", ["a"]) is first
    with pytest.raises(ValueError, match="another shape"):
        registry.gauge("x_total", "X.", ["a"])
    with pytest.raises(ValueError, match="another shape"):
        registry.counter("x_total", "X.", ["b"])
    with pytest.raises(ValueError, match="_total"):
        registry.counter("x", "X.")


def test_a_removed_child_leaves_the_exposition() -> None:
    registry = Registry()
    gauge = registry.gauge("per_object", "P.", ["name"])
    gauge.labels(name="a").set(1)
    gauge.labels(name="b").set(2)
    gauge.remove("a")
    assert 'per_object{name="a"}' not in registry.render()
    assert value(registry, "per_object", name="b") == 2


async def test_queue_reports_workqueue_metrics(clock: FakeClock) -> None:
    registry = Registry()
    provider = RegistryQueueMetricsProvider(registry)
    queue: DelayingQueue[str] = DelayingQueue(name="snaps", clock=clock, metrics=provider)
    queue.add("a")
    queue.add("a")  # collapsed: not an add
    queue.add("b")
    assert value(registry, "workqueue_adds_total", name="snaps") == 2
    assert value(registry, "workqueue_depth", name="snaps") == 2

    clock.advance(2)
    item, _ = await queue.get()
    assert item == "a"
    assert value(registry, "workqueue_depth", name="snaps") == 1
    assert value(registry, "workqueue_queue_duration_seconds_sum", name="snaps") == 2

    clock.advance(3)  # the custom collector computes these at the scrape
    assert value(registry, "workqueue_unfinished_work_seconds", name="snaps") == 3
    assert value(registry, "workqueue_longest_running_processor_seconds", name="snaps") == 3
    queue.done("a")
    assert value(registry, "workqueue_work_duration_seconds_sum", name="snaps") == 3
    assert value(registry, "workqueue_work_duration_seconds_count", name="snaps") == 1
    assert value(registry, "workqueue_unfinished_work_seconds", name="snaps") == 0

    queue.add_after("c", 0)
    assert value(registry, "workqueue_retries_total", name="snaps") == 1


def test_workqueue_families_keep_client_gos_names_types_and_labels(clock: FakeClock) -> None:
    registry = Registry()
    queue: DelayingQueue[str] = DelayingQueue(
        name="q", clock=clock, metrics=RegistryQueueMetricsProvider(registry)
    )
    queue.add("a")
    families = {f.name: f.type for f in text_string_to_metric_families(registry.render())}
    assert families == {
        "workqueue_depth": "gauge",
        "workqueue_adds": "counter",
        "workqueue_queue_duration_seconds": "histogram",
        "workqueue_work_duration_seconds": "histogram",
        "workqueue_retries": "counter",
        "workqueue_unfinished_work_seconds": "gauge",
        "workqueue_longest_running_processor_seconds": "gauge",
    }
    assert {labels for (_, labels) in samples(registry) if labels and labels[0][0] != "le"} >= {
        (("name", "q"),)
    }


def test_unnamed_queues_report_nothing(clock: FakeClock) -> None:
    registry = Registry()
    queue: DelayingQueue[str] = DelayingQueue(clock=clock, metrics=RegistryQueueMetricsProvider(registry))
    queue.add("a")
    assert "workqueue_adds_total{" not in registry.render()
    assert queue.processing == 0
