"""A world of fakes for the reconcilers, and builders of raw custom resources.

* The adapters are :mod:`k8ssnap.testing`'s, injected through the Context:
  :class:`~k8ssnap.testing.kube.FakeKube` as the controller's cluster,
  :class:`~k8ssnap.testing.adapters.FakeStores` as the store opener (one
  in-memory bucket, prefix ``team/``) and
  :class:`~k8ssnap.testing.adapters.FakeConnector` for other clusters.
* Real :class:`~k8ssnap.runtime.informer.Informer` objects are used as the
  caches, filled through their reflector-facing store methods and never run.
* Builders make raw custom resources relative to ``now``.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from k8ssnap import retry
from k8ssnap.api import constants
from k8ssnap.archive.etcd import EtcdMember, EtcdRecord
from k8ssnap.archive.index import ArchiveIndex, SnapshotMeta
from k8ssnap.controllers.context import Context, Settings
from k8ssnap.controllers.events import EventRecorder
from k8ssnap.domain import timestamps
from k8ssnap.kube.api import KubeApi
from k8ssnap.restore.job import RestoreJob, RestoreResult
from k8ssnap.runtime.informer import Informer
from k8ssnap.runtime.metrics import Registry
from k8ssnap.runtime.source import ListPage, ObjectKey, WatchEvent
from k8ssnap.snapshot.engine import SnapshotJob, SnapshotOutcome
from k8ssnap.snapshot.etcd import EtcdSnapshotJob
from k8ssnap.store.objectstore import StoredObject
from k8ssnap.store.snapshots import SnapshotStore
from k8ssnap.testing.adapters import FakeConnector, FakeStores
from k8ssnap.testing.kube import Call, FakeKube, merged
from k8ssnap.testing.store import FakeObjectStore

Progress = Callable[[int], None]
__all__ = ["Call", "FakeKube", "FakeObjectStore", "merged"]

NS = constants.DEFAULT_NAMESPACE
EVENTS_PATH = f"/api/v1/namespaces/{NS}/events"
PLURALS = tuple(kind.plural for kind in (*constants.KINDS, constants.ETCD_SNAPSHOT))


def utcnow() -> dt.datetime:
    """Now, to the second (timestamps in statuses have whole seconds)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def ts(moment: dt.datetime) -> str:
    """``moment`` as the API writes it."""
    return timestamps.format_time(moment)


# --- the kube-apiserver ----------------------------------------------------------


# --- informer caches -------------------------------------------------------------


class _NoSource:
    """A ListWatcher for informers that are filled by hand and never run."""

    async def list(self, *, limit: int, continue_token: str, resource_version: str) -> ListPage:
        raise AssertionError("unit-test informers must not list")

    def watch(self, *, resource_version: str, timeout_seconds: int) -> AsyncIterator[WatchEvent]:
        raise AssertionError("unit-test informers must not watch")


def informers(**items: Iterable[dict[str, Any]]) -> dict[str, Informer]:
    """One synced Informer per plural, holding ``items[plural]``."""
    unknown = set(items) - set(PLURALS)
    if unknown:
        raise ValueError(f"unknown plurals {unknown}")
    made = {}
    for plural in PLURALS:
        informer = Informer(name=plural, source=_NoSource())
        informer.replace(list(items.get(plural, ())), "1")
        made[plural] = informer
    return made


@dataclass
class World:
    """A Context over fakes, and the fakes themselves."""

    kube: FakeKube
    ctx: Context
    stores: FakeStores
    connector: FakeConnector

    def put(self, kind: constants.ResourceKind, obj: dict[str, Any]) -> None:
        """Add or update ``obj`` in the cache of ``kind`` (a watch event)."""
        self.ctx.informers[kind.plural].update(obj)

    def remove(self, kind: constants.ResourceKind, name: str) -> None:
        cached = self.ctx.informers[kind.plural].get(ObjectKey(NS, name))
        if cached is not None:
            self.ctx.informers[kind.plural].delete(cached)

    def cached(self, kind: constants.ResourceKind, name: str) -> dict[str, Any]:
        obj = self.ctx.cached(kind, name)
        assert obj is not None
        return obj


def world(
    settings: Settings | None = None, *, kube: FakeKube | None = None, stores: FakeStores | None = None
) -> World:
    kube = kube or FakeKube()
    stores = stores or FakeStores(prefix="team/")
    connector = FakeConnector()
    ctx = Context(
        kube=kube,
        stores=stores,
        clusters=connector,
        settings=settings or Settings(),
        informers=informers(),
        events=EventRecorder(kube, namespace=NS, host="test"),
        metrics=Registry(),
    )
    return World(kube=kube, ctx=ctx, stores=stores, connector=connector)


# --- raw custom resources -----------------------------------------------------------


