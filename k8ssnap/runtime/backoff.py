"""Jittered exponential backoff that forgives after a quiet period.

This is apimachinery's ``ExponentialBackoffManager`` as the reflector uses
it (800 ms doubling to 30 s, jitter 1.0, reset after 2 minutes):

* each :meth:`Backoff.next_delay` returns ``step * (1 + jitter * r)`` with
  ``r`` from the injected random source in ``[0, 1)``, then doubles
  ``step`` up to ``cap``;
* if more than ``reset_after`` seconds passed since the previous backoff
  started, ``step`` first returns to ``initial``: trouble that is two
  minutes apart is not treated as one streak.

With the defaults the delays are in [0.8, 1.6), [1.6, 3.2), ... and at most
``cap * (1 + jitter)`` = 60 s. Time comes from the injected clock.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from k8ssnap.runtime.clock import Clock


class Backoff:
    """See the module docstring."""

    def __init__(
        self,
        *,
        clock: Clock,
        initial: float = 0.8,
        cap: float = 30.0,
        factor: float = 2.0,
        jitter: float = 1.0,
        reset_after: float = 120.0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if initial <= 0 or cap < initial or factor < 1 or jitter < 0:
            raise ValueError("need 0 < initial <= cap, factor >= 1, jitter >= 0")
        self._clock = clock
        self._initial = initial
        self._cap = cap
        self._factor = factor
        self._jitter = jitter
        self._reset_after = reset_after
        self._rand = rand
        self._step = initial
        self._last_start: float | None = None

    def next_delay(self) -> float:
        """The next delay in seconds; advances the streak."""
        now = self._clock.now()
        if self._last_start is not None and now - self._last_start > self._reset_after:
            self._step = self._initial
        self._last_start = now
        step = self._step
        self._step = min(self._step * self._factor, self._cap)
        return step * (1.0 + self._jitter * self._rand())

    async def sleep(self) -> float:
        """Sleep for :meth:`next_delay` on the clock; return the delay."""
        delay = self.next_delay()
        await self._clock.sleep(delay)
        return delay

    def __repr__(self) -> str:
        return f"<Backoff step={self._step:g}s cap={self._cap:g}s>"
