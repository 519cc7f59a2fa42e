"""Result lists that stay small: the first entries in sorted order, and exact counts.

A restore of 140,000 objects would otherwise hold 140,000 paths until the end,
sort a copy of them, and build a status that keeps 2,000 of each list
(:data:`k8ssnap.api.status.MAX_RESULT_ENTRIES`). :class:`SortedPrefix` keeps at
most twice its cap between trims, so memory is bounded by the cap, not by the
archive, while the entries it reports are exactly the first ``keep`` of the
whole list in sorted order, the ones a status would have shown.
"""

from __future__ import annotations

from collections.abc import Sized
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ResultCounts:
    """How many entries each of a restore's result lists had, before any was cut."""

    excluded: int = 0
    created: int = 0
    updated: int = 0
    already_existed: int = 0
    failed: int = 0
    converted: int = 0

    @classmethod
    def of(
        cls,
        *,
        excluded: Sized,
        created: Sized,
        updated: Sized,
        already_existed: Sized,
        failed: Sized,
        converted: Sized,
    ) -> ResultCounts:
        """The counts of lists that were never cut: their lengths."""
        return cls(
            excluded=len(excluded),
            created=len(created),
            updated=len(updated),
            already_existed=len(already_existed),
            failed=len(failed),
            converted=len(converted),
        )


class SortedPrefix:
    """Entries added one by one; keeps the ``keep`` smallest (all when None) and counts every one.

    Contract: :meth:`entries` returns, sorted, the ``keep`` smallest of the
    entries added and not taken back, and :attr:`total` counts all of them.
    Memory holds at most ``2 * keep`` entries (trim by sort and cut, so adding
    costs amortised ``O(log keep)``). Every method is synchronous, so
    coroutines on one event loop never interleave inside one.
    """

    __slots__ = ("_items", "_keep", "_total")

    def __init__(self, keep: int | None = None) -> None:
        if keep is not None and keep < 0:
            raise ValueError(f"keep must not be negative, not {keep}")
        self._keep = keep
        self._items: list[str] = []
        self._total = 0

    @property
    def total(self) -> int:
        """How many entries were added and not taken back."""
        return self._total

    def add(self, entry: str) -> None:
        """Count ``entry``, and keep it while it is among the smallest."""
        self._total += 1
        self._items.append(entry)
        if self._keep is not None and len(self._items) > 2 * self._keep + 16:
            self._trim(self._keep)

    def discard(self, entry: str) -> None:
        """Take back one ``entry`` that was added (the caller knows it was)."""
        self._total -= 1
        if entry in self._items:  # else trimmed away earlier: what is kept is still the sorted prefix
            self._items.remove(entry)

    def entries(self) -> tuple[str, ...]:
        """The kept entries, sorted: the first ``keep`` of all of them."""
        self._trim(self._keep)
        return tuple(self._items)

    def _trim(self, keep: int | None) -> None:
        self._items.sort()
        if keep is not None:
            del self._items[keep:]
