"""Snapshots through the controller, driven by kubectl, against real cluster a and S3."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import gzip
import json
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from k8ssnap import errors
from k8ssnap.api import constants
from k8ssnap.archive.reader import ArchiveReader
from k8ssnap.devenv import env
from k8ssnap.domain import selection
from k8ssnap.domain.paths import object_path
from k8ssnap.kube import discovery
from k8ssnap.kube.client import KubeClient
from k8ssnap.store import layout
from k8ssnap.store.s3 import S3Store
from k8ssnap.store.snapshots import SnapshotStore
from tests import mix
from tests.conftest import CONTROLLER_NS, Kubectl
from tests.controllerproc import ControllerProcess
from tests.crs import snapshot_manifest, wait_phase
from tests.waiting import eventually

pytestmark = pytest.mark.integration


def _name(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


async def _archive_paths(store: S3Store, name: str) -> set[str]:
    reader = ArchiveReader()
    paths: set[str] = set()
    async for chunk in store.download(layout.archive_key(name)):
        paths.update(e.path for e in reader.feed(chunk))
    reader.close()
    return paths


async def _live_paths(kube: KubeClient) -> dict[str, dict[str, Any]]:
    """Every object of every snapshottable resource, as the API lists it now."""
    found = await discovery.discover(kube)
    live: dict[str, dict[str, Any]] = {}
    for resource in selection.select_resources(found.groups):
        body = await kube.get(resource.api_prefix + "/" + resource.resource)
        for item in body.get("items", []):
            meta = item["metadata"]
            live[object_path(resource, namespace=meta.get("namespace") or None, name=meta["name"])] = item
    return live


def _resources_listed_by_kubectl(kubectl: Kubectl) -> set[str]:
    out = kubectl("api-resources", "--verbs=list,get,create,delete", "-o", "name")
    return {line.strip() for line in out.splitlines() if line.strip()}


async def test_snapshot_of_the_realistic_mix_completes_with_everything(
    controller: ControllerProcess,
    devenv: env.EnvironmentInfo,
    kubectl_a: Kubectl,
    kube_a: KubeClient,
    controller_store: S3Store,
    namespace: str,
) -> None:
    await mix.create_mix(kube_a, namespace)
    name = _name("mix")
    kubectl_a("create", "-f", "-", input=snapshot_manifest(name, kubeconfig=devenv.clusters["a"].kubeconfig))
    snap = wait_phase(kubectl_a, "snapshot", name, "Completed")
    live = await _live_paths(kube_a)
    archived = await _archive_paths(controller_store, name)
    status = snap["status"]
    assert status["numberOfContents"] == len(archived)
    assert set(status["contents"]) == archived
    taken = dt.datetime.fromisoformat(status["snapshotTimestamp"].replace("Z", "+00:00"))
    # everything that existed before the snapshot and still exists is archived ...
    older = {
        p
        for p, o in live.items()
        if dt.datetime.fromisoformat(o["metadata"]["creationTimestamp"].replace("Z", "+00:00")) < taken
    }
    assert older <= archived
    # ... and the archive holds nothing else but objects deleted since
    for path in archived - set(live):
        with pytest.raises(errors.NotFound):
            await kube_a.get(path)
    for expected in (
        f"/api/v1/namespaces/{namespace}/secrets/secret-0",
        f"/apis/apps/v1/namespaces/{namespace}/statefulsets/db",
        f"/apis/{mix.crd_group(namespace)}/v1/namespaces/{namespace}/widgets/w0",
        f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.{mix.crd_group(namespace)}",
        f"/api/v1/persistentvolumes/pv-{namespace}",
        f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{namespace}-viewer",
    ):
        assert expected in archived
    kinds = {p.split("/")[-2] for p in archived}
    assert not kinds & {"events", "nodes"}
    # the same resource types kubectl lists (minus the documented never-restorable ones)
    kubectl_kinds = {r.split(".")[0] for r in _resources_listed_by_kubectl(kubectl_a)}
    assert {"configmaps", "secrets", "deployments", "statefulsets", "widgets"} <= kubectl_kinds
    assert kinds <= kubectl_kinds
    # no kubeconfig enters the archive (this Snapshot's own inline one included: k8ssnap's
    # Snapshots are not archived), and no credential enters the record or the metadata. The
    # cluster's Secrets, the controller's S3 credential among them, are archived by design.
    raw = await controller_store.get(layout.archive_key(name))
    head = await controller_store.head(layout.archive_key(name))
    assert b"client-key-data" not in gzip.decompress(raw)  # look inside the compressed archive
    record = await controller_store.get(layout.record_key(name))
    assert b"client-key-data" not in record and devenv.s3.secret_key.encode() not in record
    assert set(head.metadata) == {layout.FORMAT_KEY, layout.SNAPSHOT_KEY}
    assert status["storedFileSize"] == len(raw)


def test_kubectl_get_snapshots_shows_the_columns(controller: ControllerProcess, kubectl_a: Kubectl) -> None:
    name = _name("cols")
    kubectl_a("create", "-f", "-", input=snapshot_manifest(name, kubeconfig=None))
    wait_phase(kubectl_a, "snapshot", name, "Completed")
    table = kubectl_a("get", "snapshots", "-n", CONTROLLER_NS)
    header = table.splitlines()[0].split()
    assert header == ["NAME", "CLUSTERNAME", "BACKUPDATE", "STATUS"]
    row = next(line.split() for line in table.splitlines() if line.startswith(name))
    assert row[1] == "cluster-a" and row[3] == "Completed" and row[2].endswith("Z")


class _ChangesDuringTheWalk:
    """A KubeApi over ``inner`` that runs ``change`` just before the walk's first ConfigMap page,
    i.e. after the engine has fixed the snapshot's resourceVersion."""

    def __init__(self, inner: KubeClient, change: Callable[[], Awaitable[None]]) -> None:
        self._inner = inner
        self._change: Callable[[], Awaitable[None]] | None = change
        self.rv = ""

    @property
    def host(self) -> str:
        return self._inner.host

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | int] | None = None,
        body: bytes | None = None,
        content_type: str = "application/json",
        timeout: float = 120.0,
    ) -> bytes:
        exact = dict(query or {}).get("resourceVersionMatch") == "Exact"
        if self._change is not None and exact and path == "/api/v1/configmaps":
            change, self._change = self._change, None
            self.rv = str(dict(query or {})["resourceVersion"])
            await change()
        return await self._inner.request(
            method, path, query=query, body=body, content_type=content_type, timeout=timeout
        )

    async def get(self, path: str, query: Mapping[str, str | int] | None = None) -> dict[str, Any]:
        return await self._inner.get(path, query)

    async def create(self, collection: str, obj: Mapping[str, Any] | bytes) -> dict[str, Any]:
        return await self._inner.create(collection, obj)

    async def replace(self, path: str, obj: Mapping[str, Any] | bytes) -> dict[str, Any]:
        return await self._inner.replace(path, obj)

    async def merge_patch(self, path: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        return await self._inner.merge_patch(path, patch)

    async def delete(
        self, path: str, *, propagation: str = "Background", resource_version: str | None = None
    ) -> None:
        await self._inner.delete(path, propagation=propagation, resource_version=resource_version)

    def watch(
        self, path: str, query: Mapping[str, str | int], *, timeout_seconds: int
    ) -> AsyncIterator[dict[str, Any]]:
        return self._inner.watch(path, query, timeout_seconds=timeout_seconds)


async def test_objects_changed_during_the_walk_are_as_at_the_snapshot_version(
    kube_a: KubeClient, s3: S3Store, namespace: str
) -> None:
    """The walk reads every page at exactly one resourceVersion, whatever changes meanwhile."""
    from k8ssnap.archive.index import RecordedSpec
    from k8ssnap.snapshot.engine import SnapshotEngine, SnapshotJob

    cm_path = f"/api/v1/namespaces/{namespace}/configmaps"
    await kube_a.create(cm_path, {"metadata": {"name": "moving"}, "data": {"v": "before"}})
    for i in range(30):
        await kube_a.create(cm_path, {"metadata": {"name": f"filler-{i}"}, "data": {"i": str(i)}})

    async def change() -> None:  # after the snapshot's version was fixed, before the ConfigMaps are read
        await kube_a.merge_patch(f"{cm_path}/moving", {"data": {"v": "after"}})
        await kube_a.delete(f"{cm_path}/filler-0")
        await kube_a.create(cm_path, {"metadata": {"name": "born-later"}, "data": {}})

    kube = _ChangesDuringTheWalk(kube_a, change)
    name = _name("pit")
    job = SnapshotJob(
        name=name,
        cluster_name="a",
        spec=RecordedSpec(cluster_name="a", ttl=None, available_until=None, objectstore_config=""),
        page_size=7,  # many pages, so the continue token must keep the version
    )
    store = SnapshotStore(s3)
    await SnapshotEngine(slots=asyncio.Semaphore(2)).run(job, kube=kube, store=store)
    reader = ArchiveReader()
    entries = {e.path: e for e in reader.feed(b"".join([c async for c in store.download_archive(name)]))}
    reader.close()
    assert kube.rv, "the walk never listed ConfigMaps at an exact version"
    moving = json.loads(entries[f"{cm_path}/moving"].body)
    assert moving["data"] == {"v": "before"}
    assert f"{cm_path}/filler-0" in entries
    assert f"{cm_path}/born-later" not in entries
    assert int(moving["metadata"]["resourceVersion"]) <= int(kube.rv)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("bad-kubeconfig", "kubeconfig"),
        ("wrong-keys", "SignatureDoesNotMatch"),
        ("missing-bucket", "does not exist"),
        ("past", "AvailableUntil is set as past."),
    ],
)
def test_failures_have_reasons_a_person_understands(
    controller: ControllerProcess, devenv: env.EnvironmentInfo, kubectl_a: Kubectl, case: str, expected: str
) -> None:
    name = _name(case)
    spec: dict[str, Any] = {}
    kubeconfig: Path | str = devenv.clusters["a"].kubeconfig
    if case == "bad-kubeconfig":
        kubeconfig = "apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts: []\n"
    elif case in ("wrong-keys", "missing-bucket"):
        config = f"{case}-{secrets.token_hex(2)}"
        secret = "s3-credentials" if case == "missing-bucket" else f"{config}-creds"
        if case == "wrong-keys":
            kubectl_a(
                "create", "secret", "generic", secret, "-n", CONTROLLER_NS,
                f"--from-literal=accesskey={devenv.s3.access_key}", "--from-literal=secretkey=wrong-secret",
            )  # fmt: skip
        bucket = "no-such-bucket" if case == "missing-bucket" else "controller"
        kubectl_a("apply", "-f", "-", input=json.dumps({
            "apiVersion": "clustersnapshot.rywt.io/v1alpha1", "kind": "ObjectstoreConfig",
            "metadata": {"name": config, "namespace": CONTROLLER_NS},
            "spec": {"endpoint": devenv.s3.endpoint, "bucket": bucket, "cloudCredentialSecret": secret,
                     "insecure": True, "forcePathStyle": True},
        }))  # fmt: skip
        spec["objectstoreConfig"] = config
    else:
        spec["availableUntil"] = "2020-07-01T02:03:04Z"
    kubectl_a("create", "-f", "-", input=snapshot_manifest(name, kubeconfig=kubeconfig, **spec))
    snap = wait_phase(kubectl_a, "snapshot", name, "Failed", timeout=180)
    assert expected in snap["status"]["reason"]
    assert "client-key-data" not in snap["status"]["reason"]


