"""What every reconciler shares: the controller's own cluster, caches, settings."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from k8ssnap import errors
from k8ssnap.api import constants
from k8ssnap.api.meta import KubeconfigRef
from k8ssnap.api.resources import ObjectstoreConfig
from k8ssnap.controllers.events import EventRecorder
from k8ssnap.domain import expiry, timestamps
from k8ssnap.kube.api import KubeApi
from k8ssnap.runtime.clock import Clock, RealClock
from k8ssnap.runtime.controller import Requeue
from k8ssnap.runtime.informer import Informer
from k8ssnap.runtime.metrics import Registry
from k8ssnap.runtime.source import ObjectKey
from k8ssnap.store.snapshots import SnapshotStore


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """The controller flags reconcilers need."""

    namespace: str = constants.DEFAULT_NAMESPACE
    snapshot_threads: int = 5
    lister_concurrency: int = 5
    """Parallel LISTs across all snapshots (the engine's slots)."""
    gzip_level: int = 6
    """Deflate level of the archives."""
    restore_threads: int = 8
    max_retry_elapsed: float = 300.0
    insecure: bool = False
    """``--insecure``: the object store's TLS certificate is not verified."""
    insecure_kubeconfig_tls: bool = False
    """``--insecure-kubeconfig-tls``: a kubeconfig from a custom resource may skip TLS verification."""
    create_bucket: bool = False
    housekeep_store: bool = True
    restore_snapshots: bool = True
    validate_file_info: bool = True
    housekeeping_interval: float = 300.0
    store_check_interval: float = 300.0
    pki_root: str | None = None
    """--pki-root: the only folder EtcdSnapshots may read certificates from (None: none)."""
    folder_store_root: str | None = None
    """--folder-store-root: the only folder a file:// ObjectstoreConfig may use (None: none)."""


@dataclass(frozen=True, slots=True)
class Subject:
    """The custom resource a piece of work is for: where Events about it go (for example
    :mod:`k8ssnap.controllers.insecure`'s)."""

    kind: constants.ResourceKind
    obj: dict[str, Any]

    @property
    def name(self) -> str:
        return str((self.obj.get("metadata") or {}).get("name", ""))


class StoreOpener(Protocol):
    """Opens the :class:`SnapshotStore` of ObjectstoreConfig ``name`` (None: the only one).

    Production: :class:`k8ssnap.controllers.objectstores.ConfigStores`; tests:
    :class:`k8ssnap.testing.FakeStores`. ``max_elapsed`` overrides the retry budget
    (``--maxretryelapsedsec``) of every call on the store; ``subject`` is the resource the
    work is for (Events about the store go there). Raises
    :class:`~k8ssnap.errors.ConfigError` when the config or its credentials are unusable.
    """

    def __call__(
        self, ctx: Context, name: str | None, *, subject: Subject, max_elapsed: float | None = None
    ) -> AbstractAsyncContextManager[SnapshotStore]: ...

    async def config(self, ctx: Context, name: str | None) -> ObjectstoreConfig:
        """The ObjectstoreConfig ``name`` (the only one, if None) itself, e.g. for its
        ``spec.encryption``; ConfigError if it is missing or ambiguous."""
        ...


class ClusterConnector(Protocol):
    """A client for the cluster a custom resource's kubeconfig reference names.

    Production: :class:`k8ssnap.controllers.clusters.KubeconfigConnector`; tests:
    :class:`k8ssnap.testing.FakeConnector`. An in-cluster reference yields ``ctx.kube``.
    """

    def __call__(
        self, ctx: Context, ref: KubeconfigRef, *, subject: Subject
    ) -> AbstractAsyncContextManager[KubeApi]: ...


@dataclass(slots=True, kw_only=True)
class Context:
    """Shared by all reconcilers of one controller process; every adapter is injected."""

    kube: KubeApi
    stores: StoreOpener
    clusters: ClusterConnector
    settings: Settings
    informers: dict[str, Informer]
    events: EventRecorder
    metrics: Registry
    list_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(5))
    store_checks: dict[str, tuple[int, float]] = field(default_factory=dict)
    """ObjectstoreConfig name -> (generation, monotonic time) of its last store check."""
    reading: dict[str, str] = field(default_factory=dict)
    """Restore name -> the Snapshot it was claimed with, from its claim until its run ends;
    a Snapshot's archive is not deleted while any reads it (:mod:`k8ssnap.domain.readers`)."""
    clock: Clock = field(default_factory=RealClock)
    """Monotonic time and sleeping, for retries (a FakeClock in tests)."""

    def cached(self, kind: constants.ResourceKind, name: str) -> dict[str, Any] | None:
        """The cached object of ``kind`` named ``name`` in our namespace (never mutate it)."""
        return self.informers[kind.plural].get(ObjectKey(self.settings.namespace, name))

    def path(self, kind: constants.ResourceKind, name: str | None = None, *, status: bool = False) -> str:
        """The API path of one of our resources (or its collection)."""
        return kind.path(self.settings.namespace, name, status=status)

    async def expire(
        self, kind: constants.ResourceKind, raw: dict[str, Any], until: dt.datetime, *, what: str
    ) -> Requeue | None:
        """Delete ``raw`` (an Event ``Expired``: "<what> <until>") once ``until`` has passed;
        otherwise ask to be reconciled again then."""
        now = dt.datetime.now(dt.UTC)
        if not expiry.is_expired(until, now):
            return Requeue(after=max(expiry.seconds_until(until, now), 0.5))
        await self.events.record(
            raw, kind=kind, reason="Expired", message=f"{what} {timestamps.format_time(until)}"
        )
        await self.delete_if_unchanged(kind, raw)
        return None

    async def delete_if_unchanged(self, kind: constants.ResourceKind, raw: dict[str, Any]) -> None:
        """Delete ``raw``, preconditioned on its resourceVersion (see :meth:`write_status`)."""
        meta = raw["metadata"]
        await self.kube.delete(self.path(kind, meta["name"]), resource_version=meta["resourceVersion"])

    async def add_finalizer(self, kind: constants.ResourceKind, raw: dict[str, Any]) -> None:
        """Add k8ssnap's finalizer to ``raw``, preconditioned on its resourceVersion."""
        meta = raw["metadata"]
        finalizers = [*list(meta.get("finalizers") or []), constants.FINALIZER]
        await self.kube.merge_patch(
            self.path(kind, meta["name"]),
            {"metadata": {"finalizers": finalizers, "resourceVersion": meta["resourceVersion"]}},
        )

    async def remove_finalizer(self, kind: constants.ResourceKind, raw: dict[str, Any]) -> None:
        """Remove k8ssnap's finalizer from ``raw`` (preconditioned); an object already gone is fine."""
        meta = raw["metadata"]
        finalizers = [f for f in meta.get("finalizers") or [] if f != constants.FINALIZER]
        with contextlib.suppress(errors.NotFound):
            await self.kube.merge_patch(
                self.path(kind, meta["name"]),
                {"metadata": {"finalizers": finalizers, "resourceVersion": meta["resourceVersion"]}},
            )

    async def write_status(
        self,
        kind: constants.ResourceKind,
        raw: dict[str, Any],
        body: Any,
        *,
        event: tuple[str, str],
        if_unchanged: bool = False,
    ) -> None:
        """Replace ``raw``'s status with ``body`` (a merge patch of the status subresource) and
        post an Event ``(reason, message)``; a "Failed" reason makes it a Warning.

        ``if_unchanged`` preconditions the patch on ``raw``'s resourceVersion, so that a
        transition decided from the cache is refused (:class:`~k8ssnap.errors.Conflict`) when
        the cache lags behind the server -- typically behind our own last write, whose watch
        event has not arrived yet. Every phase change that starts work must use it; the
        write that reports the outcome of work already claimed need not."""
        patch: dict[str, Any] = {"status": body}
        if if_unchanged:
            patch["metadata"] = {"resourceVersion": raw["metadata"]["resourceVersion"]}
        await self.kube.merge_patch(self.path(kind, raw["metadata"]["name"], status=True), patch)
        reason, message = event
        await self.events.record(raw, kind=kind, reason=reason, message=message, warning=reason == "Failed")
