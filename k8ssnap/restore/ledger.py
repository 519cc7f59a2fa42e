"""Ledger: the running tally of a restore, turned into a RestoreResult at the end.

Workers record each object's outcome as they finish; the engine is the
only reader. Every method is synchronous (no ``await``), so concurrent
workers on one event loop never interleave inside an update.

Each object lands in exactly one list. The one move between lists is
:meth:`Ledger.not_bound`: a claim the restore created but that did not
bind leaves ``created`` for ``failed`` (see ``docs/restore-rules.md``).

Memory stays flat in the archive's size when ``keep`` is given (the
controller keeps what a status can show, :data:`k8ssnap.api.status.MAX_RESULT_ENTRIES`):
each list keeps only its first ``keep`` entries in sorted order and counts
the rest (:class:`k8ssnap.domain.entries.SortedPrefix`). The paths the
engine needs after a tier (the ``remember`` resources: CRDs, claims,
Namespaces) are kept whole, whatever ``keep`` says.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection
from datetime import datetime

from k8ssnap.domain.entries import ResultCounts, SortedPrefix
from k8ssnap.domain.paths import GroupResource
from k8ssnap.domain.plan import excluded_entry, failed_entry
from k8ssnap.restore.job import RestoreResult

Progress = Callable[[int], None]


class Outcome(enum.Enum):
    """How an object that reached the destination got there."""

    CREATED = "created"
    UPDATED = "updated"
    ALREADY_EXISTED = "already_existed"


class Ledger:
    """Outcome lists of one restore, and the progress callback they drive."""

    __slots__ = (
        "_converted",
        "_done",
        "_excluded",
        "_failed",
        "_placed",
        "_progress",
        "_remember",
        "_remembered",
    )

    def __init__(
        self,
        *,
        progress: Progress | None = None,
        keep: int | None = None,
        remember: Collection[GroupResource] = (),
    ) -> None:
        self._progress = progress
        self._done = 0
        self._excluded = SortedPrefix(keep)
        self._failed = SortedPrefix(keep)
        self._converted = SortedPrefix(keep)
        self._placed = {outcome: SortedPrefix(keep) for outcome in Outcome}
        self._remember = frozenset(remember)
        self._remembered: dict[tuple[GroupResource, Outcome], list[str]] = {}

    @property
    def done(self) -> int:
        """How many objects have an outcome so far."""
        return self._done

    def placed(self, path: str, outcome: Outcome, *, resource: GroupResource | None = None) -> None:
        """The object at ``path`` (of ``resource``) exists on the destination as ``outcome`` says."""
        self._placed[outcome].add(path)
        if resource in self._remember:
            self._remembered.setdefault((resource, outcome), []).append(path)
        self._tick()

    def excluded(self, path: str, reason: str) -> None:
        """The object is skipped for ``reason`` (k8s-snap's reason strings)."""
        self._excluded.add(excluded_entry(path, reason))
        self._tick()

    def failed(self, path: str, message: str) -> None:
        """The object could not be restored; ``message`` is cut to 300 characters."""
        self._failed.add(failed_entry(path, message))
        self._tick()

    def converted(self, path: str, note: str) -> None:
        """The object was sent at another version (``note``); its outcome is recorded separately."""
        self._converted.add(f"{path},{note}")

    def not_bound(self, path: str, message: str, *, resource: GroupResource) -> None:
        """A created claim of ``resource`` did not bind: move it from ``created`` to ``failed``."""
        created = self._remembered.get((resource, Outcome.CREATED), [])
        if path in created:
            created.remove(path)
            self._placed[Outcome.CREATED].discard(path)
        self._failed.add(failed_entry(path, message))

    def paths(self, resource: GroupResource, *outcomes: Outcome) -> list[str]:
        """The paths of ``resource`` (one given as ``remember``) recorded with any of ``outcomes``."""
        if resource not in self._remember:
            raise ValueError(f"the ledger does not remember {resource}")
        return [path for outcome in outcomes for path in self._remembered.get((resource, outcome), [])]

    def result(
        self,
        *,
        num_preference_excluded: int,
        num_snapshot_contents: int,
        resource_version: str,
        timestamp: datetime,
        dry_run: bool = False,
    ) -> RestoreResult:
        """The final result: each list sorted (its first ``keep`` entries), and every count exact."""
        placed = self._placed
        return RestoreResult(
            excluded=self._excluded.entries(),
            created=placed[Outcome.CREATED].entries(),
            updated=placed[Outcome.UPDATED].entries(),
            already_existed=placed[Outcome.ALREADY_EXISTED].entries(),
            failed=self._failed.entries(),
            num_preference_excluded=num_preference_excluded,
            num_snapshot_contents=num_snapshot_contents,
            resource_version=resource_version,
            timestamp=timestamp,
            converted=self._converted.entries(),
            dry_run=dry_run,
            counts=ResultCounts(
                excluded=self._excluded.total,
                created=placed[Outcome.CREATED].total,
                updated=placed[Outcome.UPDATED].total,
                already_existed=placed[Outcome.ALREADY_EXISTED].total,
                failed=self._failed.total,
                converted=self._converted.total,
            ),
        )

    def _tick(self) -> None:
        self._done += 1
        if self._progress is not None:
            self._progress(self._done)