def test_a_broken_aggregated_api_is_reported_and_skipped(
    controller: ControllerProcess, kubectl_a: Kubectl
) -> None:
    group = f"broken{secrets.token_hex(2)}.k8ssnap.test"
    apiservice = {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": f"v1beta1.{group}"},
        "spec": {
            "group": group,
            "version": "v1beta1",
            "groupPriorityMinimum": 100,
            "versionPriority": 10,
            "insecureSkipTLSVerify": True,
            "service": {"name": "nobody-home", "namespace": "default", "port": 443},
        },
    }
    kubectl_a("apply", "-f", "-", input=json.dumps(apiservice))
    try:
        name = _name("aggregated")
        kubectl_a("create", "-f", "-", input=snapshot_manifest(name, kubeconfig=None))
        snap = wait_phase(kubectl_a, "snapshot", name, "Completed")
        skipped = snap["status"].get("skippedApis") or []
        assert any(group in entry for entry in skipped), skipped
        assert snap["status"]["numberOfContents"] > 0
    finally:
        kubectl_a("delete", "apiservice", f"v1beta1.{group}")


async def test_the_api_server_refuses_status_writes_and_deletes_from_a_stale_version(
    controller_setup: str, kube_a: KubeClient, namespace: str
) -> None:
    """What the reconcilers' preconditioned transitions rely on (Context.write_status(if_unchanged)
    and delete_if_unchanged), on the real status subresource of a Snapshot outside the controller's
    namespace."""
    path = f"/apis/clustersnapshot.rywt.io/v1alpha1/namespaces/{namespace}/snapshots"
    body = json.loads(snapshot_manifest("stale", kubeconfig=None))
    body["metadata"]["namespace"] = namespace
    created = await kube_a.create(path, body)
    stale = created["metadata"]["resourceVersion"]
    moved = await kube_a.merge_patch(
        f"{path}/stale/status", {"metadata": {"resourceVersion": stale}, "status": {"phase": "Completed"}}
    )
    current = moved["metadata"]["resourceVersion"]
    assert current != stale

    with pytest.raises(errors.Conflict):
        await kube_a.merge_patch(
            f"{path}/stale/status",
            {"metadata": {"resourceVersion": stale}, "status": {"phase": "InProgress"}},
        )
    with pytest.raises(errors.Conflict):
        await kube_a.delete(f"{path}/stale", resource_version=stale)
    assert (await kube_a.get(f"{path}/stale"))["status"]["phase"] == "Completed"

    await kube_a.delete(f"{path}/stale", resource_version=current)
    with pytest.raises(errors.NotFound):
        await kube_a.get(f"{path}/stale")


