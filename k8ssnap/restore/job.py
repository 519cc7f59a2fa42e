"""What a restore is asked to do, and what it reports.

:class:`RestoreJob` names one snapshot in a snapshot store, the checksum
and size its stored record promises, and the preference that decides what
is restored. :class:`RestoreResult` is everything a Restore's status needs:
the four k8s-snap result lists (sorted), the counts, and the destination's
resourceVersion and time once the restore is done.

Result list formats are k8s-snap's (see :mod:`k8ssnap.domain.plan`):
``excluded`` entries read ``"<path>,(<reason>)"``, ``failed`` entries
``"<path>,<message>"`` with the message cut to 300 characters; ``created``,
``updated`` and ``already_existed`` hold bare API paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from k8ssnap import retry
from k8ssnap.domain.entries import ResultCounts
from k8ssnap.domain.preference import Preference
from k8ssnap.store import age


def _default_backoff() -> retry.Backoff:
    return retry.Backoff()


@dataclass(frozen=True, slots=True, kw_only=True)
class RestoreJob:
    """One restore of one archive into one cluster.

    ``expected_sha256`` (hex) and ``expected_size`` come from the archive's
    StoredRecord; ``""`` and ``0`` mean unknown, and then only the gzip and
    tar integrity (and, for version-1 archives, the index) is checked.
    ``snapshot_name`` must be the name the archive was written under.
    An age-encrypted archive has a ``decryption`` (identities, and the
    ciphertext's sha256 and size); the expected values above are then those
    of the plaintext, usually unknown.

    Existing objects are overwritten when ``overwrite_existing`` or the
    preference's ``restoreOptions.overwriteExisting`` says so. With
    ``dry_run`` the restore plans, reads the destination and sends its
    writes with ``dryRun=All``: nothing is stored, and the result lists mean
    "would create", "would update", "exists" and "would fail". ``backoff``
    bounds the retries of each retriable API call (k8s-snap's policy by
    default: 2 s doubling, at most ``--maxretryelapsedsec`` = 300 s).
    """

    snapshot_name: str
    expected_sha256: str
    expected_size: int
    preference: Preference
    overwrite_existing: bool = False
    dry_run: bool = False
    backoff: retry.Backoff = field(default_factory=_default_backoff)
    decryption: age.Decryption | None = None
    result_entries: int | None = None
    """Keep at most this many entries of each result list (their first, sorted); None keeps all.
    The counts stay exact; memory then stays flat however large the archive."""

    @property
    def overwrites(self) -> bool:
        """Whether objects that already exist are replaced."""
        return self.overwrite_existing or self.preference.overwrite_existing


@dataclass(frozen=True, slots=True, kw_only=True)
class RestoreResult:
    """The outcome of a restore that ran to the end (per-object failures included)."""

    excluded: tuple[str, ...]
    created: tuple[str, ...]
    updated: tuple[str, ...]
    already_existed: tuple[str, ...]
    failed: tuple[str, ...]
    num_preference_excluded: int
    num_snapshot_contents: int
    resource_version: str
    timestamp: datetime
    #: ``"<destination path>,converted from <gv> to <gv>"``, one per object sent at another version.
    converted: tuple[str, ...] = ()
    dry_run: bool = False
    #: How long each list was before it was cut to ``RestoreJob.result_entries``;
    #: None when nothing was counted apart (then the lists are whole).
    counts: ResultCounts | None = None

    @property
    def totals(self) -> ResultCounts:
        """How many objects each list stands for (more than it holds when it was cut)."""
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
