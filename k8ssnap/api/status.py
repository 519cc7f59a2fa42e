"""The status a controller writes, one builder per phase transition.

Each builder returns the *whole* status, ready for a PUT to the ``/status``
subresource: nothing is merged with what was there before, so a status never
keeps a stale field from an earlier phase. Every field k8s-snap wrote is
always present, in its form: empty lists and unknown times are ``null``,
counts ``0``, strings ``""`` (compare the README's Failed examples).

When a transition must keep what was recorded before (a Completed snapshot
whose archive has vanished), build the new value with
:func:`dataclasses.replace` on the parsed status and serialise it with
:func:`snapshot_status_json` / :func:`restore_status_json`.

Lists can be long (one entry per object), and etcd refuses an object over
1.5 MiB. The builders therefore keep at most :data:`MAX_RESULT_ENTRIES` entries
per Restore result list and :data:`STATUS_LISTS_BUDGET` characters of list
entries in all, dropping the tail, while the counts
(``numberOfContents``, ``numCreated``, ...) stay the full numbers. The
complete index is in the archive.

The ``REASON_*`` strings are k8s-snap's own, so that scripts written for it
keep matching; other reasons come from :class:`k8ssnap.errors.K8sSnapError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final

from k8ssnap.api._time import format_optional
from k8ssnap.api.constants import (
    PHASE_COMPLETED,
    PHASE_FAILED,
    PHASE_IN_PROGRESS,
    PHASE_IN_QUEUE,
    STORE_AVAILABLE,
    STORE_UNAVAILABLE,
)
from k8ssnap.api.resources import ObjectstoreConfigStatus, RestoreStatus, SnapshotStatus
from k8ssnap.api.types import RawObjectstoreConfigStatus, RawRestoreStatus, RawSnapshotStatus
from k8ssnap.domain.entries import ResultCounts

#: Characters of list entries one status may hold, all lists together.
STATUS_LISTS_BUDGET: Final = 1_000_000
MAX_RESULT_ENTRIES: Final = 2000
"""At most this many entries in each of a Restore's result lists (the counts stay exact)."""

REASON_AVAILABLE_UNTIL_PAST: Final = "AvailableUntil is set as past."
REASON_SNAPSHOT_NOT_COMPLETED: Final = "Snapshot data is not in status 'Completed'"
REASON_FILE_NOT_FOUND: Final = "Snapshot file not found"
REASON_FILE_MISMATCH: Final = "Snapshot file size or timestamp not matched"

# --- Snapshot -------------------------------------------------------------


def snapshot_status_json(status: SnapshotStatus) -> RawSnapshotStatus:
    """``status`` as the JSON the CRD stores, every field present."""
    return {
        "phase": status.phase,
        "reason": status.reason,
        "contents": _list_or_null(status.contents),
        "numberOfContents": status.number_of_contents,
        "snapshotResourceVersion": status.snapshot_resource_version,
        "snapshotTimestamp": format_optional(status.snapshot_timestamp),
        "storedFileSize": status.stored_file_size,
        "storedTimestamp": format_optional(status.stored_timestamp),
        "availableUntil": format_optional(status.available_until),
        "storedSha256": status.stored_sha256,
        "skippedApis": _list_or_null(status.skipped_apis),
        "observedGeneration": status.observed_generation,
    }


def snapshot_in_queue(
    *, available_until: datetime | None = None, observed_generation: int = 0
) -> RawSnapshotStatus:
    """Accepted and waiting for a worker."""
    return snapshot_status_json(
        SnapshotStatus(
            phase=PHASE_IN_QUEUE,
            available_until=available_until,
            observed_generation=observed_generation,
        )
    )


def snapshot_in_progress(
    *, available_until: datetime | None = None, observed_generation: int = 0
) -> RawSnapshotStatus:
    """A worker is taking the snapshot."""
    return snapshot_status_json(
        SnapshotStatus(
            phase=PHASE_IN_PROGRESS,
            available_until=available_until,
            observed_generation=observed_generation,
        )
    )


MAX_CONTENTS = 5000
"""Paths kept in a Snapshot's ``status.contents``; the archive's index has them all."""


def snapshot_completed(
    *,
    contents: Sequence[str],
    resource_version: str,
    timestamp: datetime,
    stored_file_size: int,
    stored_timestamp: datetime,
    available_until: datetime,
    stored_sha256: str = "",
    skipped_apis: Sequence[str] = (),
    observed_generation: int = 0,
) -> RawSnapshotStatus:
    """The archive is stored; ``contents`` are its API paths (sorted here, at most
    :data:`MAX_CONTENTS` kept; ``numberOfContents`` counts them all)."""
    kept_skipped, kept_contents = _fit((skipped_apis, sorted(contents)[:MAX_CONTENTS]))
    return snapshot_status_json(
        SnapshotStatus(
            phase=PHASE_COMPLETED,
            contents=kept_contents,
            number_of_contents=len(contents),
            snapshot_resource_version=resource_version,
            snapshot_timestamp=timestamp,
            stored_file_size=_non_negative(stored_file_size, "stored_file_size"),
            stored_timestamp=stored_timestamp,
            available_until=available_until,
            stored_sha256=stored_sha256,
            skipped_apis=kept_skipped,
            observed_generation=observed_generation,
        )
    )


