"""In-memory collaborators for the reconcilers, in the style of client-go's fake clientset.

* :class:`FakeKube` records every call (``get``, ``create``, ``replace``,
  ``merge_patch``, ``delete``, ``request``) as a :class:`Call`; ``get``
  answers from :attr:`FakeKube.objects` (path -> object) or raises
  :class:`~k8ssnap.errors.NotFound`; :meth:`FakeKube.fail` makes a path
  raise a given error. Events posted by the :class:`EventRecorder` built on
  it show up as creates to ``.../events`` and are read with
  :meth:`FakeKube.events`; :meth:`FakeKube.writes` is every other write.
* :class:`FakeStore` is a bucket as a dict of key -> :class:`Blob`.
* Real :class:`~k8ssnap.runtime.informer.Informer` objects are used as the
  caches, filled through their reflector-facing store methods and never run.
* Builders make raw custom resources relative to ``now``.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from k8ssnap import errors, retry
from k8ssnap.api import constants
from k8ssnap.archive.index import ArchiveIndex, SnapshotMeta
from k8ssnap.controllers.context import Context, Settings
from k8ssnap.controllers.events import EventRecorder
from k8ssnap.domain import expiry
from k8ssnap.kube.client import KubeClient
from k8ssnap.restore.job import RestoreJob, RestoreResult
from k8ssnap.runtime.informer import Informer
from k8ssnap.runtime.metrics import Registry
from k8ssnap.runtime.source import ListPage, ObjectKey, WatchEvent
from k8ssnap.snapshot.engine import SnapshotJob, SnapshotOutcome
from k8ssnap.store.objectstore import StoredObject

NS = constants.DEFAULT_NAMESPACE
EVENTS_PATH = f"/api/v1/namespaces/{NS}/events"
PLURALS = tuple(kind.plural for kind in constants.KINDS)


def utcnow() -> dt.datetime:
    """Now, to the second (timestamps in statuses have whole seconds)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def ts(moment: dt.datetime) -> str:
    """``moment`` as the API writes it."""
    return expiry.format_time(moment)


# --- the kube-apiserver ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Call:
    """One call on the fake client: ``method`` is the KubeClient method's name."""

    method: str
    path: str
    body: Any = None


