"""Rate limiters: exact exponential sequence, cap, token bucket, MaxOf, forget."""

from __future__ import annotations

import pytest

from k8ssnap.runtime.ratelimit import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    default_controller_rate_limiter,
)
from k8ssnap.testing.fakeclock import FakeClock


def test_exponential_sequence_is_5_10_20_40_80_ms() -> None:
    limiter = ItemExponentialFailureRateLimiter(base=0.005, cap=1000.0)
    delays = [limiter.when("a") for _ in range(5)]
    assert delays == pytest.approx([0.005, 0.010, 0.020, 0.040, 0.080])
    assert limiter.num_requeues("a") == 5


@pytest.mark.parametrize(
    ("failures_before", "expected"),
    [(0, 0.005), (17, 0.005 * 2**17), (18, 1000.0), (30, 1000.0), (5000, 1000.0)],
)
def test_exponential_is_capped(failures_before: int, expected: float) -> None:
    limiter = ItemExponentialFailureRateLimiter(base=0.005, cap=1000.0)
    for _ in range(failures_before):
        limiter.when("a")
    assert limiter.when("a") == pytest.approx(expected)


def test_exponential_counts_per_item_and_forget_resets() -> None:
    limiter = ItemExponentialFailureRateLimiter()
    limiter.when("a")
    limiter.when("a")
    assert limiter.when("b") == pytest.approx(0.005)
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0
    assert limiter.when("a") == pytest.approx(0.005)
    assert limiter.num_requeues("b") == 1


def test_bucket_allows_the_burst_then_spaces_by_1_over_qps(clock: FakeClock) -> None:
    limiter = BucketRateLimiter(qps=10, burst=100, clock=clock)
    burst = [limiter.when(i) for i in range(100)]
    assert burst == [0.0] * 100
    after = [limiter.when(i) for i in range(3)]
    assert after == pytest.approx([0.1, 0.2, 0.3])


def test_bucket_refills_with_time_up_to_the_burst(clock: FakeClock) -> None:
    limiter = BucketRateLimiter(qps=10, burst=5, clock=clock)
    for i in range(5):
        limiter.when(i)
    clock.advance(0.1)
    assert limiter.when("x") == 0.0
    assert limiter.when("y") == pytest.approx(0.1)
    clock.advance(3600)  # refill is capped at the burst
    assert [limiter.when(i) for i in range(5)] == [0.0] * 5
    assert limiter.when("z") == pytest.approx(0.1)


def test_bucket_has_no_per_item_state(clock: FakeClock) -> None:
    limiter = BucketRateLimiter(qps=1, burst=1, clock=clock)
    limiter.when("a")
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0
    assert limiter.when("a") == pytest.approx(1.0)  # forget refunds nothing


class Recording:
    def __init__(self, delay: float, requeues: int) -> None:
        self.delay, self.requeues = delay, requeues
        self.calls: list[str] = []

    def when(self, item: object) -> float:
        self.calls.append(f"when {item}")
        return self.delay

    def forget(self, item: object) -> None:
        self.calls.append(f"forget {item}")

    def num_requeues(self, item: object) -> int:
        return self.requeues


def test_max_of_asks_every_limiter_and_returns_the_worst() -> None:
    low, high = Recording(0.5, 3), Recording(2.0, 1)
    limiter = MaxOfRateLimiter(low, high)
    assert limiter.when("k") == 2.0
    assert limiter.num_requeues("k") == 3
    limiter.forget("k")
    assert low.calls == high.calls == ["when k", "forget k"]


def test_default_limiter_combines_exponential_and_bucket(clock: FakeClock) -> None:
    limiter = default_controller_rate_limiter(clock)
    assert [limiter.when("a") for _ in range(3)] == pytest.approx([0.005, 0.01, 0.02])
    for i in range(97):  # spend the rest of the burst of 100
        limiter.when(i)
    # The bucket now dominates for a fresh item whose backoff is still 5 ms.
    assert limiter.when("fresh") == pytest.approx(0.1)
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0
