"""Retrying retriable work: exponential backoff with jitter, bounded by elapsed time.

The policy is k8s-snap's: start at 2 s, double, jitter of +/-20 %, give up
when the next wait would pass ``max_elapsed`` seconds (``--maxretryelapsedsec``).
Only :class:`k8ssnap.errors.RetriableError` is retried; a permanent error
propagates at once. Time is a :class:`~k8ssnap.runtime.clock.Clock`, as
everywhere else (tests drive a :class:`~k8ssnap.testing.fakeclock.FakeClock`).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from k8ssnap import errors
from k8ssnap.runtime.clock import Clock, RealClock

log = logging.getLogger(__name__)

T = TypeVar("T")
_REAL = RealClock()


@dataclass(frozen=True, slots=True)
class Backoff:
    """An exponential backoff schedule."""

    initial: float = 2.0
    factor: float = 2.0
    cap: float = 60.0
    jitter: float = 0.2
    max_elapsed: float = 300.0

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        """Endless jittered delays: initial, initial*factor, ... capped at ``cap``."""
        rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        delay = self.initial
        while True:
            yield delay * (1 + self.jitter * (2 * rng.random() - 1))
            delay = min(delay * self.factor, self.cap)


async def retrying(
    op: Callable[[], Awaitable[T]],
    *,
    backoff: Backoff,
    what: str,
    clock: Clock = _REAL,
) -> T:
    """Run ``op`` until it succeeds, raises a permanent error, or time runs out.

    When time runs out the last retriable error is raised, its reason
    prefixed with how long we tried.
    """
    started = clock.now()
    delays = backoff.delays()
    while True:
        try:
            return await op()
        except errors.RetriableError as exc:
            delay = next(delays)
            elapsed = clock.now() - started
            if elapsed + delay > backoff.max_elapsed:
                exc.reason = f"gave up after {elapsed:.0f} s of retries: {exc.reason}"
                raise
            log.warning("%s failed, retrying in %.1f s: %s", what, delay, exc.reason)
            await clock.sleep(delay)
