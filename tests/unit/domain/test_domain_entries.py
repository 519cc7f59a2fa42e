"""SortedPrefix: the first ``keep`` entries in sorted order, exact totals, bounded memory."""

from __future__ import annotations

import random

import pytest

from k8ssnap.domain.entries import SortedPrefix


@pytest.mark.parametrize(
    ("keep", "added", "taken_back", "entries", "total"),
    [
        (None, ["c", "a", "b"], [], ("a", "b", "c"), 3),
        (2, ["c", "a", "b"], [], ("a", "b"), 3),
        (0, ["c", "a"], [], (), 2),
        (2, ["c", "a", "b"], ["a"], ("b", "c"), 2),
        (1, ["b", "a", "a"], ["a"], ("a",), 2),  # duplicates count each time
        (3, [], [], (), 0),
    ],
)
def test_table(
    keep: int | None, added: list[str], taken_back: list[str], entries: tuple[str, ...], total: int
) -> None:
    prefix = SortedPrefix(keep)
    for entry in added:
        prefix.add(entry)
    for entry in taken_back:
        prefix.discard(entry)
    assert (prefix.entries(), prefix.total) == (entries, total)


@pytest.mark.parametrize("keep", [1, 10, 100])
def test_many_entries_give_the_sorted_prefix_and_never_hold_more_than_twice_keep(keep: int) -> None:
    rng = random.Random(keep)
    added = [f"/api/v1/namespaces/n{rng.randrange(10**6):07d}" for _ in range(5000)]
    prefix = SortedPrefix(keep)
    most = 0
    for entry in added:
        prefix.add(entry)
        most = max(most, len(prefix._items))
    assert prefix.entries() == tuple(sorted(added)[:keep])
    assert prefix.total == 5000
    assert most <= 2 * keep + 17


def test_taking_back_an_entry_trimmed_away_keeps_the_prefix() -> None:
    prefix = SortedPrefix(1)
    for entry in ["a", "b", *(f"z{i:03d}" for i in range(40))]:
        prefix.add(entry)
    prefix.discard("b")  # trimmed away already
    assert (prefix.entries(), prefix.total) == (("a",), 41)


def test_a_negative_cap_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        SortedPrefix(-1)