def _metadata(
    name: str,
    *,
    finalizers: Sequence[str],
    created: dt.datetime | None,
    deleting: bool,
    annotations: Mapping[str, str] | None,
    generation: int = 1,
    resource_version: str = "7",
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": NS,
        "uid": f"uid-{name}",
        "resourceVersion": resource_version,
        "generation": generation,
        "creationTimestamp": ts(created or utcnow() - dt.timedelta(hours=1)),
    }
    if finalizers:
        meta["finalizers"] = list(finalizers)
    if deleting:
        meta["deletionTimestamp"] = ts(utcnow())
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def snapshot(
    name: str = "snap",
    *,
    phase: str = "",
    spec: Mapping[str, Any] | None = None,
    status: Mapping[str, Any] | None = None,
    finalizers: Sequence[str] = (constants.FINALIZER,),
    created: dt.datetime | None = None,
    deleting: bool = False,
    annotations: Mapping[str, str] | None = None,
    resource_version: str = "7",
) -> dict[str, Any]:
    """A raw Snapshot; ``spec`` defaults to cluster "c1" stored with ObjectstoreConfig "store"."""
    body: dict[str, Any] = {
        "apiVersion": constants.API_VERSION,
        "kind": constants.SNAPSHOT.kind,
        "metadata": _metadata(
            name,
            finalizers=finalizers,
            created=created,
            deleting=deleting,
            annotations=annotations,
            resource_version=resource_version,
        ),
        "spec": dict(spec) if spec is not None else {"clusterName": "c1", "objectstoreConfig": "store"},
    }
    if phase or status:
        body["status"] = {"phase": phase, **dict(status or {})}
    return body


def etcd_snapshot(
    name: str = "etcd1",
    *,
    phase: str = "",
    spec: Mapping[str, Any] | None = None,
    status: Mapping[str, Any] | None = None,
    finalizers: Sequence[str] = (constants.FINALIZER,),
    created: dt.datetime | None = None,
    labels: Mapping[str, str] | None = None,
    resource_version: str = "7",
) -> dict[str, Any]:
    """A raw EtcdSnapshot of one plain-http endpoint, stored with ObjectstoreConfig "store"."""
    meta = _metadata(
        name,
        finalizers=finalizers,
        created=created,
        deleting=False,
        annotations=None,
        resource_version=resource_version,
    )
    if labels:
        meta["labels"] = dict(labels)
    body: dict[str, Any] = {
        "apiVersion": constants.API_VERSION,
        "kind": constants.ETCD_SNAPSHOT.kind,
        "metadata": meta,
        "spec": dict(spec)
        if spec is not None
        else {"endpoints": ["http://127.0.0.1:1"], "objectstoreConfig": "store"},
    }
    if phase or status:
        body["status"] = {"phase": phase, **dict(status or {})}
    return body


def restore(
    name: str = "rst",
    *,
    phase: str = "",
    spec: Mapping[str, Any] | None = None,
    status: Mapping[str, Any] | None = None,
    created: dt.datetime | None = None,
    deleting: bool = False,
    resource_version: str = "7",
) -> dict[str, Any]:
    """A raw Restore of Snapshot "snap" by default."""
    body: dict[str, Any] = {
        "apiVersion": constants.API_VERSION,
        "kind": constants.RESTORE.kind,
        "metadata": _metadata(
            name,
            finalizers=(),
            created=created,
            deleting=deleting,
            annotations=None,
            resource_version=resource_version,
        ),
        "spec": dict(spec) if spec is not None else {"snapshotName": "snap"},
    }
    if phase or status:
        body["status"] = {"phase": phase, **dict(status or {})}
    return body


def objectstore_config(
    name: str = "store",
    *,
    spec: Mapping[str, Any] | None = None,
    status: Mapping[str, Any] | None = None,
    finalizers: Sequence[str] = (),
    deleting: bool = False,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": constants.API_VERSION,
        "kind": constants.OBJECTSTORE_CONFIG.kind,
        "metadata": _metadata(
            name, finalizers=finalizers, created=None, deleting=deleting, annotations=None, generation=3
        ),
        "spec": dict(spec) if spec is not None else {"bucket": "bkt", "cloudCredentialSecret": "creds"},
    }
    if status is not None:
        body["status"] = dict(status)
    return body


def restore_preference(name: str = "pref", *, spec: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": constants.API_VERSION,
        "kind": constants.RESTORE_PREFERENCE.kind,
        "metadata": _metadata(name, finalizers=(), created=None, deleting=False, annotations=None),
        "spec": dict(spec or {}),
    }


