"""The reflector's jittered exponential backoff."""

from __future__ import annotations

import pytest

from k8ssnap.runtime.backoff import Backoff
from k8ssnap.testing.fakeclock import FakeClock


def test_doubles_to_the_cap_without_jitter(clock: FakeClock) -> None:
    backoff = Backoff(clock=clock, rand=lambda: 0.0)
    delays = [backoff.next_delay() for _ in range(8)]
    assert delays == pytest.approx([0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0])


@pytest.mark.parametrize(("r", "expected"), [(0.0, 0.8), (0.5, 1.2), (0.999, 1.5992)])
def test_jitter_adds_up_to_one_step(clock: FakeClock, r: float, expected: float) -> None:
    assert Backoff(clock=clock, rand=lambda: r).next_delay() == pytest.approx(expected)


@pytest.mark.parametrize(("quiet", "expected"), [(119.0, 3.2), (121.0, 0.8)])
def test_resets_after_two_quiet_minutes(clock: FakeClock, quiet: float, expected: float) -> None:
    backoff = Backoff(clock=clock, rand=lambda: 0.0)
    backoff.next_delay()
    backoff.next_delay()
    clock.advance(quiet)
    assert backoff.next_delay() == pytest.approx(expected)


def test_rejects_nonsense(clock: FakeClock) -> None:
    with pytest.raises(ValueError):
        Backoff(clock=clock, initial=5, cap=1)