async def test_fault_17_an_upload_killed_with_the_controller_is_aborted_when_the_snapshot_is_retaken(
    controller: ControllerProcess,
    kube_a: KubeClient,
    kubectl_a: Kubectl,
    controller_store: S3Store,
    namespace: str,
) -> None:
    """Issue 11, fault 17, as it happens: ``kill -9`` of the controller in the middle of a
    multipart upload; once the retaken snapshot has Completed, no unfinished upload of its
    key is left in the bucket."""
    configmaps = f"/api/v1/namespaces/{namespace}/configmaps"
    for i in range(96):  # about 90 MB of incompressible text: the upload takes many parts
        blob = base64.b64encode(os.urandom(700_000)).decode()
        await kube_a.create(configmaps, {"metadata": {"name": f"blob-{i}"}, "data": {"blob": blob}})
    name = _name("killed")
    key = layout.archive_key(name)

    async def unfinished() -> list[Any]:
        listed = await controller_store._client.list_multipart_uploads(
            Bucket=controller_store.bucket, Prefix=key
        )
        return [u for u in listed.get("Uploads", []) if u["Key"] == key]

    try:
        kubectl_a("create", "-f", "-", input=snapshot_manifest(name, kubeconfig=None))
        await eventually(unfinished, interval=0.01, what="the snapshot's multipart upload")
        controller.stop(kill=True)
        assert await unfinished(), "the killed process's upload stays behind"
        controller.start()
        snap = wait_phase(kubectl_a, "snapshot", name, "Completed", timeout=300)
        assert snap["metadata"]["annotations"][constants.ATTEMPTS] == "2"  # interrupted once, retaken
        assert await unfinished() == []
    finally:
        await kube_a.request("DELETE", configmaps)  # deletecollection: later snapshots stay small
