"""Which Restores read a Snapshot's archive: while any does, the archive is not deleted.

A Snapshot that expires, is pruned by its schedule, or is deleted by hand loses its
archive through its finalizer. A Restore reading that archive at the time would
fail half-way, with some objects created and the rest lost, so the finalizer
waits while :func:`readers` names anyone (as Kubernetes holds a PersistentVolumeClaim
while a Pod uses it), and a Restore never claims a Snapshot that is being deleted.

Readers are, for the Snapshot ``S``:

- every Restore claimed for ``S`` in this process and not finished yet (``claims``:
  the claim happens before its InProgress status reaches the cache);
- every Restore InProgress whose status names ``S`` (or, before k8ssnap recorded
  the claimed snapshot, whose spec does): it resumes after a restart;
- every Restore waiting to start (New, InQueue) whose spec names ``S``: it would
  otherwise fail with "not found" moments later. A Restore of ``latest`` has no
  snapshot until its claim, and from then on is in ``claims``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RestoreFacts:
    """What the rule needs of one Restore."""

    name: str
    active: bool
    """InProgress: it reads, or resumes reading after a restart."""
    waiting: bool
    """New or InQueue: it will read the snapshot its spec names."""
    named: str
    """``spec.snapshotName`` ("" for a Restore of the latest)."""
    claimed: str = ""
    """``status.snapshotName``: the snapshot it was claimed with ("" before the claim)."""


def readers(snapshot: str, restores: Iterable[RestoreFacts], *, claims: Mapping[str, str]) -> tuple[str, ...]:
    """Names of the Restores that read ``snapshot`` or are about to, sorted.

    ``claims`` maps a Restore's name to the snapshot it was claimed with in this
    process, until its run ends.
    """
    found = {restore for restore, chosen in claims.items() if chosen == snapshot}
    for r in restores:
        if (r.active and (r.claimed or r.named) == snapshot) or (r.waiting and r.named == snapshot):
            found.add(r.name)
    return tuple(sorted(found))
