"""Archives and stores for restore unit tests; the API server is :mod:`k8ssnap.testing.apiserver`'s."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from k8ssnap.archive.index import SnapshotMeta
from k8ssnap.archive.writer import ArchiveWriter
from k8ssnap.store.snapshots import SnapshotStore
from k8ssnap.testing.apiserver import BUILTIN, FakeApiServer
from k8ssnap.testing.store import FakeObjectStore

T0 = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
META = SnapshotMeta(cluster_name="c", snapshot_resource_version="42", snapshot_timestamp=T0)


def archive(name: str, objects: list[tuple[str, dict[str, Any]]]) -> bytes:
    """A version-1 archive of ``objects`` (path, object), as the snapshot engine writes it."""
    writer = ArchiveWriter(snapshot_name=name, mtime=T0)
    out = b"".join(writer.add(path, orjson.dumps(obj)) for path, obj in objects)
    return out + writer.finish(META)


def store(name: str, data: bytes, *, chunk: int = 97) -> SnapshotStore:
    """A snapshot store holding ``data`` as snapshot ``name``'s archive, read in small chunks."""
    return SnapshotStore(FakeObjectStore(objects={f"{name}.tgz": data}, chunk=chunk))


__all__ = ["BUILTIN", "FakeApiServer"]
