"""ArchiveWriter -> ArchiveReader: round trips, checksums, determinism, damage, legacy."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime

import orjson
import pytest

from k8ssnap.archive.index import SnapshotMeta
from k8ssnap.archive.reader import ArchiveReader, Entry, ReadSummary
from k8ssnap.archive.writer import ArchiveWriter
from k8ssnap.errors import ArchiveError

T0 = datetime(2019, 5, 20, 3, 45, 8, tzinfo=UTC)
META = SnapshotMeta(cluster_name="cluster01", snapshot_resource_version="4521912", snapshot_timestamp=T0)
LONG = "a-rather-long-name-that-pushes-the-entry-name-well-past-one-hundred-bytes-" * 2


def objects(count: int) -> list[tuple[str, bytes]]:
    """A mix of core, grouped, cluster-scoped and long-named objects."""
    result: list[tuple[str, bytes]] = [("/api/v1/namespaces/ns-0", b'{"kind":"Namespace"}')]
    for i in range(count - 1):
        kind = i % 4
        if kind == 0:
            path = f"/api/v1/namespaces/ns-{i % 7}/configmaps/cm-{i}"
        elif kind == 1:
            path = f"/apis/apps/v1/namespaces/ns-{i % 7}/deployments/{LONG}{i}"
        elif kind == 2:
            path = f"/apis/rbac.authorization.k8s.io/v1/clusterroles/system:role-{i}"
        else:
            path = f"/api/v1/persistentvolumes/pv-{i}"
        body = orjson.dumps({"metadata": {"name": path.rsplit("/", 1)[1]}, "data": "x" * (i % 700)})
        result.append((path, body))
    return result


def write(items: Iterable[tuple[str, bytes]], *, name: str = "snap-1") -> tuple[bytes, ArchiveWriter]:
    writer = ArchiveWriter(snapshot_name=name, mtime=T0)
    out = bytearray()
    for path, body in items:
        out += writer.add(path, body)
    out += writer.finish(META)
    return bytes(out), writer


def read(data: bytes, chunk: int | None = None) -> tuple[list[Entry], ReadSummary]:
    reader = ArchiveReader()
    step = chunk or max(len(data), 1)
    entries: list[Entry] = []
    for start in range(0, len(data), step):
        entries += reader.feed(data[start : start + step])
    return entries, reader.close()


def gzip_tar(members: Iterable[tuple[str, bytes]], *, fmt: int = tarfile.PAX_FORMAT) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=fmt) as tar:
        for name, body in members:
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return gzip.compress(raw.getvalue(), mtime=0)


MARKER = ("snap-1/k8ssnap-format.json", b'{"format":"k8ssnap-archive","version":1}')


@pytest.mark.parametrize("chunk", [1, 7, 4096, None])
def test_round_trip_in_odd_chunks(chunk: int | None) -> None:
    items = objects(400 if chunk != 1 else 120)
    data, writer = write(items)
    entries, summary = read(data, chunk)
    assert [(e.path, e.body) for e in entries] == items
    assert summary.sha256 == hashlib.sha256(data).hexdigest() == writer.sha256
    assert summary.size == len(data) == writer.size
    assert summary.version == 1
    assert summary.snapshot_name == "snap-1"
    assert summary.count == len(items)
    assert summary.index == writer.index
    assert summary.index is not None
    assert summary.index.paths == tuple(sorted(p for p, _ in items))
    assert summary.counts == dict(summary.index.counts)


def test_writer_streams_output_incrementally() -> None:
    """Compressed bytes leave with add(), in small pieces, long before finish()."""
    writer = ArchiveWriter(snapshot_name="snap-1", mtime=T0)
    noise = [b"".join(hashlib.sha256(f"{i}-{j}".encode()).digest() for j in range(16)) for i in range(2000)]
    outputs = [writer.add(f"/api/v1/namespaces/ns/secrets/s-{i}", n) for i, n in enumerate(noise)]
    last = writer.finish(META)
    streamed = sum(len(out) for out in outputs)
    assert streamed > 0.9 * (streamed + len(last))
    assert sum(1 for out in outputs if out) > 10
    assert max(len(out) for out in outputs) < 128 * 1024


def test_index_contents() -> None:
    _, writer = write(
        [
            ("/apis/apps/v1/namespaces/a/deployments/d", b"{}"),
            ("/api/v1/namespaces/a", b"{}"),
            ("/api/v1/namespaces/a/pods/p", b"{}"),
            ("/api/v1/namespaces/b/pods/p", b"{}"),
        ]
    )
    index = writer.index
    assert index.paths == (
        "/api/v1/namespaces/a",
        "/api/v1/namespaces/a/pods/p",
        "/api/v1/namespaces/b/pods/p",
        "/apis/apps/v1/namespaces/a/deployments/d",
    )
    assert dict(index.counts) == {"apps/v1/deployments": 1, "v1/namespaces": 1, "v1/pods": 2}
    assert index.total == 4
    assert (index.snapshot_name, index.cluster_name) == ("snap-1", "cluster01")
    assert (index.snapshot_resource_version, index.snapshot_timestamp) == ("4521912", T0)
    assert writer.count == 4


def test_output_is_deterministic() -> None:
    items = objects(200)
    first, _ = write(items)
    second, _ = write(items)
    assert first == second
    different, _ = write(items[:-1])
    assert different != first


def test_entries_are_plain_tar_with_fixed_metadata() -> None:
    data, _ = write([("/api/v1/namespaces/foo", b'{"a":1}'), (f"/api/v1/namespaces/foo/pods/{LONG}", b"{}")])
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == [
            "snap-1/k8ssnap-format.json",
            "snap-1/api/v1/namespaces/foo.json",
            f"snap-1/api/v1/namespaces/foo/pods/{LONG}.json",
            "snap-1/index.json",
        ]
        for member in members:
            assert (member.mode, member.uid, member.gid, member.uname, member.gname) == (0o644, 0, 0, "", "")
            assert member.mtime == int(T0.timestamp())
        marker = tar.extractfile(members[0])
        assert marker is not None
        assert orjson.loads(marker.read()) == {"format": "k8ssnap-archive", "version": 1}
    assert data[:2] == b"\x1f\x8b"


def test_empty_snapshot_round_trips() -> None:
    data, writer = write([])
    entries, summary = read(data)
    assert entries == []
    assert summary.count == 0
    assert writer.index.paths == ()


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/api/v1/pods", ValueError),
        ("api/v1/namespaces/foo", ValueError),
        ("/api/v1/namespaces/foo/pods/x/status", ValueError),
    ],
)
def test_writer_rejects_bad_paths(path: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        ArchiveWriter(snapshot_name="s", mtime=T0).add(path, b"{}")


def test_writer_misuse() -> None:
    writer = ArchiveWriter(snapshot_name="s", mtime=T0)
    writer.add("/api/v1/namespaces/a", b"{}")
    with pytest.raises(ValueError, match="duplicate"):
        writer.add("/api/v1/namespaces/a", b"{}")
    with pytest.raises(RuntimeError):
        _ = writer.index
    writer.finish(META)
    with pytest.raises(RuntimeError):
        writer.add("/api/v1/namespaces/b", b"{}")
    with pytest.raises(RuntimeError):
        writer.finish(META)
    for bad in ("", "a/b", "UPPER", "-x"):
        with pytest.raises(ValueError):
            ArchiveWriter(snapshot_name=bad, mtime=T0)
    with pytest.raises(ValueError):
        ArchiveWriter(snapshot_name="s", mtime=datetime(2019, 1, 1))


# --- damaged input ---------------------------------------------------------

GOOD, _ = write(objects(50))


@pytest.mark.parametrize("cut", [1, 10, len(GOOD) // 3, len(GOOD) // 2, len(GOOD) - 9, len(GOOD) - 1])
def test_truncation_raises(cut: int) -> None:
    with pytest.raises(ArchiveError):
        read(GOOD[:cut], 7)


@pytest.mark.parametrize("position", [0, 3, 40, len(GOOD) // 2, len(GOOD) - 6])
def test_corruption_raises(position: int) -> None:
    damaged = bytearray(GOOD)
    damaged[position] ^= 0x55
    with pytest.raises(ArchiveError):
        read(bytes(damaged))


@pytest.mark.parametrize("garbage", [b"x", b"\x00" * 10, GOOD])
def test_trailing_data_after_gzip_raises(garbage: bytes) -> None:
    with pytest.raises(ArchiveError, match="trailing"):
        read(GOOD + garbage, 1000)


def test_trailing_data_after_tar_end_raises() -> None:
    tail = zlib.decompress(GOOD, wbits=31) + b"junk"
    with pytest.raises(ArchiveError, match="trailing"):
        read(gzip.compress(tail, mtime=0))


def test_empty_input_raises() -> None:
    with pytest.raises(ArchiveError, match="empty"):
        ArchiveReader().close()


def test_not_gzip_raises() -> None:
    with pytest.raises(ArchiveError, match="gzip"):
        read(b"PK\x03\x04 this is a zip file")


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([("snap-1/k8ssnap-format.json", b'{"format":"k8ssnap-archive","version":2}')], "version 2"),
        ([("snap-1/k8ssnap-format.json", b'{"format":"something-else","version":1}')], "marker"),
        ([("snap-1/k8ssnap-format.json", b"not json")], "marker"),
        ([MARKER, ("snap-1/api/v1/namespaces/a.json", b"{}")], "no index"),
        ([MARKER, ("other/api/v1/namespaces/a.json", b"{}")], "outside"),
        ([MARKER, ("snap-1/api/v1/namespaces/a/pods.json", b"{}")], "not an object path"),
        ([MARKER, ("snap-1/notes.txt", b"hi")], "unexpected"),
        ([MARKER, ("toplevel.json", b"{}")], "snapshot directory"),
        ([], "no entries"),
    ],
)
def test_invalid_archives_raise(members: list[tuple[str, bytes]], message: str) -> None:
    with pytest.raises(ArchiveError, match=message):
        read(gzip_tar(members))


def _index(paths: list[str], **overrides: object) -> bytes:
    _, writer = write([(p, b"{}") for p in paths])
    document = writer.index.to_dict()
    document.update(overrides)
    return orjson.dumps(document)


@pytest.mark.parametrize(
    ("index", "after", "message"),
    [
        (_index(["/api/v1/namespaces/b"]), [], "does not match"),
        (_index(["/api/v1/namespaces/a"], version=3), [], "version 3"),
        (_index(["/api/v1/namespaces/a"], total=5), [], "counted"),
        (_index(["/api/v1/namespaces/a"], snapshotName="snap-2"), [], "names snapshot"),
        (_index(["/api/v1/namespaces/a"]), [("snap-1/api/v1/namespaces/z.json", b"{}")], "follows the index"),
        (b"[]", [], "not a JSON object"),
    ],
)
def test_index_problems_raise(index: bytes, after: list[tuple[str, bytes]], message: str) -> None:
    members = [MARKER, ("snap-1/api/v1/namespaces/a.json", b"{}"), ("snap-1/index.json", index), *after]
    with pytest.raises(ArchiveError, match=message):
        read(gzip_tar(members))


def test_oversized_entry_raises() -> None:
    reader = ArchiveReader(max_entry_size=1000)
    data, _ = write([("/api/v1/namespaces/a", b"x" * 2000)])
    with pytest.raises(ArchiveError, match="too large"):
        reader.feed(data)


# --- k8s-snap (version 0) archives -----------------------------------------

CRD_V1BETA1 = orjson.dumps({"apiVersion": "apiextensions.k8s.io/v1beta1", "kind": "CustomResourceDefinition"})
LEGACY = [
    ("cluster01-001/namespaces/default.json", b'{"kind":"Namespace"}'),
    ("cluster01-001/crds/widgets.example.com.json", CRD_V1BETA1),
    ("cluster01-001/api/v1/namespaces/default/configmaps/cfg.json", b"{}"),
    (f"cluster01-001/apis/apps/v1/namespaces/default/deployments/{LONG}.json", b"{}"),
    ("cluster01-001/snapshot.json", b'{"spec":{"kubeconfig":"SECRET"}}'),
]


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_legacy_archives_are_read(fmt: int) -> None:
    members = LEGACY if fmt != tarfile.USTAR_FORMAT else [m for m in LEGACY if LONG not in m[0]]
    entries, summary = read(gzip_tar(members, fmt=fmt), 13)
    paths = [e.path for e in entries]
    expected = [
        "/api/v1/namespaces/default",
        "/apis/apiextensions.k8s.io/v1beta1/customresourcedefinitions/widgets.example.com",
        "/api/v1/namespaces/default/configmaps/cfg",
        f"/apis/apps/v1/namespaces/default/deployments/{LONG}",
    ]
    assert paths == expected[: len(paths)]
    assert len(paths) == len(members) - 1
    assert all(b"SECRET" not in e.body for e in entries)  # snapshot.json is never surfaced
    assert (summary.version, summary.snapshot_name, summary.index) == (0, "cluster01-001", None)


def test_legacy_crd_without_api_version_raises() -> None:
    with pytest.raises(ArchiveError, match="CustomResourceDefinition"):
        read(gzip_tar([("s/crds/x.example.com.json", b'{"kind":"CustomResourceDefinition"}')]))


def test_v1_reader_accepts_legacy_names_too() -> None:
    members = [
        MARKER,
        ("snap-1/namespaces/a.json", b"{}"),
        ("snap-1/index.json", _index(["/api/v1/namespaces/a"])),
    ]
    entries, summary = read(gzip_tar(members))
    assert [e.path for e in entries] == ["/api/v1/namespaces/a"]
    assert summary.version == 1


def test_feed_after_close_is_refused() -> None:
    reader = ArchiveReader()
    reader.feed(GOOD)
    reader.close()
    with pytest.raises(RuntimeError):
        reader.feed(b"")
