"""The controller runtime against the real cluster a: informers and leader election."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import pytest

from k8ssnap import errors
from k8ssnap.devenv import env
from k8ssnap.kube.client import KubeClient
from k8ssnap.kube.listwatch import ResourceListWatcher
from k8ssnap.runtime.informer import Informer
from k8ssnap.runtime.source import ListPage, WatchEvent
from tests.conftest import Kubectl
from tests.controllerproc import ControllerProcess
from tests.waiting import eventually

pytestmark = pytest.mark.integration


class Recorder:
    """Every handler call, in order, as (event, name, resourceVersion)."""

    def __init__(self, informer: Informer) -> None:
        self.events: list[tuple[str, str, str]] = []
        informer.add_handler(
            on_add=lambda o: self._log("add", o),
            on_update=lambda _old, o: self._log("update", o),
            on_delete=lambda o: self._log("delete", o),
        )

    def _log(self, kind: str, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        self.events.append((kind, meta["name"], meta.get("resourceVersion", "")))

    def of(self, name: str) -> list[str]:
        return [kind for kind, n, _ in self.events if n == name]


@contextlib.asynccontextmanager
async def running(informer: Informer) -> AsyncIterator[None]:
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.wait_for_sync(), 30)
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, BaseExceptionGroup):
            await task


def _cm(name: str, value: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"v": value}}


async def _cache_matches_api(informer: Informer, kube: KubeClient, path: str) -> bool:
    live = {
        (o["metadata"]["name"], o["metadata"]["resourceVersion"]) for o in (await kube.get(path))["items"]
    }
    cached = {(o["metadata"]["name"], o["metadata"]["resourceVersion"]) for o in informer.list()}
    return live == cached


async def test_informer_sees_create_update_delete_in_order(kube_a: KubeClient, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    informer = Informer(name="cm", source=ResourceListWatcher(kube_a, path))
    recorder = Recorder(informer)
    async with running(informer):
        await kube_a.create(path, _cm("x", "1"))
        await kube_a.merge_patch(f"{path}/x", {"data": {"v": "2"}})
        await kube_a.merge_patch(f"{path}/x", {"data": {"v": "3"}})
        await kube_a.delete(f"{path}/x")
        await eventually(lambda: _async(recorder.of("x")[-1:] == ["delete"]), what="delete seen")
    assert recorder.of("x") == ["add", "update", "update", "delete"]
    rvs = [int(rv) for kind, n, rv in recorder.events if n == "x" and kind != "delete"]
    assert rvs == sorted(rvs)


async def _async(value: bool) -> bool:
    return value


async def test_informer_recovers_after_apiserver_restart(
    kube_a: KubeClient, namespace: str, environment: env.Environment
) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    informer = Informer(name="cm", source=ResourceListWatcher(kube_a, path))
    recorder = Recorder(informer)
    async with running(informer):
        await kube_a.create(path, _cm("before", "1"))
        await eventually(lambda: _async("add" in recorder.of("before")), what="first add")
        await asyncio.to_thread(environment.restart, "apiserver-a")
        await eventually(lambda: kube_a.create(path, _cm("after", "1")), what="API server back")
        await kube_a.merge_patch(f"{path}/before", {"data": {"v": "2"}})
        await eventually(
            lambda: _cache_matches_api(informer, kube_a, path), timeout=90, what="cache caught up"
        )
    assert recorder.of("after") == ["add"]
    assert recorder.of("before") == ["add", "update"]
    assert len(recorder.events) == len(set(recorder.events)), "a change was handled twice"


class Holdable:
    """A ListWatcher whose watch can be cut (like a lost connection) and held down."""

    def __init__(self, inner: ResourceListWatcher) -> None:
        self.inner = inner
        self.up = asyncio.Event()
        self.up.set()
        self.cut = asyncio.Event()
        self.lists: list[str] = []
        self.watch_errors: list[str] = []

    async def list(self, *, limit: int, continue_token: str, resource_version: str) -> ListPage:
        self.lists.append(resource_version)
        return await self.inner.list(
            limit=limit, continue_token=continue_token, resource_version=resource_version
        )

    async def watch(self, *, resource_version: str, timeout_seconds: int) -> AsyncIterator[WatchEvent]:
        await self.up.wait()
        stream = self.inner.watch(
            resource_version=resource_version, timeout_seconds=timeout_seconds
        ).__aiter__()
        while True:
            nxt = asyncio.ensure_future(stream.__anext__())
            cut = asyncio.ensure_future(self.cut.wait())
            done, _ = await asyncio.wait({nxt, cut}, return_when=asyncio.FIRST_COMPLETED)
            if cut in done:
                nxt.cancel()
                with contextlib.suppress(BaseException):
                    await nxt
                with contextlib.suppress(BaseException):
                    await stream.aclose()
                raise errors.ApiRetriable("test: connection cut")
            cut.cancel()
            try:
                event = nxt.result()
            except StopAsyncIteration:
                return
            except errors.K8sSnapError as exc:
                self.watch_errors.append(type(exc).__name__)
                raise
            if event.type == "ERROR":
                self.watch_errors.append(str(event.object.get("code")))
            yield event


def _compact(etcd_url: str, revision: int) -> None:
    body = json.dumps({"revision": str(revision), "physical": True}).encode()
    req = urllib.request.Request(f"{etcd_url}/v3/kv/compaction", data=body, method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200


async def test_forced_410_from_compaction_relists_without_loss_or_duplicates(
    kube_a: KubeClient, namespace: str, devenv: env.EnvironmentInfo
) -> None:
    """podtemplates have no watch cache in the local clusters, so an old watch hits compacted etcd."""
    path = f"/api/v1/namespaces/{namespace}/podtemplates"

    def template(name: str, image: str) -> dict[str, Any]:
        spec = {"containers": [{"name": "c", "image": image}]}
        return {
            "apiVersion": "v1",
            "kind": "PodTemplate",
            "metadata": {"name": name},
            "template": {"spec": spec},
        }

    source = Holdable(ResourceListWatcher(kube_a, path))
    informer = Informer(name="pt", source=source)
    recorder = Recorder(informer)
    async with running(informer):
        await kube_a.create(path, template("stay", "a:1"))
        await kube_a.create(path, template("goes", "a:1"))
        await eventually(lambda: _async(len(recorder.events) == 2), what="two adds")
        source.up.clear()
        source.cut.set()  # the watch drops and cannot come back yet
        await kube_a.merge_patch(
            f"{path}/stay", {"template": {"spec": {"containers": [{"name": "c", "image": "a:2"}]}}}
        )
        await kube_a.delete(f"{path}/goes")
        await kube_a.create(path, template("new", "a:1"))
        current = int((await kube_a.get(path))["metadata"]["resourceVersion"])
        await asyncio.to_thread(_compact, devenv.clusters["a"].etcd_url, current)
        source.cut.clear()
        source.up.set()
        await eventually(lambda: _cache_matches_api(informer, kube_a, path), timeout=60, what="relisted")
    assert "Gone" in source.watch_errors or "410" in source.watch_errors
    assert len(source.lists) >= 2, "no new list after the 410"
    assert recorder.of("stay") == ["add", "update"]
    assert recorder.of("goes") == ["add", "delete"]
    assert recorder.of("new") == ["add"]
    assert len(recorder.events) == len(set(recorder.events)), "a change was handled twice"


def _holder(kubectl: Kubectl, namespace: str) -> str:
    out = kubectl("get", "lease", "k8ssnap-controller", "-n", namespace, "-o", "json", check=False)
    try:
        return str(json.loads(out)["spec"].get("holderIdentity") or "")
    except (ValueError, KeyError):
        return ""


def _reconciles(proc: ControllerProcess) -> float:
    total = 0.0
    for line in proc.metrics().splitlines():
        if line.startswith('workqueue_adds_total{name="objectstoreconfigs"}'):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_only_the_leader_reconciles_and_a_follower_takes_over(
    devenv: env.EnvironmentInfo, kubectl_a: Kubectl, controller_setup: str
) -> None:
    ns = f"k8s-snap-le-{secrets.token_hex(2)}"
    kubectl_a("create", "namespace", ns)
    kubeconfig = devenv.clusters["a"].kubeconfig
    procs = [
        ControllerProcess(kubeconfig=kubeconfig, namespace=ns, log=devenv.folder / f"{ns}-{i}.log")
        for i in (0, 1)
    ]
    try:
        for proc in procs:
            proc.start()
        by_identity = {f"{p.hostname}-{p.pid}": p for p in procs}
        holder = await eventually(lambda: _async(_holder(kubectl_a, ns) or None), timeout=30, what="a leader")
        leader = by_identity[holder]
        follower = next(p for p in procs if p is not leader)
        for i in range(3):
            kubectl_a("apply", "-f", "-", input=json.dumps({
                "apiVersion": "clustersnapshot.rywt.io/v1alpha1", "kind": "ObjectstoreConfig",
                "metadata": {"name": f"store-{i}", "namespace": ns},
                "spec": {"bucket": "b", "cloudCredentialSecret": "none"},
            }))  # fmt: skip
        await eventually(lambda: _async(_reconciles(leader) >= 3), what="the leader reconciles")
        assert _reconciles(follower) == 0
        leader.stop(kill=True)
        new = await eventually(
            lambda: _async((h := _holder(kubectl_a, ns)) and h != holder and h), timeout=40, what="takeover"
        )
        assert by_identity[new] is follower
        await eventually(lambda: _async(_reconciles(follower) >= 3), what="the new leader reconciles")
    finally:
        for proc in procs:
            proc.stop()
        kubectl_a("delete", "namespace", ns, "--wait=false")
