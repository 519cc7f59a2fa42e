"""The archive index and the stored record kept next to the archive.

:class:`ArchiveIndex` is the last entry of every version-1 archive: what
the snapshot holds (object paths and counts per resource) and when it was
taken. :class:`StoredRecord` is a small object stored beside the archive
in the bucket: the index plus the archive's sha256 and size (to verify a
download) and the Snapshot spec fields needed to recreate a lost
cluster's Snapshot resources from the bucket alone. Neither ever holds a
kubeconfig: :meth:`RecordedSpec.from_snapshot_spec` reads only the fields
it names.

For an age-encrypted archive the record stays plaintext (so listing and
housekeeping need no identity) and says so in ``encryption``: the format
and the recipients' *public* keys. Its sha256 and size are then those of
the encrypted object, as stored. A record of a plaintext archive has no
``encryption`` key at all, byte for byte as before.

JSON keys are camelCase like the CRs; bytes are produced by orjson with
sorted keys, so equal values serialise to equal bytes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final

import orjson

from k8ssnap.archive.layout import FORMAT_NAME, FORMAT_VERSION
from k8ssnap.domain.expiry import parse_duration
from k8ssnap.domain.paths import parse_path
from k8ssnap.domain.timestamps import format_time, parse_time
from k8ssnap.errors import ArchiveError

RECORD_FORMAT: Final = "k8ssnap-record"
RECORD_VERSION: Final = 1


def count_key(path: str) -> str:
    """The counts key of an object path: ``v1/pods`` or ``apps/v1/deployments``."""
    ref = parse_path(path)
    return f"{ref.group_version}/{ref.resource}"


def count_paths(paths: Iterable[str]) -> dict[str, int]:
    """Objects per resource (see :func:`count_key`), keys sorted."""
    counts: dict[str, int] = {}
    for path in paths:
        key = count_key(path)
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotMeta:
    """What only the snapshot engine knows when an archive is finished."""

    cluster_name: str
    snapshot_resource_version: str
    snapshot_timestamp: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchiveIndex:
    """The index entry. ``paths`` are sorted; ``counts`` keys are :func:`count_key`."""

    snapshot_name: str
    cluster_name: str
    snapshot_resource_version: str
    snapshot_timestamp: datetime
    counts: Mapping[str, int]
    paths: tuple[str, ...]
    version: int = FORMAT_VERSION

    @property
    def total(self) -> int:
        """The number of objects in the archive."""
        return len(self.paths)

    @classmethod
    def build(
        cls,
        *,
        snapshot_name: str,
        meta: SnapshotMeta,
        paths: Iterable[str],
        counts: Mapping[str, int] | None = None,
    ) -> ArchiveIndex:
        """An index over ``paths`` (any order, no duplicates expected).

        ``counts`` are :func:`count_paths` of ``paths`` when the caller kept them
        while adding the paths (the archive writer does: parsing 140,000 paths
        again at the end would hold up the snapshot by half a second).
        """
        ordered = tuple(sorted(paths))
        counted = count_paths(ordered) if counts is None else dict(sorted(counts.items()))
        return cls(
            snapshot_name=snapshot_name,
            cluster_name=meta.cluster_name,
            snapshot_resource_version=meta.snapshot_resource_version,
            snapshot_timestamp=meta.snapshot_timestamp,
            counts=MappingProxyType(counted),
            paths=ordered,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "format": FORMAT_NAME,
            "version": self.version,
            "snapshotName": self.snapshot_name,
            "clusterName": self.cluster_name,
            "snapshotResourceVersion": self.snapshot_resource_version,
            "snapshotTimestamp": format_time(self.snapshot_timestamp),
            "counts": dict(sorted(self.counts.items())),
            "total": self.total,
            "paths": list(self.paths),
        }

    def to_json(self) -> bytes:
        """Serialised :meth:`to_dict`."""
        return orjson.dumps(self.to_dict(), option=orjson.OPT_SORT_KEYS)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ArchiveIndex:
        """Parse and check an index; ArchiveError if it is malformed or inconsistent."""
        reader = _Fields(data, "archive index")
        if reader.string("format") != FORMAT_NAME:
            raise ArchiveError(f"archive index has format {data.get('format')!r}")
        index = cls(
            version=reader.integer("version"),
            snapshot_name=reader.string("snapshotName"),
            cluster_name=reader.string("clusterName"),
            snapshot_resource_version=reader.string("snapshotResourceVersion"),
            snapshot_timestamp=reader.time("snapshotTimestamp"),
            counts=MappingProxyType(reader.counts("counts")),
            paths=reader.strings("paths"),
        )
        index.check(total=reader.integer("total"))
        return index

    @classmethod
    def from_json(cls, raw: bytes) -> ArchiveIndex:
        """Parse serialised JSON; ArchiveError if it is not a valid index."""
        return cls.from_dict(_load(raw, "archive index"))

    def check(self, *, total: int) -> None:
        """ArchiveError unless total, counts and sorted unique paths agree."""
        if self.version != FORMAT_VERSION:
            raise ArchiveError(f"unknown archive format version {self.version}")
        # strictly increasing is sorted and unique, checked without a sorted copy or a set
        # of every path (10 MB at 140,000 objects, at the peak of a restore's memory)
        if total != len(self.paths) or not all(a < b for a, b in itertools.pairwise(self.paths)):
            raise ArchiveError("archive index paths are not sorted, unique and counted")
        try:
            counts = count_paths(self.paths)
        except ValueError as error:
            raise ArchiveError(f"archive index holds a bad path: {error}") from None
        if counts != dict(self.counts):
            raise ArchiveError("archive index counts do not match its paths")


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordedSpec:
    """The Snapshot spec fields a StoredRecord keeps. Never the kubeconfig."""

    cluster_name: str
    ttl: str | None
    available_until: datetime | None
    objectstore_config: str
    #: The SnapshotSchedule that made the snapshot, "" for none (kept from its label, so a
    #: Snapshot recreated from the bucket still belongs to its schedule).
    schedule: str = ""

    @classmethod
    def from_snapshot_spec(cls, spec: Mapping[str, Any]) -> RecordedSpec:
        """Pick the recorded fields from a raw Snapshot ``spec``; ValueError on bad values."""
        return cls.from_dict(spec)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RecordedSpec:
        """Parse the JSON form (camelCase, like the Snapshot spec)."""
        ttl, until = data.get("ttl"), data.get("availableUntil")
        if ttl is not None:
            parse_duration(str(ttl))
        return cls(
            cluster_name=str(data.get("clusterName") or ""),
            ttl=None if ttl is None else str(ttl),
            available_until=None if until in (None, "") else parse_time(str(until)),
            objectstore_config=str(data.get("objectstoreConfig") or ""),
            schedule=str(data.get("schedule") or ""),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``schedule`` only when set, so older records read the same)."""
        until = self.available_until
        body: dict[str, Any] = {
            "clusterName": self.cluster_name,
            "ttl": self.ttl,
            "availableUntil": None if until is None else format_time(until),
            "objectstoreConfig": self.objectstore_config,
        }
        if self.schedule:
            body["schedule"] = self.schedule
        return body


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordedEncryption:
    """How an archive is encrypted: the format and its recipients' public keys (never a secret)."""

    format: str
    recipients: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"format": self.format, "recipients": list(self.recipients)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RecordedEncryption:
        """Parse the JSON form; ArchiveError if malformed."""
        fields = _Fields(data, "stored record encryption")
        return cls(format=fields.string("format"), recipients=fields.strings("recipients"))


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredRecord:
    """The object stored beside an archive: its index, checksum, size and Snapshot spec.

    ``sha256`` and ``size`` are the stored object's: the ciphertext's when
    ``encryption`` is set.
    """

    index: ArchiveIndex
    sha256: str
    size: int
    spec: RecordedSpec
    encryption: RecordedEncryption | None = None

    def to_json(self) -> bytes:
        """Serialised JSON (sorted keys)."""
        body = {
            "format": RECORD_FORMAT,
            "version": RECORD_VERSION,
            "archive": {"sha256": self.sha256, "size": self.size},
            "index": self.index.to_dict(),
            "spec": self.spec.to_dict(),
        }
        if self.encryption is not None:
            body["encryption"] = self.encryption.to_dict()
        return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)

    @classmethod
    def from_json(cls, raw: bytes) -> StoredRecord:
        """Parse a stored record; ArchiveError if it is malformed or of another version."""
        data = _load(raw, "stored record")
        fields = _Fields(data, "stored record")
        if fields.string("format") != RECORD_FORMAT or fields.integer("version") != RECORD_VERSION:
            raise ArchiveError(f"unknown stored record format {data.get('format')!r}")
        archive = _Fields(fields.mapping("archive"), "stored record archive")
        try:
            spec = RecordedSpec.from_dict(fields.mapping("spec"))
        except ValueError as error:
            raise ArchiveError(f"stored record spec: {error}") from None
        encryption = None
        if data.get("encryption") is not None:
            encryption = RecordedEncryption.from_dict(fields.mapping("encryption"))
        return cls(
            index=ArchiveIndex.from_dict(fields.mapping("index")),
            sha256=archive.string("sha256"),
            size=archive.integer("size"),
            spec=spec,
            encryption=encryption,
        )


