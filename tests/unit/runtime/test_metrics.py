"""The metrics registry, its text exposition, and the workqueue metrics."""

from __future__ import annotations

import pytest

from k8ssnap.runtime.delaying import DelayingQueue
from k8ssnap.runtime.fakeclock import FakeClock
from k8ssnap.runtime.metrics import Registry, format_value
from k8ssnap.runtime.queuemetrics import RegistryQueueMetricsProvider


def test_counter_and_gauge_render_in_registration_order() -> None:
    registry = Registry()
    requests = registry.counter("k8ssnap_requests_total", "Requests.", ["verb"])
    requests.labels(verb="get").inc()
    requests.labels(verb="get").inc(2)
    requests.labels(verb="create").inc()
    up = registry.gauge("k8ssnap_up", "Whether it runs.")
    up.set(1)
    assert registry.render() == (
        "# HELP k8ssnap_requests_total Requests.\n"
        "# TYPE k8ssnap_requests_total counter\n"
        'k8ssnap_requests_total{verb="create"} 1\n'
        'k8ssnap_requests_total{verb="get"} 3\n'
        "# HELP k8ssnap_up Whether it runs.\n"
        "# TYPE k8ssnap_up gauge\n"
        "k8ssnap_up 1\n"
    )


def test_histogram_renders_cumulative_buckets_sum_and_count() -> None:
    registry = Registry()
    latency = registry.histogram("op_seconds", "Op latency.", ["op"], buckets=[0.1, 1.0])
    for value in (0.05, 0.1, 0.5, 3.0):
        latency.labels(op="x").observe(value)
    assert registry.render() == (
        "# HELP op_seconds Op latency.\n"
        "# TYPE op_seconds histogram\n"
        'op_seconds_bucket{op="x",le="0.1"} 2\n'
        'op_seconds_bucket{op="x",le="1"} 3\n'
        'op_seconds_bucket{op="x",le="+Inf"} 4\n'
        'op_seconds_sum{op="x"} 3.65\n'
        'op_seconds_count{op="x"} 4\n'
    )


def test_label_values_and_help_are_escaped() -> None:
    registry = Registry()
    registry.counter("c_total", 'Back\\slash\nnewline "q"', ["v"]).labels(v='a"b\\c\nd').inc()
    text = registry.render()
    assert '# HELP c_total Back\\\\slash\\nnewline "q"\n' in text
    assert 'c_total{v="a\\"b\\\\c\\nd"} 1\n' in text


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.0, "1"), (0.25, "0.25"), (float("inf"), "+Inf"), (float("-inf"), "-Inf"), (1e-08, "1e-08")],
)
def test_format_value(value: float, text: str) -> None:
    assert format_value(value) == text


def test_same_registration_is_shared_and_conflicts_are_refused() -> None:
    registry = Registry()
    first = registry.counter("x_total", "X.", ["a"])
    assert registry.counter("x_total", "X again.", ["a"]) is first
    with pytest.raises(ValueError, match="another shape"):
        registry.gauge("x_total", "X.", ["a"])
    with pytest.raises(ValueError, match="another shape"):
        registry.counter("x_total", "X.", ["b"])


@pytest.mark.parametrize(
    "make",
    [
        lambda r: r.counter("bad-name", "h"),
        lambda r: r.counter("ok", "h", ["bad-label"]),
        lambda r: r.counter("ok", "h", ["a", "a"]),
        lambda r: r.histogram("ok", "h", ["le"]),
        lambda r: r.histogram("ok", "h", buckets=[2.0, 1.0]),
    ],
)
def test_invalid_definitions_are_refused(make) -> None:
    with pytest.raises(ValueError):
        make(Registry())


def test_labels_must_match_and_counters_only_grow() -> None:
    counter = Registry().counter("c_total", "C.", ["a"])
    with pytest.raises(ValueError):
        counter.labels(b="x")
    with pytest.raises(ValueError):
        counter.inc()  # labelled family used without labels
    with pytest.raises(ValueError):
        counter.labels(a="x").inc(-1)


def test_collectors_run_before_render() -> None:
    registry = Registry()
    gauge = registry.gauge("g", "G.")
    registry.add_collector(lambda: gauge.set(42))
    assert "g 42\n" in registry.render()


def sample(registry: Registry, line_prefix: str) -> str:
    lines = [line for line in registry.render().splitlines() if line.startswith(line_prefix)]
    assert len(lines) == 1, lines
    return lines[0].rsplit(" ", 1)[1]


async def test_queue_reports_workqueue_metrics(clock: FakeClock) -> None:
    registry = Registry()
    provider = RegistryQueueMetricsProvider(registry)
    queue: DelayingQueue[str] = DelayingQueue(name="snaps", clock=clock, metrics=provider)
    queue.add("a")
    queue.add("a")  # collapsed: not an add
    queue.add("b")
    assert sample(registry, 'workqueue_adds_total{name="snaps"}') == "2"
    assert sample(registry, 'workqueue_depth{name="snaps"}') == "2"

    clock.advance(2)
    item, _ = await queue.get()
    assert item == "a"
    assert sample(registry, 'workqueue_depth{name="snaps"}') == "1"
    assert sample(registry, 'workqueue_queue_duration_seconds_sum{name="snaps"}') == "2"

    clock.advance(3)
    assert sample(registry, 'workqueue_unfinished_work_seconds{name="snaps"}') == "3"
    assert sample(registry, 'workqueue_longest_running_processor_seconds{name="snaps"}') == "3"
    queue.done("a")
    assert sample(registry, 'workqueue_work_duration_seconds_sum{name="snaps"}') == "3"
    assert sample(registry, 'workqueue_work_duration_seconds_count{name="snaps"}') == "1"
    assert sample(registry, 'workqueue_unfinished_work_seconds{name="snaps"}') == "0"

    queue.add_after("c", 0)
    assert sample(registry, 'workqueue_retries_total{name="snaps"}') == "1"


def test_unnamed_queues_report_nothing(clock: FakeClock) -> None:
    registry = Registry()
    queue: DelayingQueue[str] = DelayingQueue(clock=clock, metrics=RegistryQueueMetricsProvider(registry))
    queue.add("a")
    assert "workqueue_adds_total{" not in registry.render()
