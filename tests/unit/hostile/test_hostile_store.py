"""Hostile and failing object stores (issue 11, faults 2, 8 and 17, and the size check before Completed).

:class:`ScriptedS3` stands in for aiobotocore's S3 client below a real
:class:`~k8ssnap.store.s3.S3Store` and :class:`~k8ssnap.store.multipart.MultipartUpload`:
it keeps uploads, parts and objects in dicts, and scripts make it fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from k8ssnap import errors, limits, retry
from k8ssnap.archive.index import RecordedSpec
from k8ssnap.snapshot.engine import SnapshotEngine, SnapshotJob
from k8ssnap.store.multipart import MIN_PART, MultipartUpload
from k8ssnap.store.s3 import S3Settings, S3Store
from k8ssnap.store.snapshots import SnapshotStore
from k8ssnap.testing.apiserver import FakeApiServer
from k8ssnap.testing.store import FakeObjectStore

KEY = "snap.tgz"
FAST = retry.Backoff(initial=0.001, cap=0.01, max_elapsed=0.2)
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "op")


class ScriptedS3:
    """The calls S3Store and MultipartUpload make, on dicts.

    ``part_errors[n]`` are raised by part n's first attempts, one each, in
    order; ``broken_parts[n]`` is raised by every attempt at part n.
    """

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.uploads: dict[str, tuple[str, dict[int, bytes]]] = {}
        self.part_errors: dict[int, list[Exception]] = {}
        self.broken_parts: dict[int, Exception] = {}
        self.completed: list[int] | None = None
        self.aborted: list[str] = []
        self.deleted: list[str] = []
        self.size_skew = 0
        self.unreachable = False
        self.page_size = 1000
        self._ids = 0

    async def create_multipart_upload(self, *, Bucket: str, Key: str, Metadata: Any) -> dict[str, Any]:
        self._ids += 1
        upload_id = f"u{self._ids}"
        self.uploads[upload_id] = (Key, {})
        return {"UploadId": upload_id}

    async def upload_part(self, *, UploadId: str, PartNumber: int, Body: bytes, **_: Any) -> dict[str, Any]:
        await asyncio.sleep(0)
        if PartNumber in self.broken_parts:
            raise self.broken_parts[PartNumber]
        if self.part_errors.get(PartNumber):
            raise self.part_errors[PartNumber].pop(0)
        self.uploads[UploadId][1][PartNumber] = Body
        return {"ETag": f"etag-{PartNumber}"}

    async def complete_multipart_upload(
        self, *, Key: str, UploadId: str, MultipartUpload: Any, **_: Any
    ) -> None:
        numbers = [part["PartNumber"] for part in MultipartUpload["Parts"]]
        self.completed = numbers
        _, parts = self.uploads.pop(UploadId)
        self.objects[Key] = b"".join(parts[n] for n in numbers)

    async def abort_multipart_upload(self, *, UploadId: str, **_: Any) -> None:
        self.aborted.append(UploadId)
        self.uploads.pop(UploadId, None)

    async def list_multipart_uploads(self, *, Prefix: str, **kwargs: Any) -> dict[str, Any]:
        """One page of ``page_size`` uploads, in S3's order (key, then upload id)."""
        found = sorted((k, i) for i, (k, _) in self.uploads.items() if k.startswith(Prefix))
        marker = (kwargs.get("KeyMarker") or "", kwargs.get("UploadIdMarker") or "")
        after = [(k, i) for k, i in found if (k, i) > marker] if marker[0] else found
        page = after[: self.page_size]
        truncated = len(after) > len(page)
        more = {"NextKeyMarker": page[-1][0], "NextUploadIdMarker": page[-1][1]} if truncated else {}
        uploads = [{"Key": k, "UploadId": i, "Initiated": T0} for k, i in page]
        return {"Uploads": uploads, "IsTruncated": truncated, **more}

    async def put_object(self, *, Key: str, Body: bytes, **_: Any) -> None:
        self.objects[Key] = Body

    async def head_object(self, *, Key: str, **_: Any) -> dict[str, Any]:
        if Key not in self.objects:
            raise client_error("404", 404)
        return {"ContentLength": len(self.objects[Key]) + self.size_skew, "LastModified": T0, "Metadata": {}}

    async def delete_object(self, *, Key: str, **_: Any) -> None:
        self.deleted.append(Key)
        self.objects.pop(Key, None)

    async def get_object(self, *, Key: str, **_: Any) -> dict[str, Any]:
        raise EndpointConnectionError(endpoint_url="http://s3.invalid")


def store(client: ScriptedS3) -> S3Store:
    settings = S3Settings(endpoint="s3.invalid", bucket="b", access_key="a", secret_key="s")
    return S3Store(settings, client, contextlib.AsyncExitStack(), backoff=FAST)