class FakeKube:
    """A KubeClient stand-in; see the module docstring."""

    host = "https://fake-apiserver"

    def __init__(self, objects: Mapping[str, dict[str, Any]] | None = None) -> None:
        self.objects: dict[str, dict[str, Any]] = dict(objects or {})
        self.calls: list[Call] = []
        self._errors: dict[tuple[str | None, str], Exception] = {}

    def fail(self, path: str, error: Exception, *, method: str | None = None) -> None:
        """Make every ``method`` call (any method if None) on ``path`` raise ``error``."""
        self._errors[(method, path)] = error

    def _call(self, method: str, path: str, body: Any = None) -> None:
        self.calls.append(Call(method, path, copy.deepcopy(body)))
        error = self._errors.get((method, path)) or self._errors.get((None, path))
        if error is not None:
            raise error

    # -- the KubeClient surface ------------------------------------------------

    async def get(self, path: str, query: Mapping[str, str | int] | None = None) -> dict[str, Any]:
        self._call("get", path)
        if path not in self.objects:
            raise errors.NotFound(f"GET {path}: not found")
        return copy.deepcopy(self.objects[path])

    async def create(self, collection: str, obj: Mapping[str, Any]) -> dict[str, Any]:
        self._call("create", collection, obj)
        path = f"{collection}/{obj['metadata']['name']}"
        if path in self.objects:
            raise errors.AlreadyExists(f"POST {collection}: {obj['metadata']['name']} already exists")
        self.objects[path] = copy.deepcopy(dict(obj))
        return copy.deepcopy(dict(obj))

    async def replace(self, path: str, obj: Mapping[str, Any]) -> dict[str, Any]:
        self._call("replace", path, obj)
        self.objects[path] = copy.deepcopy(dict(obj))
        return copy.deepcopy(dict(obj))

    async def merge_patch(self, path: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        self._call("merge_patch", path, patch)
        target = path.removesuffix("/status")
        if target in self.objects:
            self._precondition(target, (patch.get("metadata") or {}).get("resourceVersion"))
            self.objects[target] = merged(self.objects[target], patch)
            self._bump(target)
            return copy.deepcopy(self.objects[target])
        return {}

    async def delete(
        self, path: str, *, propagation: str = "Background", resource_version: str | None = None
    ) -> None:
        self._call(
            "delete", path, None if resource_version is None else {"resourceVersion": resource_version}
        )
        if path in self.objects:
            self._precondition(path, resource_version)
        self.objects.pop(path, None)

    def _precondition(self, path: str, resource_version: str | None) -> None:
        """The API server's optimistic concurrency for objects the fake holds."""
        current = self.objects[path]["metadata"].get("resourceVersion")
        if resource_version is not None and resource_version != current:
            raise errors.Conflict(
                f"{path}: the object has been modified (at {current}, not {resource_version})"
            )

    def _bump(self, path: str) -> None:
        meta = self.objects[path]["metadata"]
        meta["resourceVersion"] = str(int(meta.get("resourceVersion") or 0) + 1)

    async def request(self, method: str, path: str, **kwargs: Any) -> bytes:
        self._call(f"request {method}", path, kwargs.get("body"))
        return b"{}"

    async def close(self) -> None:
        return None

    # -- what tests read ---------------------------------------------------------

    def writes(self) -> list[Call]:
        """Every create, replace, merge patch and delete but the Events, in order."""
        return [
            call
            for call in self.calls
            if call.method in ("create", "replace", "merge_patch", "delete") and call.path != EVENTS_PATH
        ]

    def events(self) -> list[tuple[str, str, str]]:
        """``(type, reason, message)`` of every Event posted, in order."""
        return [
            (call.body["type"], call.body["reason"], call.body["message"])
            for call in self.calls
            if call.method == "create" and call.path == EVENTS_PATH
        ]

    def event_bodies(self) -> list[dict[str, Any]]:
        return [c.body for c in self.calls if c.method == "create" and c.path == EVENTS_PATH]

    def reasons(self) -> list[str]:
        return [reason for _, reason, _ in self.events()]


def merged(target: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """RFC 7386 JSON merge patch of ``target`` with ``patch`` (a new dict)."""
    out = copy.deepcopy(dict(target))
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def as_client(kube: FakeKube) -> KubeClient:
    return cast(KubeClient, kube)


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


def world(settings: Settings | None = None, *, kube: FakeKube | None = None) -> World:
    kube = kube or FakeKube()
    client = as_client(kube)
    ctx = Context(
        kube=client,
        settings=settings or Settings(),
        informers=informers(),
        events=EventRecorder(client, namespace=NS, host="test"),
        metrics=Registry(),
    )
    return World(kube=kube, ctx=ctx)


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


@dataclass
class Blob:
    data: bytes
    metadata: dict[str, str]
    last_modified: dt.datetime
    size: int


class FakeUpload:
    def __init__(self, store: FakeStore, key: str, metadata: Mapping[str, str]) -> None:
        self._store = store
        self._key = key
        self._metadata = dict(metadata)
        self._chunks: list[bytes] = []
        self.aborted = False

    async def write(self, chunk: bytes) -> None:
        self._chunks.append(chunk)

    async def complete(self) -> StoredObject:
        return self._store.add(self._key, b"".join(self._chunks), metadata=self._metadata)

    async def abort(self) -> None:
        self.aborted = True


class FakeStore:
    """A bucket in memory. ``fail(op, key, error)`` makes one operation on one key raise."""

    def __init__(self, *, bucket: str = "bkt", prefix: str = "") -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.blobs: dict[str, Blob] = {}
        self.calls: list[tuple[str, str]] = []
        self.check_errors: list[Exception] = []
        self.stale_cutoffs: list[tuple[str, dt.datetime]] = []
        self.backoff = retry.Backoff()
        self.closed = False
        #: ObjectstoreConfig names the patched ``open_store`` was asked for, and ones it refuses.
        self.opened: list[str | None] = []
        self.refused: dict[str | None, Exception] = {}
        #: The ``spec.encryption`` of the ObjectstoreConfig the patched ``config_for`` returns.
        self.encryption: dict[str, Any] = {}
        self._errors: dict[tuple[str, str], Exception] = {}

    def fail(self, op: str, key: str, error: Exception) -> None:
        self._errors[(op, key)] = error

    def _op(self, op: str, key: str) -> None:
        self.calls.append((op, key))
        error = self._errors.get((op, key))
        if error is not None:
            raise error

    def add(
        self,
        key: str,
        data: bytes = b"",
        *,
        metadata: Mapping[str, str] | None = None,
        last_modified: dt.datetime | None = None,
        size: int | None = None,
    ) -> StoredObject:
        blob = Blob(
            data=data,
            metadata=dict(metadata or {}),
            last_modified=last_modified or utcnow(),
            size=len(data) if size is None else size,
        )
        self.blobs[key] = blob
        return StoredObject(key=key, size=blob.size, last_modified=blob.last_modified, metadata=blob.metadata)

    def deleted(self) -> list[str]:
        return [key for op, key in self.calls if op == "delete"]

    # -- the S3Store surface -----------------------------------------------------

    async def check(self) -> None:
        self.calls.append(("check", self.bucket))
        if self.check_errors:
            raise self.check_errors.pop(0)

    async def create_bucket(self) -> None:
        self.calls.append(("create_bucket", self.bucket))

    def upload(self, key: str, *, metadata: Mapping[str, str]) -> FakeUpload:
        return FakeUpload(self, key, metadata)

    async def put(self, key: str, data: bytes, *, metadata: Mapping[str, str]) -> StoredObject:
        self._op("put", key)
        return self.add(key, data, metadata=metadata)

    async def download(self, key: str) -> AsyncIterator[bytes]:
        yield await self.get(key)

    async def get(self, key: str) -> bytes:
        self._op("get", key)
        if key not in self.blobs:
            raise errors.ObjectMissing(f"GET {key}: the key does not exist")
        return self.blobs[key].data

    async def head(self, key: str) -> StoredObject:
        self._op("head", key)
        blob = self.blobs.get(key)
        if blob is None:
            raise errors.ObjectMissing(f"HEAD {key}: the key does not exist")
        return StoredObject(key=key, size=blob.size, last_modified=blob.last_modified, metadata=blob.metadata)

    async def list(self, prefix: str) -> AsyncIterator[StoredObject]:
        self._op("list", prefix)
        for key in sorted(self.blobs):
            if key.startswith(prefix):
                blob = self.blobs[key]
                # as S3's LIST: no user metadata
                yield StoredObject(key=key, size=blob.size, last_modified=blob.last_modified, metadata={})

    async def delete(self, key: str) -> None:
        self._op("delete", key)
        self.blobs.pop(key, None)

    async def abort_stale_uploads(self, prefix: str, *, older_than: dt.datetime) -> int:
        self.stale_cutoffs.append((prefix, older_than))
        return 0

    async def close(self) -> None:
        self.closed = True


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
    kubes: list[Any] = field(default_factory=list)
    stores: list[Any] = field(default_factory=list)

    async def run(self, job: SnapshotJob, *, kube: Any, store: Any, progress: Any = None) -> SnapshotOutcome:
        self.jobs.append(job)
        self.kubes.append(kube)
        self.stores.append(store)
        if self.error is not None:
            raise self.error
        assert self.outcome is not None
        return self.outcome


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
    kubes: list[Any] = field(default_factory=list)
    stores: list[Any] = field(default_factory=list)

    async def run(self, job: RestoreJob, *, kube: Any, store: Any, progress: Any = None) -> RestoreResult:
        self.jobs.append(job)
        self.kubes.append(kube)
        self.stores.append(store)
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result
