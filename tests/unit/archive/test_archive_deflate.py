"""ISA-L and zlib archives are the same archive: any gzip reader reads both, batches equal single adds."""

from __future__ import annotations

import gzip
import io
import tarfile
from datetime import UTC, datetime

import orjson
import pytest

from k8ssnap.archive.index import SnapshotMeta
from k8ssnap.archive.reader import ArchiveReader
from k8ssnap.archive.writer import ArchiveWriter, deflater

T0 = datetime(2026, 11, 29, 18, 0, 0, tzinfo=UTC)
META = SnapshotMeta(cluster_name="c", snapshot_resource_version="7", snapshot_timestamp=T0)
ITEMS = [
    (
        f"/api/v1/namespaces/ns-{i % 7}/configmaps/cm-{i}",
        orjson.dumps({"kind": "ConfigMap", "data": {"i": str(i) * 50}}),
    )
    for i in range(3000)
]


def _by_add(level: int) -> bytes:
    writer = ArchiveWriter(snapshot_name="s", mtime=T0, level=level)
    return b"".join(writer.add(path, body) for path, body in ITEMS) + writer.finish(META)


def _by_batches(level: int) -> bytes:
    writer = ArchiveWriter(snapshot_name="s", mtime=T0, level=level)
    out = [writer.compress(writer.encode(ITEMS[i : i + 500])) for i in range(0, len(ITEMS), 500)]
    return b"".join(out) + writer.finish(META)


@pytest.mark.parametrize("level", [1, 6, 9])
def test_every_level_gives_the_same_tar_to_gzip_tarfile_and_our_reader(level: int) -> None:
    reference = gzip.decompress(_by_add(9))  # zlib: what the writer produced before ISA-L
    for data in (_by_add(level), _by_batches(level)):
        assert gzip.decompress(data) == reference
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            assert len(tar.getnames()) == len(ITEMS) + 2  # the marker and the index
        reader = ArchiveReader()
        entries = reader.feed(data)
        reader.close()
        assert [(e.path, e.body) for e in entries] == ITEMS


@pytest.mark.parametrize(("level", "xfl"), [(1, 4), (6, 0), (9, 2)])
def test_the_gzip_header_is_zlibs(level: int, xfl: int) -> None:
    header = deflater(level).compress(b"x")[:10]
    assert header == b"\x1f\x8b\x08\x00\x00\x00\x00\x00" + bytes([xfl, 3])


@pytest.mark.parametrize("level", [0, 10, -1])
def test_levels_outside_1_to_9_are_refused(level: int) -> None:
    with pytest.raises(ValueError, match="1 to 9"):
        deflater(level)


def test_a_bad_path_in_a_batch_records_nothing_of_it() -> None:
    writer = ArchiveWriter(snapshot_name="s", mtime=T0)
    good = ITEMS[0]
    with pytest.raises(ValueError):
        writer.encode([good, ("/api/v1/namespaces/ns/configmaps/..", b"{}")])
    with pytest.raises(ValueError, match="duplicate"):
        writer.encode([ITEMS[1], ITEMS[1]])
    assert writer.count == 0
    writer.compress(writer.encode([good]))
    assert writer.count == 1