def snapshot_failed(
    reason: str, *, available_until: datetime | None = None, observed_generation: int = 0
) -> RawSnapshotStatus:
    """Taking the snapshot failed for ``reason``; nothing usable was stored."""
    return snapshot_status_json(
        SnapshotStatus(
            phase=PHASE_FAILED,
            reason=_reason(reason),
            available_until=available_until,
            observed_generation=observed_generation,
        )
    )


def snapshot_invalidated(previous: SnapshotStatus, *, reason: str) -> RawSnapshotStatus:
    """A Completed snapshot turns Failed (its archive is missing or altered).

    What was recorded about the snapshot is kept, so the user can see what
    was lost.
    """
    return snapshot_status_json(replace(previous, phase=PHASE_FAILED, reason=_reason(reason)))


# --- Restore --------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RestoreOutcome:
    """What a restore did, entry by entry; the counts follow from the lists unless ``counts`` says
    how long they were before they were cut.

    Entries are API paths; ``excluded`` ones read ``"<path>,(<reason>)"`` and
    ``failed`` ones ``"<path>,<error>"``, as k8s-snap wrote them.
    """

    excluded: Sequence[str] = ()
    created: Sequence[str] = ()
    updated: Sequence[str] = ()
    already_existed: Sequence[str] = ()
    failed: Sequence[str] = ()
    converted: Sequence[str] = ()
    num_preference_excluded: int = 0
    num_snapshot_contents: int = 0
    counts: ResultCounts | None = None

    def totals(self) -> ResultCounts:
        """Each list's length before any cut."""
        if self.counts is not None:
            return self.counts
        return ResultCounts.of(
            excluded=self.excluded,
            created=self.created,
            updated=self.updated,
            already_existed=self.already_existed,
            failed=self.failed,
            converted=self.converted,
        )


def restore_status_json(status: RestoreStatus) -> RawRestoreStatus:
    """``status`` as the JSON the CRD stores, every field present.

    ``snapshotName`` (k8ssnap's addition: the snapshot restored) is present once known.
    """
    body: RawRestoreStatus = {
        "phase": status.phase,
        "reason": status.reason,
        "excluded": _list_or_null(status.excluded),
        "created": _list_or_null(status.created),
        "updated": _list_or_null(status.updated),
        "alreadyExisted": _list_or_null(status.already_existed),
        "failed": _list_or_null(status.failed),
        "converted": _list_or_null(status.converted),
        "numExcluded": status.num_excluded,
        "numCreated": status.num_created,
        "numUpdated": status.num_updated,
        "numAlreadyExisted": status.num_already_existed,
        "numFailed": status.num_failed,
        "numConverted": status.num_converted,
        "numPreferenceExcluded": status.num_preference_excluded,
        "numSnapshotContents": status.num_snapshot_contents,
        "restoreResourceVersion": status.restore_resource_version,
        "restoreTimestamp": format_optional(status.restore_timestamp),
        "preserveUntil": format_optional(status.preserve_until),
        "observedGeneration": status.observed_generation,
    }
    if status.snapshot_name:
        body["snapshotName"] = status.snapshot_name
    return body


def restore_in_queue(
    *, preserve_until: datetime | None = None, observed_generation: int = 0
) -> RawRestoreStatus:
    """Accepted and waiting for a worker."""
    return restore_status_json(
        RestoreStatus(
            phase=PHASE_IN_QUEUE,
            preserve_until=preserve_until,
            observed_generation=observed_generation,
        )
    )


def restore_in_progress(
    *,
    num_snapshot_contents: int = 0,
    preserve_until: datetime | None = None,
    observed_generation: int = 0,
    snapshot_name: str = "",
) -> RawRestoreStatus:
    """A worker is restoring ``snapshot_name``, a snapshot of ``num_snapshot_contents`` objects."""
    return restore_status_json(
        RestoreStatus(
            phase=PHASE_IN_PROGRESS,
            snapshot_name=snapshot_name,
            num_snapshot_contents=_non_negative(num_snapshot_contents, "num_snapshot_contents"),
            preserve_until=preserve_until,
            observed_generation=observed_generation,
        )
    )


