"""The ObjectStore contract, run against every store: S3 (SeaweedFS) and a local folder.

Engines and controllers rely on exactly these properties; a new store
passes this module before anything uses it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from k8ssnap import errors
from k8ssnap.devenv import env
from k8ssnap.store.folder import FolderStore
from k8ssnap.store.objectstore import ObjectStore
from k8ssnap.store.s3 import S3Store
from tests.conftest import s3_settings

pytestmark = pytest.mark.integration


@pytest.fixture(params=["s3", "folder"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ObjectStore]:
    """A fresh, empty bucket of each kind."""
    bucket = f"contract-{secrets.token_hex(3)}"
    opened: ObjectStore
    if request.param == "s3":
        devenv: env.EnvironmentInfo = request.getfixturevalue("devenv")
        opened = await S3Store.open(s3_settings(devenv, bucket=bucket))
    else:
        opened = FolderStore.open(endpoint=f"file://{tmp_path}/backups", bucket=bucket, root=str(tmp_path))
        (tmp_path / "backups").mkdir()
    await opened.create_bucket()
    yield opened
    await opened.close()


async def _keys(store: ObjectStore, prefix: str = "") -> list[str]:
    return [o.key async for o in store.list(prefix)]


async def test_put_head_get_round_trip_with_metadata(store: ObjectStore) -> None:
    stored = await store.put("a/b/record.json", b'{"x": 1}', metadata={"k8ssnap-format": "1"})
    assert (stored.key, stored.size) == ("a/b/record.json", 8)
    head = await store.head("a/b/record.json")
    assert head.size == 8 and head.metadata == {"k8ssnap-format": "1"}
    assert head.last_modified.tzinfo is not None
    assert await store.get("a/b/record.json") == b'{"x": 1}'


async def test_put_replaces_an_object_whole(store: ObjectStore) -> None:
    await store.put("k", b"old and longer", metadata={"m": "1"})
    await store.put("k", b"new", metadata={})
    assert await store.get("k") == b"new"
    assert (await store.head("k")).metadata == {}


async def test_streaming_upload_round_trips_and_is_invisible_until_complete(store: ObjectStore) -> None:
    payload = os.urandom(12 << 20)
    upload = store.upload("snap.tgz", metadata={"k8ssnap-snapshot": "snap"})
    for start in range(0, len(payload), 1 << 20):
        await upload.write(payload[start : start + (1 << 20)])
        with pytest.raises(errors.ObjectMissing):
            await store.head("snap.tgz")
    assert await _keys(store) == []
    stored = await upload.complete()
    assert stored.size == len(payload) and stored.metadata == {"k8ssnap-snapshot": "snap"}
    digest = hashlib.sha256()
    chunks = 0
    async for chunk in store.download("snap.tgz"):
        digest.update(chunk)
        chunks += 1
    assert digest.digest() == hashlib.sha256(payload).digest()
    assert chunks > 1  # streamed, not one read


async def test_aborted_upload_leaves_nothing(store: ObjectStore) -> None:
    upload = store.upload("aborted.tgz", metadata={})
    await upload.write(os.urandom(11 << 20))
    await upload.abort()
    await upload.abort()  # idempotent
    with pytest.raises(errors.ObjectMissing):
        await store.head("aborted.tgz")
    assert await _keys(store) == []


async def test_aborting_a_replacement_keeps_the_old_object(store: ObjectStore) -> None:
    await store.put("keep.tgz", b"old", metadata={})
    upload = store.upload("keep.tgz", metadata={})
    await upload.write(b"new bytes")
    await upload.abort()
    assert await store.get("keep.tgz") == b"old"


async def test_listing_by_prefix_is_complete_and_paginated_past_1000_keys(store: ObjectStore) -> None:
    keys = [f"many/{i:05d}.tgz" for i in range(1105)]
    sem = asyncio.Semaphore(32)

    async def put(key: str) -> None:
        async with sem:
            await store.put(key, b"x", metadata={})

    await asyncio.gather(*(put(k) for k in keys), put("other/1.tgz"), put("many.tgz"))
    assert await _keys(store, "many/") == keys
    # across folders the order is the store's (SeaweedFS lists a folder before a sibling key)
    assert sorted(await _keys(store, "many")) == ["many.tgz", *keys]
    assert await _keys(store, "nothing/") == []
    assert {o.size async for o in store.list("many/")} == {1}


async def test_missing_objects(store: ObjectStore) -> None:
    with pytest.raises(errors.ObjectMissing):
        await store.head("nope")
    with pytest.raises(errors.ObjectMissing):
        await store.get("nope")
    await store.delete("nope")  # deleting what is not there is not an error


async def test_delete_removes_the_object(store: ObjectStore) -> None:
    await store.put("gone.tgz", b"x", metadata={"a": "b"})
    await store.delete("gone.tgz")
    with pytest.raises(errors.ObjectMissing):
        await store.head("gone.tgz")
    assert await _keys(store) == []


async def test_a_missing_bucket_is_reported_and_can_be_created(
    request: pytest.FixtureRequest, store: ObjectStore, tmp_path: Path
) -> None:
    other: ObjectStore
    name = f"absent-{secrets.token_hex(3)}"
    if isinstance(store, S3Store):
        other = await S3Store.open(s3_settings(request.getfixturevalue("devenv"), bucket=name))
    else:
        other = FolderStore.open(endpoint=f"file://{tmp_path}/backups", bucket=name, root=str(tmp_path))
    try:
        with pytest.raises(errors.StorePermanent, match="does not exist"):
            await other.check()
        await other.create_bucket()
        await other.check()
    finally:
        await other.close()
