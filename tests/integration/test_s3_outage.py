"""S3 stops in the middle of an upload and starts again: the work completes within the retry window."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets

import pytest

from k8ssnap import errors, retry
from k8ssnap.devenv import env
from k8ssnap.store.multipart import MIN_PART, MultipartUpload
from k8ssnap.store.s3 import S3Store
from tests.conftest import Kubectl
from tests.controllerproc import ControllerProcess
from tests.crs import snapshot_manifest, wait_phase
from tests.waiting import eventually

pytestmark = pytest.mark.integration


async def test_multipart_upload_survives_an_s3_restart(s3: S3Store, environment: env.Environment) -> None:
    key = f"outage/{secrets.token_hex(4)}.bin"
    payload = os.urandom(18 << 20)
    upload = s3.upload(key, metadata={}, part_size=5 << 20)
    await upload.write(payload[: 6 << 20])  # part 1 is on the wire or done
    await asyncio.to_thread(environment.stop_service, "s3")
    try:
        writing = asyncio.create_task(upload.write(payload[6 << 20 :]))  # parts 2-3 retry while S3 is down
        await asyncio.sleep(2)
        assert not writing.done()
    finally:
        await asyncio.to_thread(environment.start_service, "s3")
    await writing
    stored = await upload.complete()
    assert stored.size == len(payload)
    assert hashlib.sha256(await s3.get(key)).digest() == hashlib.sha256(payload).digest()
    await s3.delete(key)


async def test_snapshot_completes_when_s3_comes_back(
    controller: ControllerProcess, kubectl_a: Kubectl, environment: env.Environment
) -> None:
    name = f"outage-{secrets.token_hex(3)}"
    await asyncio.to_thread(environment.stop_service, "s3")
    try:
        kubectl_a("create", "-f", "-", input=snapshot_manifest(name, kubeconfig=None))
        wait_phase(kubectl_a, "snapshot", name, "InProgress", timeout=60)
    finally:
        await asyncio.to_thread(environment.start_service, "s3")
    snap = wait_phase(kubectl_a, "snapshot", name, "Completed", timeout=120)
    assert snap["status"]["storedFileSize"] > 0


async def test_fault_2_a_part_lost_to_an_outage_fails_the_upload(
    s3: S3Store, environment: env.Environment
) -> None:
    """Part 2 gives up while S3 is down; parts 3 and 4 would succeed after it is back. The upload must fail,
    not complete as parts [1, 3, 4] (which S3 accepts)."""
    short = retry.Backoff(initial=0.1, cap=0.3, max_elapsed=1.5)
    s3 = S3Store(s3.settings, s3._client, contextlib.AsyncExitStack(), backoff=short)  # the same client
    key = f"outage/{secrets.token_hex(4)}.bin"
    part = os.urandom(MIN_PART)
    upload = MultipartUpload(
        client=s3._client, store=s3, key=key, metadata={}, part_size=MIN_PART, max_in_flight=1
    )
    await upload.write(part)  # part 1 goes out
    await upload.write(part)  # waits for part 1 to be stored, then starts part 2 (not yet run)
    environment.stop_service("s3")  # blocking on purpose: part 2 only ever meets a stopped S3
    try:

        async def part_2_over() -> bool:
            return "0 in flight" in repr(upload)

        await eventually(part_2_over, timeout=30, interval=0.05, what="part 2 to give up")
    finally:
        await asyncio.to_thread(environment.start_service, "s3")
    with pytest.raises(errors.StoreRetriable):
        await upload.write(part)
        await upload.write(part)
        await upload.complete()
    with pytest.raises(errors.ObjectMissing):
        await s3.head(key)
    listed = await s3._client.list_multipart_uploads(Bucket=s3.bucket, Prefix=key)
    assert [u for u in listed.get("Uploads", []) if u["Key"] == key] == []
