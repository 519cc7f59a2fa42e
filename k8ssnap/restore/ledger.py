"""Ledger: the running tally of a restore, turned into a RestoreResult at the end.

Workers record each object's outcome as they finish; the engine is the
only reader. Every method is synchronous (no ``await``), so concurrent
workers on one event loop never interleave inside an update.

Each object lands in exactly one list. The one move between lists is
:meth:`Ledger.not_bound`: a claim the restore created but that did not
bind leaves ``created`` for ``failed`` (see ``docs/restore-rules.md``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime

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

    __slots__ = ("_converted", "_done", "_excluded", "_failed", "_placed", "_progress")

    def __init__(self, *, progress: Progress | None = None) -> None:
        self._progress = progress
        self._done = 0
        self._excluded: list[str] = []
        self._failed: list[str] = []
        self._converted: list[str] = []
        self._placed: dict[Outcome, list[str]] = {outcome: [] for outcome in Outcome}

    @property
    def done(self) -> int:
        """How many objects have an outcome so far."""
        return self._done

    def placed(self, path: str, outcome: Outcome) -> None:
        """The object at ``path`` exists on the destination as ``outcome`` says."""
        self._placed[outcome].append(path)
        self._tick()

    def excluded(self, path: str, reason: str) -> None:
        """The object is skipped for ``reason`` (k8s-snap's reason strings)."""
        self._excluded.append(excluded_entry(path, reason))
        self._tick()

    def failed(self, path: str, message: str) -> None:
        """The object could not be restored; ``message`` is cut to 300 characters."""
        self._failed.append(failed_entry(path, message))
        self._tick()

    def converted(self, path: str, note: str) -> None:
        """The object was sent at another version (``note``); its outcome is recorded separately."""
        self._converted.append(f"{path},{note}")

    def not_bound(self, path: str, message: str) -> None:
        """A created claim did not bind: move it from ``created`` to ``failed``."""
        created = self._placed[Outcome.CREATED]
        if path in created:
            created.remove(path)
        self._failed.append(failed_entry(path, message))

    def paths(self, *outcomes: Outcome) -> list[str]:
        """The paths recorded with any of ``outcomes``, in recording order."""
        return [path for outcome in outcomes for path in self._placed[outcome]]

    def result(
        self,
        *,
        num_preference_excluded: int,
        num_snapshot_contents: int,
        resource_version: str,
        timestamp: datetime,
        dry_run: bool = False,
    ) -> RestoreResult:
        """The final, sorted result."""
        return RestoreResult(
            excluded=tuple(sorted(self._excluded)),
            created=tuple(sorted(self._placed[Outcome.CREATED])),
            updated=tuple(sorted(self._placed[Outcome.UPDATED])),
            already_existed=tuple(sorted(self._placed[Outcome.ALREADY_EXISTED])),
            failed=tuple(sorted(self._failed)),
            num_preference_excluded=num_preference_excluded,
            num_snapshot_contents=num_snapshot_contents,
            resource_version=resource_version,
            timestamp=timestamp,
            converted=tuple(sorted(self._converted)),
            dry_run=dry_run,
        )

    def _tick(self) -> None:
        self._done += 1
        if self._progress is not None:
            self._progress(self._done)