def restore_completed(
    *,
    outcome: RestoreOutcome,
    resource_version: str,
    timestamp: datetime,
    preserve_until: datetime,
    observed_generation: int = 0,
    snapshot_name: str = "",
) -> RawRestoreStatus:
    """Every object of ``snapshot_name`` was tried; ``outcome.failed`` may still list some."""
    return restore_status_json(
        _with_outcome(
            RestoreStatus(
                phase=PHASE_COMPLETED,
                snapshot_name=snapshot_name,
                restore_resource_version=resource_version,
                restore_timestamp=timestamp,
                preserve_until=preserve_until,
                observed_generation=observed_generation,
            ),
            outcome,
        )
    )


def restore_failed(
    reason: str,
    *,
    outcome: RestoreOutcome | None = None,
    preserve_until: datetime | None = None,
    observed_generation: int = 0,
    snapshot_name: str = "",
) -> RawRestoreStatus:
    """The restore stopped for ``reason``; ``outcome`` keeps what was done."""
    status = RestoreStatus(
        phase=PHASE_FAILED,
        snapshot_name=snapshot_name,
        reason=_reason(reason),
        preserve_until=preserve_until,
        observed_generation=observed_generation,
    )
    return restore_status_json(_with_outcome(status, outcome or RestoreOutcome()))


def _with_outcome(status: RestoreStatus, outcome: RestoreOutcome) -> RestoreStatus:
    # The most telling lists first, should the budget run out.
    failed, converted, updated, created, already_existed, excluded = _fit(
        (
            outcome.failed,
            outcome.converted,
            outcome.updated,
            outcome.created,
            outcome.already_existed,
            outcome.excluded,
        ),
        entries=MAX_RESULT_ENTRIES,
    )
    totals = outcome.totals()
    return replace(
        status,
        excluded=excluded,
        created=created,
        updated=updated,
        already_existed=already_existed,
        failed=failed,
        converted=converted,
        num_excluded=totals.excluded,
        num_created=totals.created,
        num_updated=totals.updated,
        num_already_existed=totals.already_existed,
        num_failed=totals.failed,
        num_converted=totals.converted,
        num_preference_excluded=_non_negative(outcome.num_preference_excluded, "num_preference_excluded"),
        num_snapshot_contents=_non_negative(outcome.num_snapshot_contents, "num_snapshot_contents"),
    )


# --- ObjectstoreConfig ----------------------------------------------------


def objectstore_status_json(status: ObjectstoreConfigStatus) -> RawObjectstoreConfigStatus:
    """``status`` as the JSON the CRD stores, every field present."""
    return {
        "phase": status.phase,
        "reason": status.reason,
        "bucketExists": status.bucket_exists,
        "lastChecked": format_optional(status.last_checked),
        "observedGeneration": status.observed_generation,
    }


def objectstore_available(
    *, checked_at: datetime, observed_generation: int = 0
) -> RawObjectstoreConfigStatus:
    """The credentials work and the bucket exists."""
    return objectstore_status_json(
        ObjectstoreConfigStatus(
            phase=STORE_AVAILABLE,
            bucket_exists=True,
            last_checked=checked_at,
            observed_generation=observed_generation,
        )
    )


def objectstore_unavailable(
    reason: str,
    *,
    checked_at: datetime,
    bucket_exists: bool | None = None,
    observed_generation: int = 0,
) -> RawObjectstoreConfigStatus:
    """The store cannot be used, for ``reason``; ``bucket_exists`` None if unknown."""
    return objectstore_status_json(
        ObjectstoreConfigStatus(
            phase=STORE_UNAVAILABLE,
            reason=_reason(reason),
            bucket_exists=bucket_exists,
            last_checked=checked_at,
            observed_generation=observed_generation,
        )
    )


# --- helpers --------------------------------------------------------------


def _list_or_null(items: Sequence[str]) -> list[str] | None:
    """Go's nil slice: an empty list is written as null."""
    return list(items) or None


def _fit(lists: Sequence[Sequence[str]], *, entries: int | None = None) -> list[tuple[str, ...]]:
    """Each list, at most ``entries`` long, and cut short once all together reach
    :data:`STATUS_LISTS_BUDGET` (the one place status lists are capped)."""
    budget = STATUS_LISTS_BUDGET
    kept: list[tuple[str, ...]] = []
    for items in lists:
        taken: list[str] = []
        for item in items[:entries]:
            cost = len(item.encode()) + 3  # quotes and comma
            if cost > budget:
                break
            budget -= cost
            taken.append(item)
        kept.append(tuple(taken))
    return kept


def _reason(reason: str) -> str:
    if not reason.strip():
        raise ValueError("a failure needs a reason a person can read")
    return reason


def _non_negative(value: int, name: str) -> int:
    if value < 0:
        raise ValueError(f"{name} must not be negative, not {value}")
    return value
