"""Encryption at rest (docs/encryption.md), through the controller, against real clusters and S3.

The archive the controller writes is checked with the reference ``age``
command built from filippo.io/age (not with pyrage, which wrote it), and
with ``tar``, as a person would in an emergency.
"""

from __future__ import annotations

import base64
import io
import json
import secrets
import subprocess
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from k8ssnap import errors
from k8ssnap.archive.index import StoredRecord
from k8ssnap.archive.layout import split_entry
from k8ssnap.devenv import build, env
from k8ssnap.kube.client import KubeClient
from k8ssnap.store import age, layout
from k8ssnap.store.s3 import S3Store
from tests.conftest import CONTROLLER_BUCKET, CONTROLLER_NS, Kubectl, s3_settings
from tests.controllerproc import ControllerProcess
from tests.crs import restore_manifest, snapshot_manifest, wait_phase

pytestmark = pytest.mark.integration

STORE = "encrypted"
PREFIX = "enc/"
RECIPIENTS = "enc-recipients"


def _name(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def _secret(kubectl: Kubectl, name: str, key: str, text: str) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": CONTROLLER_NS},
        "stringData": {key: text},
    }
    kubectl("apply", "-f", "-", input=json.dumps(body))


class Keys:
    """Two identities the ObjectstoreConfig encrypts to, and one it does not; files and Secrets."""

    def __init__(self, folder: Path, kubectl: Kubectl) -> None:
        age_bin = build.ensure_age()
        self.age = age_bin / "age"
        # one key from the reference age-keygen, one from k8ssnap (pyrage): both must interoperate
        first = subprocess.run([str(age_bin / "age-keygen")], check=True, capture_output=True, text=True)
        self.identity_1 = first.stdout
        self.recipient_1 = next(
            line.split(": ")[1] for line in first.stdout.splitlines() if line.startswith("# public key:")
        )
        self.identity_2, self.recipient_2 = age.generate()
        wrong, _ = age.generate()
        self.key_file_1 = folder / "key-1.txt"
        self.key_file_1.write_text(self.identity_1)
        _secret(
            kubectl, RECIPIENTS, "recipients", f"# two recipients\n{self.recipient_1}\n{self.recipient_2}\n"
        )
        _secret(kubectl, "enc-id-1", "identity", self.identity_1)
        _secret(kubectl, "enc-id-2", "identity", self.identity_2 + "\n")
        _secret(kubectl, "enc-id-wrong", "identity", wrong + "\n")


@pytest.fixture(scope="module")
def keys(
    devenv: env.EnvironmentInfo,
    controller_setup: str,
    kubectl_a: Kubectl,
    tmp_path_factory: pytest.TempPathFactory,
) -> Keys:
    made = Keys(tmp_path_factory.mktemp("age"), kubectl_a)
    config = {
        "apiVersion": "clustersnapshot.rywt.io/v1alpha1",
        "kind": "ObjectstoreConfig",
        "metadata": {"name": STORE, "namespace": CONTROLLER_NS},
        "spec": {
            "endpoint": devenv.s3.endpoint,
            "bucket": CONTROLLER_BUCKET,
            "prefix": PREFIX.rstrip("/"),
            "cloudCredentialSecret": "s3-credentials",
            "insecure": True,
            "forcePathStyle": True,
            "encryption": {"recipientsSecret": {"name": RECIPIENTS}},
            "serverSideEncryption": {"algorithm": "AES256"},
        },
    }
    kubectl_a("apply", "-f", "-", input=json.dumps(config))
    return made


@pytest.fixture
async def bucket(devenv: env.EnvironmentInfo) -> AsyncIterator[S3Store]:
    store = await S3Store.open(s3_settings(devenv, bucket=CONTROLLER_BUCKET))
    yield store
    await store.close()


async def _secret_in(kube: KubeClient, namespace: str) -> str:
    """A Secret with a random value in ``namespace``; returns the value."""
    value = f"hunter2-{secrets.token_hex(16)}"
    await kube.create(
        f"/api/v1/namespaces/{namespace}/secrets",
        {"metadata": {"name": "precious"}, "stringData": {"password": value}},
    )
    return value


def _take(kubectl: Kubectl, name: str) -> dict[str, Any]:
    kubectl("create", "-f", "-", input=snapshot_manifest(name, kubeconfig=None, objectstoreConfig=STORE))
    return wait_phase(kubectl, "snapshot", name, "Completed", timeout=180)


