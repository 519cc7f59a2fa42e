"""Rate limiters for re-queueing failed work (client-go ``default_rate_limiters.go``).

A :class:`RateLimiter` answers "how long should this item wait before it is
retried?". :meth:`RateLimiter.when` is *not* a pure query: every call counts
as one more attempt (the exponential limiter counts a failure; the bucket
spends a token). :meth:`RateLimiter.forget` clears an item's failure history
(call it when the item was processed successfully); it does not refund
tokens. :meth:`RateLimiter.num_requeues` reports how many failures are being
counted for the item.

Composition follows client-go:

* :class:`ItemExponentialFailureRateLimiter` -- per item,
  ``base * 2**failures`` capped at ``cap``: 5 ms, 10 ms, 20 ms, ... 1000 s.
* :class:`BucketRateLimiter` -- one token bucket shared by all items, which
  throttles retries across the whole controller. Like
  ``rate.Limiter.Reserve().Delay()`` in Go it *reserves* a token on every
  call, so once the burst is spent each call waits one more ``1/qps``.
* :class:`MaxOfRateLimiter` -- asks every limiter (so each one's state
  changes) and returns the worst delay. Because the bucket is consulted even
  when the exponential limiter dominates, the burst can appear to be
  exceeded; that is client-go's behaviour too.

Items are any hashable value; limiters are used from one event loop only.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Protocol

from k8ssnap.runtime.clock import Clock

#: Failure count beyond which ``base * 2**n`` is certainly past any sane cap;
#: it also keeps the float arithmetic from overflowing.
_MAX_EXPONENT = 1000


class RateLimiter(Protocol):
    """How long an item must wait before its next attempt."""

    def when(self, item: Hashable) -> float:
        """Seconds to wait before retrying ``item``; records one more attempt."""
        ...

    def forget(self, item: Hashable) -> None:
        """Stop tracking ``item`` (it succeeded); resets its backoff."""
        ...

    def num_requeues(self, item: Hashable) -> int:
        """How many failures of ``item`` are being counted."""
        ...


class ItemExponentialFailureRateLimiter:
    """Per-item exponential backoff: ``base * 2**n`` seconds, at most ``cap``.

    ``n`` is the number of earlier :meth:`when` calls for the item since it
    was last forgotten, so the first call returns ``base``.
    """

    def __init__(self, base: float = 0.005, cap: float = 1000.0) -> None:
        if base <= 0 or cap < base:
            raise ValueError("need 0 < base <= cap")
        self._base = base
        self._cap = cap
        self._failures: dict[Hashable, int] = {}

    def when(self, item: Hashable) -> float:
        exp = self._failures.get(item, 0)
        self._failures[item] = exp + 1
        if exp >= _MAX_EXPONENT:
            return self._cap
        return min(self._base * 2.0**exp, self._cap)

    def forget(self, item: Hashable) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: Hashable) -> int:
        return self._failures.get(item, 0)

    def __repr__(self) -> str:
        return (
            f"<ItemExponentialFailureRateLimiter base={self._base:g}s cap={self._cap:g}s "
            f"items={len(self._failures)}>"
        )


class BucketRateLimiter:
    """A token bucket of ``burst`` tokens refilled at ``qps`` per second.

    The bucket starts full. Every :meth:`when` takes a token, going into
    debt if none is left, and returns how long the caller must wait for its
    token to exist: ``0`` while the burst lasts, then ``1/qps``, ``2/qps``
    ... if the calls keep coming faster than the refill.
    """

    def __init__(self, *, qps: float = 10.0, burst: int = 100, clock: Clock) -> None:
        if qps <= 0 or burst < 1:
            raise ValueError("need qps > 0 and burst >= 1")
        self._qps = qps
        self._burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock.now()

    def when(self, item: Hashable) -> float:
        now = self._clock.now()
        elapsed = max(0.0, now - self._last)
        self._last = max(self._last, now)
        self._tokens = min(float(self._burst), self._tokens + elapsed * self._qps) - 1.0
        if self._tokens >= 0:
            return 0.0
        return -self._tokens / self._qps

    def forget(self, item: Hashable) -> None:
        """Tokens are shared, so there is nothing per item to forget."""

    def num_requeues(self, item: Hashable) -> int:
        return 0

    def __repr__(self) -> str:
        return f"<BucketRateLimiter qps={self._qps:g} burst={self._burst} tokens={self._tokens:g}>"


class MaxOfRateLimiter:
    """The worst case of several limiters; every limiter sees every call."""

    def __init__(self, *limiters: RateLimiter) -> None:
        if not limiters:
            raise ValueError("MaxOfRateLimiter needs at least one limiter")
        self._limiters = limiters

    def when(self, item: Hashable) -> float:
        return max([limiter.when(item) for limiter in self._limiters])

    def forget(self, item: Hashable) -> None:
        for limiter in self._limiters:
            limiter.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        return max(limiter.num_requeues(item) for limiter in self._limiters)

    def __repr__(self) -> str:
        return f"<MaxOfRateLimiter {list(self._limiters)!r}>"


def default_controller_rate_limiter(clock: Clock) -> RateLimiter:
    """client-go's default: max(5 ms * 2**n capped at 1000 s, bucket 10 qps burst 100)."""
    return MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter(base=0.005, cap=1000.0),
        BucketRateLimiter(qps=10.0, burst=100, clock=clock),
    )
