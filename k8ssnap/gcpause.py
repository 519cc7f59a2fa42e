"""Pausing Python's cyclic garbage collector around a burst of short-lived allocations.

Parsing one 500-object LIST page builds ~150,000 dicts and lists that live
only until the page is turned into archive entries. They survive the young
generations while the page is alive, so nearly every page triggered a full
collection walking every tracked object of the process: profiling showed
three quarters of ``orjson.loads`` time was the collector, not JSON (see
docs/performance.md). Reference counting frees these objects anyway; they
hold no cycles. The pause is synchronous, so no other task runs under it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """Disable the cyclic collector for the block (re-enabled only if it was enabled)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