async def test_the_archive_is_age_and_the_reference_tool_decrypts_it(
    controller: ControllerProcess, keys: Keys, kubectl_a: Kubectl, kube_a: KubeClient, bucket: S3Store,
    namespace: str,
) -> None:  # fmt: skip
    value = await _secret_in(kube_a, namespace)
    name = _name("sealed")
    snap = _take(kubectl_a, name)
    key = layout.archive_key(name, prefix=PREFIX, encrypted=True)
    raw = await bucket.get(key)
    record = StoredRecord.from_json(await bucket.get(layout.record_key(name, prefix=PREFIX)))
    # the bucket holds age, not gzip, and no trace of the Secret's value
    assert raw.startswith(b"age-encryption.org/v1\n")
    for needle in (value.encode(), base64.b64encode(value.encode()), b"precious"):
        assert needle not in raw
    with pytest.raises(errors.ObjectMissing):
        await bucket.head(layout.archive_key(name, prefix=PREFIX))  # no plaintext .tgz beside it
    # the record is readable without a key, describes the stored object, names only public keys
    assert record.encryption is not None
    assert set(record.encryption.recipients) == {keys.recipient_1, keys.recipient_2}
    assert (record.size, len(raw)) == (snap["status"]["storedFileSize"], len(raw))
    assert record.sha256 == snap["status"]["storedSha256"]
    record_raw = await bucket.get(layout.record_key(name, prefix=PREFIX))
    assert b"AGE-SECRET-KEY" not in record_raw and value.encode() not in record_raw
    # emergency decryption: age -d -i key.txt NAME.tgz.age | tar tz
    plain = subprocess.run(
        [str(keys.age), "-d", "-i", str(keys.key_file_1)], input=raw, check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(plain), mode="r:gz") as archive:
        names = archive.getnames()
        body = archive.extractfile(f"{name}/api/v1/namespaces/{namespace}/secrets/precious.json")
        assert body is not None and base64.b64encode(value.encode()) in body.read()
    objects = {
        "/" + split_entry(n)[1].removesuffix(".json") for n in names if n.endswith(".json") and "/api" in n
    }
    assert objects == set(record.index.paths)


async def test_restore_needs_a_fitting_identity_and_either_recipient_restores(
    controller: ControllerProcess, devenv: env.EnvironmentInfo, keys: Keys, kubectl_a: Kubectl,
    kube_a: KubeClient, kube_b: KubeClient, namespace: str,
) -> None:  # fmt: skip
    value = await _secret_in(kube_a, namespace)
    name = _name("rt")
    _take(kubectl_a, name)
    preference = _name("only")
    kubectl_a("apply", "-f", "-", input=json.dumps({
        "apiVersion": "clustersnapshot.rywt.io/v1alpha1", "kind": "RestorePreference",
        "metadata": {"name": preference, "namespace": CONTROLLER_NS},
        "spec": {"includeNamespaces": [namespace]},
    }))  # fmt: skip
    b_config = devenv.clusters["b"].kubeconfig

    def restore(identity: str | None, phase: str, *, into: Path | None = b_config) -> dict[str, Any]:
        spec: dict[str, Any] = {"restorePreferenceName": preference}
        if identity is not None:
            spec["encryption"] = {"identitySecret": {"name": identity}}
        restore_name = _name("rt-restore")
        kubectl_a(
            "create",
            "-f",
            "-",
            input=restore_manifest(restore_name, snapshot=name, kubeconfig=into, **spec),
        )
        return wait_phase(kubectl_a, "restore", restore_name, phase, timeout=180)

    missing = restore(None, "Failed")
    assert "no identity is configured" in missing["status"]["reason"]
    assert "spec.encryption.identitySecret" in missing["status"]["reason"]
    wrong = restore("enc-id-wrong", "Failed")
    assert "none of them can decrypt it" in wrong["status"]["reason"]
    assert keys.recipient_1 in wrong["status"]["reason"]
    namespaces = await kube_b.get("/api/v1/namespaces")
    assert namespace not in {n["metadata"]["name"] for n in namespaces["items"]}  # nothing created
    try:
        first = restore("enc-id-2", "Completed")
        secret_path = f"/api/v1/namespaces/{namespace}/secrets/precious"
        assert secret_path in first["status"]["created"]
        restored = await kube_b.get(secret_path)
        assert base64.b64decode(restored["data"]["password"]).decode() == value
        # the other recipient's identity opens it too (into cluster a, where it all exists)
        second = restore("enc-id-1", "Completed", into=None)
        assert secret_path in second["status"]["alreadyExisted"]
    finally:
        await kube_b.delete(f"/api/v1/namespaces/{namespace}")


async def test_server_side_encryption_is_asked_for_on_single_and_multipart_uploads(
    devenv: env.EnvironmentInfo,
) -> None:
    """SeaweedFS may not enforce SSE, so the request itself is checked, as it goes on the wire."""
    store = await S3Store.open(s3_settings(devenv, server_side_encryption="AES256"))
    seen: list[tuple[str, str, object]] = []

    def record(request: Any, **_: Any) -> None:
        seen.append((request.method, request.url, request.headers.get("x-amz-server-side-encryption")))

    store._client.meta.events.register("before-send.s3", record)
    key = f"sse/{secrets.token_hex(3)}"
    try:
        await store.put(key + "-small", b"small", metadata={})
        upload = store.upload(key + "-large", metadata={}, part_size=5 << 20)
        await upload.write(secrets.token_bytes(11 << 20))
        await upload.complete()
    finally:
        await store.close()
    small = [sse for method, url, sse in seen if method == "PUT" and url.endswith(f"{key}-small")]
    starts = [sse for method, url, sse in seen if method == "POST" and url.endswith(f"{key}-large?uploads")]
    parts = [url for method, url, _ in seen if method == "PUT" and "partNumber=" in url]
    assert small == [b"AES256"], seen
    assert starts == [b"AES256"], seen  # S3 applies the multipart upload's SSE to its parts
    assert len(parts) == 3, seen


async def test_without_server_side_encryption_no_header_is_sent(devenv: env.EnvironmentInfo) -> None:
    store = await S3Store.open(s3_settings(devenv))
    seen: list[object] = []
    store._client.meta.events.register(
        "before-send.s3",
        lambda request, **_: seen.append(request.headers.get("x-amz-server-side-encryption")),
    )
    try:
        await store.put(f"sse/{secrets.token_hex(3)}-plain", b"plain", metadata={})
    finally:
        await store.close()
    assert seen and set(seen) == {None}