def secret(name: str, data: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """``(path, object)`` of a Secret in our namespace with base64-encoded ``data``."""
    encoded = {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}
    return f"/api/v1/namespaces/{NS}/secrets/{name}", {"metadata": {"name": name}, "data": encoded}


# --- the object store -------------------------------------------------------------------


# --- engines ------------------------------------------------------------------------------


def archive_index(
    name: str = "snap",
    *,
    paths: Iterable[str] = (
        "/api/v1/namespaces/default/configmaps/b",
        "/api/v1/namespaces/default/configmaps/a",
        "/apis/apps/v1/namespaces/default/deployments/web",
    ),
    taken: dt.datetime | None = None,
    resource_version: str = "4242",
) -> ArchiveIndex:
    meta = SnapshotMeta(
        cluster_name="c1", snapshot_resource_version=resource_version, snapshot_timestamp=taken or utcnow()
    )
    return ArchiveIndex.build(snapshot_name=name, meta=meta, paths=paths)


def snapshot_outcome(
    name: str = "snap",
    *,
    paths: Iterable[str] | None = None,
    taken: dt.datetime | None = None,
    size: int = 1234,
    skipped: tuple[str, ...] = (),
) -> SnapshotOutcome:
    taken = taken or utcnow()
    index = (
        archive_index(name, taken=taken) if paths is None else archive_index(name, paths=paths, taken=taken)
    )
    return SnapshotOutcome(
        resource_version=index.snapshot_resource_version,
        timestamp=taken,
        index=index,
        stored=StoredObject(key=f"{name}.tgz", size=size, last_modified=taken, metadata={}),
        sha256="ab" * 32,
        skipped=skipped,
    )


@dataclass
class FakeSnapshotEngine:
    """Returns ``outcome`` or raises ``error``; records what it was asked."""

    outcome: SnapshotOutcome | None = None
    error: BaseException | None = None
    jobs: list[SnapshotJob] = field(default_factory=list)
    kubes: list[KubeApi] = field(default_factory=list)
    stores: list[SnapshotStore] = field(default_factory=list)

    async def run(
        self, job: SnapshotJob, *, kube: KubeApi, store: SnapshotStore, progress: Progress | None = None
    ) -> SnapshotOutcome:
        self.jobs.append(job)
        self.kubes.append(kube)
        self.stores.append(store)
        if self.error is not None:
            raise self.error
        assert self.outcome is not None
        return self.outcome


def etcd_record(name: str = "etcd1", *, taken: dt.datetime | None = None, db_size: int = 4096) -> EtcdRecord:
    """The record of a finished etcd snapshot: one member, two PKI files, no private key."""
    member = EtcdMember(id="1", name="m1", peer_urls=("http://m1:2380",), client_urls=("http://m1:2379",))
    return EtcdRecord(
        name=name,
        taken_at=taken or utcnow(),
        etcd_version="3.5.35",
        revision=42,
        members=(member,),
        endpoint="http://m1:2379",
        db_size=db_size,
        db_sha256="cd" * 32,
        pki=".",
        pki_files=("ca.crt", "apiserver.crt"),
        private_keys=False,
        sha256="ab" * 32,
        size=2048,
    )


@dataclass
class FakeEtcdEngine:
    """Returns ``record`` or raises ``error``; records the jobs and stores it was given."""

    record: EtcdRecord | None = None
    error: BaseException | None = None
    jobs: list[EtcdSnapshotJob] = field(default_factory=list)
    stores: list[SnapshotStore] = field(default_factory=list)

    async def run(self, job: EtcdSnapshotJob, *, store: SnapshotStore, backoff: retry.Backoff) -> EtcdRecord:
        self.jobs.append(job)
        self.stores.append(store)
        if self.error is not None:
            raise self.error
        assert self.record is not None
        return self.record


def restore_result(
    *,
    created: Sequence[str] = ("/api/v1/namespaces/a/configmaps/x", "/api/v1/namespaces/a/configmaps/y"),
    updated: Sequence[str] = ("/api/v1/namespaces/a/configmaps/u",),
    already_existed: Sequence[str] = ("/api/v1/namespaces/a/configmaps/e",),
    failed: Sequence[str] = ("/api/v1/namespaces/a/secrets/f,denied",),
    excluded: Sequence[str] = ("/api/v1/namespaces/kube-system/configmaps/k,(system namespace)",),
    finished: dt.datetime | None = None,
) -> RestoreResult:
    return RestoreResult(
        excluded=tuple(excluded),
        created=tuple(created),
        updated=tuple(updated),
        already_existed=tuple(already_existed),
        failed=tuple(failed),
        num_preference_excluded=1,
        num_snapshot_contents=6,
        resource_version="777",
        timestamp=finished or utcnow(),
    )


@dataclass
class FakeRestoreEngine:
    result: RestoreResult | None = None
    error: BaseException | None = None
    jobs: list[RestoreJob] = field(default_factory=list)
    kubes: list[KubeApi] = field(default_factory=list)
    stores: list[SnapshotStore] = field(default_factory=list)

    async def run(
        self, job: RestoreJob, *, kube: KubeApi, store: SnapshotStore, progress: Progress | None = None
    ) -> RestoreResult:
        self.jobs.append(job)
        self.kubes.append(kube)
        self.stores.append(store)
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result