def upload(client: ScriptedS3, *, max_in_flight: int = 2) -> MultipartUpload:
    return MultipartUpload(
        client=client,
        store=store(client),
        key=KEY,
        metadata={},
        part_size=MIN_PART,
        max_in_flight=max_in_flight,
    )


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(client_error("AccessDenied", 403), id="permanent"),
        pytest.param(client_error("InternalError", 500), id="retriable-past-the-budget"),
    ],
)
async def test_fault_2_failed_part_fails_the_upload(failure: Exception) -> None:
    client = ScriptedS3()
    client.broken_parts[2] = failure
    parts = upload(client, max_in_flight=1)  # part 2 has failed before part 3 starts
    with pytest.raises(errors.StoreError):
        for number in range(1, 5):
            await parts.write(bytes([number]) * MIN_PART)
        await parts.complete()
    assert client.completed is None, f"completed with parts {client.completed}"
    assert KEY not in client.objects
    assert client.aborted == ["u1"]


async def test_fault_2_a_part_that_succeeds_on_retry_still_completes() -> None:
    client = ScriptedS3()
    client.part_errors[2] = [client_error("SlowDown", 503), client_error("SlowDown", 503)]
    parts = upload(client)
    payload = b"".join(bytes([n]) * MIN_PART for n in range(1, 5))
    await parts.write(payload)
    stored = await parts.complete()
    assert stored.size == len(payload)
    assert client.completed == [1, 2, 3, 4]


@pytest.mark.parametrize("size", [MIN_PART * 2 + 7, 100], ids=["multipart", "single-put"])
async def test_size_check_a_stored_object_shorter_than_written_fails_and_is_deleted(size: int) -> None:
    client = ScriptedS3()
    client.size_skew = -1
    parts = upload(client)
    await parts.write(bytes(size))
    with pytest.raises(errors.StorePermanent, match="bytes"):
        await parts.complete()
    assert KEY in client.deleted
    assert KEY not in client.objects


async def test_size_check_the_snapshot_engine_refuses_an_archive_stored_short() -> None:
    """Whatever Upload says, the engine compares the stored size with the bytes its writer produced."""
    bucket = FakeObjectStore()
    bucket.short_by = 512
    spec = RecordedSpec(cluster_name="a", ttl=None, available_until=None, objectstore_config="")
    job = SnapshotJob(name="snap", cluster_name="a", spec=spec, backoff=FAST)
    kube = FakeApiServer(served=())  # a cluster with nothing to list
    with pytest.raises(errors.StorePermanent, match="were written"):
        await SnapshotEngine(slots=asyncio.Semaphore(1)).run(job, kube=kube, store=SnapshotStore(bucket))
    assert ("delete", KEY) in bucket.calls
    assert KEY not in bucket.blobs
    assert f"{KEY}.record.json" not in bucket.blobs  # no record: the snapshot cannot be Completed


async def test_fault_8_download_gives_up_within_the_retry_budget() -> None:
    s3 = store(ScriptedS3())
    async with asyncio.timeout(5):  # before the fix: retried forever
        with pytest.raises(errors.StoreRetriable) as failure:
            await s3.get(KEY)
    assert failure.value.reason.startswith("gave up after")


async def test_fault_17_completing_aborts_earlier_unfinished_uploads_of_the_same_key() -> None:
    client = ScriptedS3()
    s3 = store(client)
    orphan = (await client.create_multipart_upload(Bucket="b", Key=KEY, Metadata={}))["UploadId"]
    other = (await client.create_multipart_upload(Bucket="b", Key=f"{KEY}.other", Metadata={}))["UploadId"]
    parts = MultipartUpload(client=client, store=s3, key=KEY, metadata={}, part_size=MIN_PART)
    await parts.write(bytes(MIN_PART + 1))
    await parts.complete()
    assert client.aborted == [orphan]
    assert set(client.uploads) == {other}


async def test_housekeeping_aborts_only_its_own_stale_uploads_in_a_shared_bucket() -> None:
    # another tool's multipart upload under the same prefix is not ours to abort, however old;
    # ours (a snapshot's, an etcd snapshot's) are, on every page of the listing
    client = ScriptedS3()
    client.page_size = 2
    for key in ("backups/other-tool/disk.img", "backups/s1.tgz", "backups/notes.txt", "backups/s2.tgz.age"):
        await client.create_multipart_upload(Bucket="b", Key=key, Metadata={})
    await client.create_multipart_upload(Bucket="b", Key="backups/etcd/e1.tgz", Metadata={})
    snapshots = SnapshotStore(store(client), prefix="backups/")
    aborted = await snapshots.abort_stale_uploads(older_than=T0 + dt.timedelta(days=1))
    assert aborted == 3
    left = sorted(k for k, _ in client.uploads.values())
    assert left == ["backups/notes.txt", "backups/other-tool/disk.img"]


async def test_a_huge_stored_record_is_refused_without_reading_it_whole() -> None:
    # anyone who may write the bucket could put a record of many GiB: read at every start
    # (--restoresnapshots), every sweep (--validatefileinfo) and every restore, it would
    # exhaust the controller's memory each time
    objects = FakeObjectStore(chunk=1 << 20)
    objects.add("s.tgz.record.json", b" " * (limits.MAX_RECORD_SIZE + 1))
    with pytest.raises(errors.ArchiveError, match=f"more than {limits.MAX_RECORD_SIZE} bytes"):
        await SnapshotStore(objects).record("s")
    assert objects.downloads_closed == 1
