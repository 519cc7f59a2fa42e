"""Intake: the first pass over an archive, from the object store to the spool.

The archive is downloaded as a stream, gunzipped and untarred by
:class:`~k8ssnap.archive.reader.ArchiveReader`; every object is classified
by the preference (:func:`~k8ssnap.domain.tiers.classify`) and shown to
:class:`~k8ssnap.domain.facts.PlanFacts`. Objects the preference lets
through are spooled, raw, to their tier's file; the others are only
counted (``numPreferenceExcluded``).

Contract: :func:`take_in` returns only for an archive that is complete and
intact. An encrypted archive is decrypted on the way
(:func:`k8ssnap.store.age.decrypted`, which checks the ciphertext against
the record and fails on a wrong identity or damaged data). The reader's
own checks (gzip CRC, tar structure, the version-1
index) and then the job's expected sha256, size and snapshot name are all
verified before it returns, and any mismatch raises
:class:`~k8ssnap.errors.ArchiveError`. Nothing has been created in the
destination at that point, so a bad archive changes nothing.

Bounds (:mod:`k8ssnap.limits`): the download is abandoned as soon as it
exceeds the recorded archive size, the spool may grow only to
:func:`~k8ssnap.limits.spool_limit` of that size (or the spool's own ``max_bytes``), and the reader's own
bounds cap each entry. Between inflate steps intake yields to the event
loop, so a highly compressed chunk cannot hold it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import orjson

from k8ssnap import limits
from k8ssnap.archive.reader import ArchiveReader, Entry, ReadSummary
from k8ssnap.domain.facts import PlanFacts
from k8ssnap.domain.tiers import Tiered, classify
from k8ssnap.errors import ArchiveError
from k8ssnap.restore.job import RestoreJob
from k8ssnap.restore.spool import Spool
from k8ssnap.store import age
from k8ssnap.store.snapshots import SnapshotStore


@dataclass(frozen=True, slots=True)
class Intake:
    """What the first pass learned: sealed facts-to-be and the counts for the result."""

    facts: PlanFacts
    num_snapshot_contents: int
    num_preference_excluded: int
    summary: ReadSummary


async def take_in(job: RestoreJob, *, store: SnapshotStore, spool: Spool) -> Intake:
    """Stream ``job``'s archive into ``spool``; raise ArchiveError unless it is intact."""
    reader = ArchiveReader()
    facts = PlanFacts(preference=job.preference)
    excluded = 0
    # an encrypted archive's recorded size is the ciphertext's, a little above the plaintext's
    recorded = job.expected_size or (job.decryption.expected_size if job.decryption is not None else 0)
    spool_limit = limits.spool_limit(recorded) if spool.max_bytes is None else spool.max_bytes
    chunks = store.download_archive(job.snapshot_name, encrypted=job.decryption is not None)
    if job.decryption is not None:
        chunks = age.decrypted(chunks, job.decryption, what=store.where(job.snapshot_name))
    try:
        async for chunk in chunks:
            _check_size(reader.size + len(chunk), job)
            for entries in reader.steps(chunk):
                excluded += await _take(entries, job=job, facts=facts, spool=spool)
                if spool.size > spool_limit:
                    raise ArchiveError(
                        f"archive of {job.snapshot_name!r} inflates beyond {spool_limit} bytes of objects "
                        f"for its {job.expected_size or 'unrecorded'} bytes"
                    )
                await asyncio.sleep(0)  # one inflate step at a time: let the loop run
    finally:
        if isinstance(chunks, AsyncGenerator):
            await chunks.aclose()  # stop the download now, not when it is collected
    summary = reader.close()
    verify(summary, job)
    await spool.seal()
    return Intake(
        facts=facts,
        num_snapshot_contents=summary.count,
        num_preference_excluded=excluded,
        # the index was checked against the objects; its paths (20 MB at 140,000 objects)
        # need not live through the restore
        summary=dataclasses.replace(summary, index=None),
    )


async def _take(entries: list[Entry], *, job: RestoreJob, facts: PlanFacts, spool: Spool) -> int:
    """Classify and spool ``entries``; return how many the preference excluded."""
    excluded = 0
    for entry in entries:
        item = classify(entry.path, _object(entry), job.preference)
        facts.observe(item)
        if isinstance(item, Tiered):
            await spool.add(item.tier, entry.path, entry.body)
        else:
            excluded += 1
    return excluded


def _check_size(received: int, job: RestoreJob) -> None:
    """ArchiveError once a download passes the archive's recorded size (when there is one)."""
    if job.expected_size and received > job.expected_size:
        raise ArchiveError(
            f"archive of {job.snapshot_name!r} is larger than the {job.expected_size} bytes its record says"
        )


def verify(summary: ReadSummary, job: RestoreJob) -> None:
    """Raise ArchiveError unless the read archive is the one the job expects.

    An empty ``expected_sha256`` or a zero ``expected_size`` is not checked.
    """
    if job.expected_size and summary.size != job.expected_size:
        raise ArchiveError(
            f"archive of {job.snapshot_name!r} is {summary.size} bytes, "
            f"but its record says {job.expected_size}"
        )
    if job.expected_sha256 and summary.sha256 != job.expected_sha256.lower():
        raise ArchiveError(
            f"archive of {job.snapshot_name!r} has sha256 {summary.sha256}, "
            f"but its record says {job.expected_sha256}"
        )
    if summary.snapshot_name != job.snapshot_name:
        raise ArchiveError(
            f"archive of {job.snapshot_name!r} holds snapshot {summary.snapshot_name!r}, "
            f"not {job.snapshot_name!r}"
        )


def _object(entry: Entry) -> dict[str, Any]:
    """The entry's JSON object; ArchiveError for anything else (the archive is damaged)."""
    try:
        obj = orjson.loads(entry.body)
    except orjson.JSONDecodeError:
        raise ArchiveError(f"archive entry {entry.path} is not JSON") from None
    if not isinstance(obj, dict):
        raise ArchiveError(f"archive entry {entry.path} is not a JSON object")
    return obj
