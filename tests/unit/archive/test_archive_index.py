"""ArchiveIndex and StoredRecord JSON, and the kubeconfig never being recorded."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from k8ssnap.archive.index import (
    ArchiveIndex,
    RecordedSpec,
    SnapshotMeta,
    StoredRecord,
    count_key,
    count_paths,
)
from k8ssnap.errors import ArchiveError

T0 = datetime(2019, 5, 20, 3, 45, 8, tzinfo=UTC)
PATHS = ["/apis/apps/v1/namespaces/a/deployments/d", "/api/v1/namespaces/a", "/api/v1/namespaces/a/pods/p"]
INDEX = ArchiveIndex.build(
    snapshot_name="cluster01-001",
    meta=SnapshotMeta(cluster_name="cluster01", snapshot_resource_version="42", snapshot_timestamp=T0),
    paths=PATHS,
)


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/api/v1/namespaces/a", "v1/namespaces"),
        ("/api/v1/namespaces/a/pods/p", "v1/pods"),
        ("/apis/apps/v1/namespaces/a/deployments/d", "apps/v1/deployments"),
        ("/apis/rbac.authorization.k8s.io/v1/clusterroles/x", "rbac.authorization.k8s.io/v1/clusterroles"),
    ],
)
def test_count_key(path: str, key: str) -> None:
    assert count_key(path) == key


def test_count_paths_sorted() -> None:
    assert list(count_paths([*PATHS, "/api/v1/namespaces/b/pods/q"]).items()) == [
        ("apps/v1/deployments", 1),
        ("v1/namespaces", 1),
        ("v1/pods", 2),
    ]


def test_index_json() -> None:
    document = orjson.loads(INDEX.to_json())
    assert document == {
        "format": "k8ssnap-archive",
        "version": 1,
        "snapshotName": "cluster01-001",
        "clusterName": "cluster01",
        "snapshotResourceVersion": "42",
        "snapshotTimestamp": "2019-05-20T03:45:08Z",
        "counts": {"apps/v1/deployments": 1, "v1/namespaces": 1, "v1/pods": 1},
        "total": 3,
        "paths": sorted(PATHS),
    }
    assert ArchiveIndex.from_json(INDEX.to_json()) == INDEX


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "tarball"}, "format"),
        ({"version": 2}, "version 2"),
        ({"version": True}, "version"),
        ({"clusterName": 7}, "clusterName"),
        ({"snapshotTimestamp": "yesterday"}, "snapshotTimestamp"),
        ({"paths": ["/api/v1/namespaces/a"]}, "counted"),
        ({"paths": list(reversed(sorted(PATHS)))}, "sorted"),
        ({"paths": [sorted(PATHS)[0], *sorted(PATHS)[:2]]}, "unique"),  # a duplicate, still in order
        ({"paths": [*sorted(PATHS)[:2], "/nope"]}, "bad path"),
        ({"counts": {"v1/pods": 3}}, "counts"),
        ({"counts": {"v1/pods": "3"}}, "integers"),
        ({"paths": [1, 2, 3]}, "list of strings"),
    ],
)
def test_index_rejects(change: dict[str, Any], message: str) -> None:
    document = {**INDEX.to_dict(), **change}
    with pytest.raises(ArchiveError, match=message):
        ArchiveIndex.from_json(orjson.dumps(document))


def test_index_rejects_non_json() -> None:
    with pytest.raises(ArchiveError, match="not JSON"):
        ArchiveIndex.from_json(b"{")


SNAPSHOT_SPEC = {
    "clusterName": "cluster01",
    "kubeconfig": "apiVersion: v1\nusers:\n- user:\n    token: SECRET-TOKEN\n",
    "ttl": "720h",
    "availableUntil": "2020-07-01T02:03:04Z",
    "objectstoreConfig": "k8s-snap-ap-northeast-1",
}


def test_recorded_spec_never_holds_the_kubeconfig() -> None:
    spec = RecordedSpec.from_snapshot_spec(SNAPSHOT_SPEC)
    record = StoredRecord(index=INDEX, sha256="ab" * 32, size=1234, spec=spec)
    raw = record.to_json()
    assert b"SECRET-TOKEN" not in raw
    assert b"kubeconfig" not in raw
    assert not hasattr(spec, "kubeconfig")


def test_stored_record_round_trip() -> None:
    spec = RecordedSpec.from_snapshot_spec(SNAPSHOT_SPEC)
    record = StoredRecord(index=INDEX, sha256="ab" * 32, size=1234, spec=spec)
    document = orjson.loads(record.to_json())
    assert document["format"] == "k8ssnap-record"
    assert document["archive"] == {"sha256": "ab" * 32, "size": 1234}
    assert document["spec"] == {
        "clusterName": "cluster01",
        "ttl": "720h",
        "availableUntil": "2020-07-01T02:03:04Z",
        "objectstoreConfig": "k8s-snap-ap-northeast-1",
    }
    assert document["index"]["paths"] == sorted(PATHS)
    assert StoredRecord.from_json(record.to_json()) == record
    assert record.to_json() == StoredRecord.from_json(record.to_json()).to_json()


def test_recorded_spec_keeps_the_schedule_and_older_records_have_none() -> None:
    spec = RecordedSpec.from_snapshot_spec({"clusterName": "c", "objectstoreConfig": "o"})
    assert spec.schedule == ""
    assert "schedule" not in spec.to_dict()
    scheduled = RecordedSpec.from_dict({**spec.to_dict(), "schedule": "nightly"})
    assert scheduled.schedule == "nightly"
    assert RecordedSpec.from_dict(scheduled.to_dict()) == scheduled


def test_recorded_spec_optional_fields() -> None:
    spec = RecordedSpec.from_snapshot_spec({"clusterName": "c", "objectstoreConfig": "o"})
    assert (spec.ttl, spec.available_until) == (None, None)
    assert spec.to_dict() == {
        "clusterName": "c",
        "ttl": None,
        "availableUntil": None,
        "objectstoreConfig": "o",
    }


@pytest.mark.parametrize("spec", [{"ttl": "forever"}, {"availableUntil": "someday"}])
def test_recorded_spec_rejects_bad_values(spec: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        RecordedSpec.from_snapshot_spec(spec)


@pytest.mark.parametrize(
    "change",
    [
        {"format": "other"},
        {"version": 2},
        {"archive": {"sha256": "x"}},
        {"spec": {"ttl": "bad"}},
        {"index": {}},
    ],
)
def test_stored_record_rejects(change: dict[str, Any]) -> None:
    record = StoredRecord(
        index=INDEX, sha256="ab" * 32, size=1, spec=RecordedSpec.from_snapshot_spec(SNAPSHOT_SPEC)
    )
    document = {**orjson.loads(record.to_json()), **change}
    with pytest.raises(ArchiveError):
        StoredRecord.from_json(orjson.dumps(document))
