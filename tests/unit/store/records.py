"""A small valid StoredRecord for tests."""

from __future__ import annotations

import datetime as dt

from k8ssnap.archive.index import ArchiveIndex, RecordedSpec, SnapshotMeta, StoredRecord


def plain_record() -> StoredRecord:
    meta = SnapshotMeta(
        cluster_name="a",
        snapshot_resource_version="42",
        snapshot_timestamp=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )
    index = ArchiveIndex.build(snapshot_name="s", meta=meta, paths=["/api/v1/namespaces/default"])
    spec = RecordedSpec(cluster_name="a", ttl=None, available_until=None, objectstore_config="")
    return StoredRecord(index=index, sha256="ab" * 32, size=10, spec=spec)
