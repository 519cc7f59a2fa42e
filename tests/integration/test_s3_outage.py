"""S3 stops in the middle of an upload and starts again: the work completes within the retry window."""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets

import pytest

from k8ssnap.devenv import env
from k8ssnap.store.s3 import S3Store
from tests.conftest import Kubectl
from tests.controllerproc import ControllerProcess
from tests.crs import snapshot_manifest, wait_phase

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
