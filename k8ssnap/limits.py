"""The bounds k8ssnap puts on what it reads, in one place.

Archives and buckets are input a person (or an attacker with write access
to the bucket) controls. Each bound below turns a resource-exhaustion
attempt into an :class:`~k8ssnap.errors.ArchiveError` (or a store error)
with a reason, before memory, disk or the event loop suffer. The numbers
are generous for real clusters: etcd refuses objects above about 1.5 MiB,
so no archived object comes near the entry cap.

Stdlib only: every layer may import it.
"""

from __future__ import annotations

from typing import Final

MiB: Final = 1 << 20

MAX_ENTRY_SIZE: Final = 8 * MiB
"""Largest tar entry (one object's JSON) the reader accepts; etcd's own limit is ~1.5 MiB."""

MAX_INDEX_SIZE: Final = 64 * MiB
"""Largest archive index (one path per object: about 100 bytes each, so some 600k objects)."""

MAX_RECORD_SIZE: Final = MAX_INDEX_SIZE + 1 * MiB
"""Largest stored record (``<name>.tgz.record.json``): the index plus a few small fields."""

MAX_TRAILING_ZEROS: Final = 1 * MiB
"""NUL padding accepted after the tar end marker (tar's blocking factor, at most 2048 blocks)."""

MAX_JSON_DEPTH: Final = 200
"""Deepest nesting of arrays and objects in one archived object: far above real objects
(Kubernetes' own types nest under 30 levels) and just below what orjson can encode at all
(254), so a deeply nested custom resource, which a snapshot archives as the API serves it,
does not make its whole archive refused at restore."""

MAX_JSON_CONTAINERS: Final = 1 << 18
"""Most ``{`` plus ``[`` bytes in one archived object (an over-count: brackets in strings count)."""

MAX_JSON_COMMAS: Final = 1 << 20
"""Most ``,`` bytes in one archived object: bounds the element count the parser can be made to build."""

MAX_API_ANSWER: Final = 1024 * MiB
"""Largest API answer after gzip is undone: far above a LIST page of 500 objects of etcd's
largest size (~750 MiB); a small gzip body that inflates beyond it is refused, not followed."""

SPOOL_INFLATION: Final = 200
"""Spool bytes allowed per compressed archive byte (real archives inflate 5-30x)."""

SPOOL_FLOOR: Final = 64 * MiB
"""Spool bytes always allowed, however small the archive."""

MAX_SPOOL_BYTES: Final = 64 * 1024 * MiB
"""Spool bytes never exceeded (also the cap when the archive's size is not recorded)."""

STALE_TEMP_AGE: Final = 24 * 3600.0
"""Seconds after which a k8ssnap temporary directory without an owner pid in its name is stale."""


def spool_limit(archive_size: int) -> int:
    """How many bytes a restore may spool for an archive of ``archive_size`` bytes (0: unknown)."""
    if archive_size <= 0:
        return MAX_SPOOL_BYTES
    return min(MAX_SPOOL_BYTES, SPOOL_FLOOR + SPOOL_INFLATION * archive_size)
