"""Giving memory back to the system once a burst of work is over.

A snapshot or restore of a large cluster grows the heap (pages, batches,
buffers) and CPython's allocator and glibc's malloc keep what they got:
without this, a controller that once snapshotted 140,000 objects idles at its
peak for the rest of its life. After each job, after each housekeeping pass and
once after start-up, :func:`give_back` collects garbage and asks glibc to return free heap pages
(``malloc_trim``); on a C library without it (musl), it only collects.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Callable


def _trimmer() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


_TRIM = _trimmer()


def give_back() -> None:
    """Collect garbage and return free heap to the system (synchronous; tens of ms on a large heap)."""
    gc.collect()
    if _TRIM is not None:
        _TRIM(0)
