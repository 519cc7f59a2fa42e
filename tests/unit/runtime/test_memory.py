"""give_back: unreachable cycles are collected, and glibc's trim is found (this is a glibc system)."""

from __future__ import annotations

import gc
import weakref

from k8ssnap.runtime import memory


class _Node:
    other: object = None


def test_give_back_collects_an_unreachable_cycle() -> None:
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    gc.disable()  # only give_back may collect it
    try:
        del a, b
        assert gone() is not None
        memory.give_back()
        assert gone() is None
    finally:
        gc.enable()


def test_glibcs_malloc_trim_is_found() -> None:
    assert memory._TRIM is not None  # the image and the test machine use glibc
    memory.give_back()