def _load(raw: bytes, what: str) -> Mapping[str, Any]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise ArchiveError(f"{what} is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise ArchiveError(f"{what} is not a JSON object")
    return data


@dataclass(frozen=True, slots=True)
class _Fields:
    """Typed field access that reports a malformed document as ArchiveError."""

    data: Mapping[str, Any]
    what: str

    def _get(self, key: str, kind: type | tuple[type, ...]) -> Any:
        value = self.data.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ArchiveError(f"{self.what}: field {key!r} is missing or malformed")
        return value

    def string(self, key: str) -> str:
        return str(self._get(key, str))

    def integer(self, key: str) -> int:
        return int(self._get(key, int))

    def mapping(self, key: str) -> Mapping[str, Any]:
        value: Mapping[str, Any] = self._get(key, dict)
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        values = self._get(key, list)
        if not all(isinstance(v, str) for v in values):
            raise ArchiveError(f"{self.what}: field {key!r} must be a list of strings")
        return tuple(values)

    def counts(self, key: str) -> dict[str, int]:
        values = self.mapping(key)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values.values()):
            raise ArchiveError(f"{self.what}: field {key!r} must map to integers")
        return dict(values)

    def time(self, key: str) -> datetime:
        try:
            return parse_time(self.string(key))
        except ValueError as error:
            raise ArchiveError(f"{self.what}: field {key!r}: {error}") from None
