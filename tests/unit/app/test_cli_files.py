"""The local archive store, and show/get on a local archive through ``main`` (no S3, no cluster)."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import orjson
import pytest
import yaml

from k8ssnap import errors
from k8ssnap.app import cli
from k8ssnap.app.cli_files import LocalArchiveStore, record_path
from k8ssnap.archive.index import RecordedSpec, SnapshotMeta, StoredRecord
from k8ssnap.archive.writer import ArchiveWriter
from k8ssnap.store import layout

T0 = dt.datetime(2026, 11, 21, 1, 39, 2, tzinfo=dt.UTC)
CM = "/api/v1/namespaces/app/configmaps/settings"
OBJECTS = {
    "/api/v1/namespaces/app": {"metadata": {"name": "app"}, "apiVersion": "v1", "kind": "Namespace"},
    CM: {
        "metadata": {"name": "settings", "namespace": "app", "uid": "u-1", "resourceVersion": "7"},
        "data": {"conf": "a = 1\nb = 2\n"},
        "apiVersion": "v1",
        "kind": "ConfigMap",
    },
    "/apis/apps/v1/namespaces/app/deployments/web": {
        "metadata": {"name": "web", "namespace": "app"},
        "apiVersion": "apps/v1",
        "kind": "Deployment",
    },
    "/api/v1/persistentvolumes/pv-1": {
        "metadata": {"name": "pv-1"},
        "apiVersion": "v1",
        "kind": "PersistentVolume",
    },
}


def write_archive(path: Path, *, name: str = "snap-1", record: bool = True) -> StoredRecord:
    writer = ArchiveWriter(snapshot_name=name, mtime=T0)
    data = b"".join(writer.add(p, orjson.dumps(obj)) for p, obj in OBJECTS.items())
    data += writer.finish(
        SnapshotMeta(cluster_name="prod", snapshot_resource_version="42", snapshot_timestamp=T0)
    )
    path.write_bytes(data)
    spec = RecordedSpec(cluster_name="prod", ttl=None, available_until=None, objectstore_config="")
    stored = StoredRecord(index=writer.index, sha256=writer.sha256, size=writer.size, spec=spec)
    if record:
        record_path(path).write_bytes(stored.to_json())
    return stored


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return cli.main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


# -- the store --------------------------------------------------------------------


async def test_upload_is_invisible_until_complete(tmp_path: Path) -> None:
    store = LocalArchiveStore(tmp_path / "out.tgz")
    upload = store.upload(layout.archive_key("any-name"), metadata={})
    await upload.write(b"abc")
    await upload.write(b"def")
    assert not store.archive.exists()
    stored = await upload.complete()
    assert (stored.size, store.archive.read_bytes()) == (6, b"abcdef")
    assert store.archive.stat().st_mode & 0o077 == 0  # the cluster's Secrets: owner only
    assert [p.name for p in tmp_path.iterdir()] == ["out.tgz"]


async def test_abort_leaves_nothing_behind(tmp_path: Path) -> None:
    store = LocalArchiveStore(tmp_path / "out.tgz")
    upload = store.upload("out.tgz", metadata={})
    await upload.write(b"partial")
    await upload.abort()
    assert list(tmp_path.iterdir()) == []


async def test_keys_map_to_the_archive_and_its_record(tmp_path: Path) -> None:
    store = LocalArchiveStore(tmp_path / "x.tgz")
    await store.put(layout.record_key("whatever", prefix="p/"), b"{}", metadata={})
    await store.put("snap.tgz", b"archive", metadata={})
    assert (tmp_path / "x.tgz.record.json").read_bytes() == b"{}"
    assert await store.get("other-name.tgz") == b"archive"
    assert (await store.head("x.tgz")).size == 7
    assert sorted(o.key for o in [o async for o in store.list("")]) == ["x.tgz", "x.tgz.record.json"]
    await store.delete("x.tgz.record.json")
    with pytest.raises(errors.ObjectMissing):
        await store.get("x.tgz.record.json")
    with pytest.raises(errors.StorePermanent, match="only an archive and its record"):
        await store.head("notes.txt")


async def test_missing_folder_fails_the_check(tmp_path: Path) -> None:
    with pytest.raises(errors.StorePermanent, match="does not exist"):
        await LocalArchiveStore(tmp_path / "no" / "x.tgz").check()


# -- show and get through main ---------------------------------------------------------


def test_show_counts_and_checks_a_local_archive(tmp_path: Path) -> None:
    archive = tmp_path / "snap.tgz"
    stored = write_archive(archive)
    code, out, err = run("show", "--file", str(archive))
    assert (code, err) == (0, "")
    assert "snapshot:  snap-1" in out
    assert "cluster:   prod" in out
    assert "taken:     2026-11-21T01:39:02Z at resourceVersion 42" in out
    assert f"sha256 {stored.sha256}, matches its record" in out
    rows = [line.split() for line in out.split("\n\n", 1)[1].splitlines()]
    assert rows == [
        ["NAMESPACE", "KIND", "OBJECTS"],
        ["(cluster)", "persistentvolumes", "1"],
        ["app", "configmaps", "1"],
        ["app", "deployments.apps", "1"],
        ["app", "namespaces", "1"],
        ["TOTAL", "4"],
    ]


def test_show_fails_when_the_archive_does_not_match_its_record(tmp_path: Path) -> None:
    archive = tmp_path / "snap.tgz"
    write_archive(archive)
    write_archive(tmp_path / "other.tgz", name="snap-2", record=False)
    archive.write_bytes((tmp_path / "other.tgz").read_bytes())  # record of one, archive of another
    code, out, err = run("show", "--file", str(archive), "--by", "namespace")
    assert code == 1
    assert out == ""
    assert "does not match its record" in err


def test_show_of_a_truncated_archive_fails(tmp_path: Path) -> None:
    archive = tmp_path / "snap.tgz"
    write_archive(archive, record=False)
    archive.write_bytes(archive.read_bytes()[:-20])
    code, _, err = run("show", "--file", str(archive))
    assert code == 1
    assert "truncated" in err


def test_show_without_record(tmp_path: Path) -> None:
    archive = tmp_path / "snap.tgz"
    write_archive(archive, record=False)
    code, out, _ = run("show", "--file", str(archive), "--by", "kind")
    assert code == 0
    assert "no record to check it against" in out


def test_get_prints_one_object_as_yaml(tmp_path: Path) -> None:
    archive = tmp_path / "snap.tgz"
    write_archive(archive)
    code, out, _ = run("get", "--file", str(archive), CM)
    assert code == 0
    assert out.startswith("apiVersion: v1\nkind: ConfigMap\n")
    assert "  conf: |\n    a = 1\n    b = 2\n" in out
    assert yaml.safe_load(out) == OBJECTS[CM]


def test_get_restored_drops_server_set_fields(tmp_path: Path) -> None:
    archive = tmp_path / "snap.tgz"
    write_archive(archive)
    code, out, _ = run("get", "--file", str(archive), CM, "--restored", "-o", "json")
    assert code == 0
    assert orjson.loads(out)["metadata"] == {"name": "settings", "namespace": "app"}


@pytest.mark.parametrize("record", [True, False])
def test_get_of_an_object_not_in_the_snapshot_fails_with_a_hint(tmp_path: Path, record: bool) -> None:
    archive = tmp_path / "snap.tgz"
    write_archive(archive, record=record)
    code, out, err = run("get", "--file", str(archive), "/api/v1/namespaces/app/configmaps/setting")
    assert (code, out) == (1, "")
    assert "/api/v1/namespaces/app/configmaps/setting is not in snapshot" in err
    if record:
        assert f"did you mean {CM}?" in err


def test_missing_local_archive_fails(tmp_path: Path) -> None:
    code, _, err = run("show", "--file", str(tmp_path / "nothing.tgz"))
    assert code == 1
    assert f"no archive at {tmp_path / 'nothing.tgz'}" in err
