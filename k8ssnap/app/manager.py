"""Wiring of the controller process: informers, queues, reconcilers, leader election.

Only the leader runs informers and workers, so two replicas never
reconcile at once; a follower campaigns and takes over within the lease
duration after the leader dies. On SIGTERM the process stops taking work,
lets in-flight reconciles finish within the grace period, releases the
lease, and exits. A snapshot cut off by the grace period stays InProgress
and is taken again by the next leader (see :mod:`k8ssnap.controllers.snapshots`).

An error that escapes the leading task (a bug, or a start-up step that
cannot work) is not lost leadership: it ends :meth:`Manager.run` with that
very error, and the process exits non-zero with its traceback logged (see
:mod:`k8ssnap.app.controller`), so that the Deployment restarts it with
back-off -- as a controller-runtime manager does when a runnable fails. A
process in an unknown state does not campaign again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from k8ssnap import errors
from k8ssnap.api import constants
from k8ssnap.app.flags import Flags
from k8ssnap.controllers import clusters, housekeeping, objectstores
from k8ssnap.controllers.context import Context, Settings, StoreOpener
from k8ssnap.controllers.etcdsnapshots import EtcdSnapshotReconciler
from k8ssnap.controllers.events import EventRecorder
from k8ssnap.controllers.restores import RestoreReconciler
from k8ssnap.controllers.schedules import ScheduleReconciler
from k8ssnap.controllers.snapshots import SnapshotReconciler
from k8ssnap.domain import stores
from k8ssnap.kube.api import KubeApi
from k8ssnap.kube.listwatch import LeaseStore, ResourceListWatcher
from k8ssnap.restore.engine import RestoreEngine
from k8ssnap.runtime import memory
from k8ssnap.runtime.clock import Clock
from k8ssnap.runtime.controller import Controller, Requeue
from k8ssnap.runtime.delaying import RateLimitingQueue
from k8ssnap.runtime.informer import Informer
from k8ssnap.runtime.leader import LeaderElectionConfig, LeaderElector, LeaseClient
from k8ssnap.runtime.metrics import Registry
from k8ssnap.runtime.queuemetrics import RegistryQueueMetricsProvider
from k8ssnap.runtime.source import ListWatcher, ObjectKey, key_of
from k8ssnap.snapshot.engine import SnapshotEngine
from k8ssnap.snapshot.etcd import EtcdSnapshotEngine

log = logging.getLogger(__name__)

LEASE_NAME = "k8ssnap-controller"
RESYNC_SECONDS = 300.0


def settings_from(flags: Flags) -> Settings:
    return Settings(
        namespace=flags.namespace,
        snapshot_threads=flags.snapshot_threads,
        lister_concurrency=flags.lister_concurrency or flags.snapshot_threads,
        gzip_level=flags.gzip_level,
        restore_threads=flags.restore_threads,
        max_retry_elapsed=flags.max_retry_elapsed_sec,
        insecure=flags.insecure,
        insecure_kubeconfig_tls=flags.insecure_kubeconfig_tls,
        create_bucket=flags.create_bucket,
        housekeep_store=flags.housekeep_store,
        restore_snapshots=flags.restore_snapshots,
        validate_file_info=flags.validate_file_info,
        housekeeping_interval=flags.housekeeping_interval,
        pki_root=flags.pki_root,
        folder_store_root=flags.folder_store_root,
    )


class Manager:
    """Runs the controller until :meth:`run`'s task is cancelled."""

    def __init__(
        self,
        *,
        kube: KubeApi,
        flags: Flags,
        registry: Registry | None = None,
        sources: Callable[[constants.ResourceKind], ListWatcher] | None = None,
        leases: LeaseClient | None = None,
        stores: StoreOpener | None = None,
    ) -> None:
        """``sources`` (the LIST/WATCH of each kind's informer), ``leases`` and ``stores``
        default to the real ones over ``kube``; tests inject fakes."""
        self.kube = kube
        self.flags = flags
        self.settings = settings_from(flags)
        self.registry = registry or Registry()
        self._sources = sources or (
            lambda kind: ResourceListWatcher(kube, kind.path(self.settings.namespace))
        )
        self._leases = leases or LeaseStore(kube, self.settings.namespace)
        self._stores = stores or objectstores.ConfigStores()
        self.identity = f"{socket.gethostname()}-{os.getpid()}"
        self._queue_metrics = RegistryQueueMetricsProvider(self.registry)
        self.leading = False
        self.synced = False
        self.grace = 30.0
        self.etcd_snapshots = False
        """Whether the EtcdSnapshot CRD is installed (found at start); without it, no such controller."""

    def ready(self) -> bool:
        return self.synced or not self.leading

    async def run(self) -> None:
        await self._startup_checks()
        if not self.flags.leader_elect:
            await self._lead()
            return
        config = LeaderElectionConfig(
            lease_name=LEASE_NAME, namespace=self.settings.namespace, identity=self.identity
        )
        elector = LeaderElector(config=config, client=self._leases)
        while True:
            await elector.run(self._lead, self._stopped_leading)
            log.warning("lost leadership; campaigning again")

    async def _stopped_leading(self) -> None:
        self.leading = False
        self.synced = False

    async def _startup_checks(self) -> None:
        try:
            await self.kube.get(f"/api/v1/namespaces/{self.settings.namespace}")
        except errors.NotFound:
            raise errors.ConfigError(f"namespace {self.settings.namespace!r} does not exist") from None
        for kind in constants.KINDS:
            try:
                await self.kube.get(
                    f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{kind.crd_name}"
                )
            except errors.NotFound:
                raise errors.ConfigError(
                    f"CRD {kind.crd_name} is not installed: kubectl apply -f artifacts/crd.yaml"
                ) from None
        crd = constants.ETCD_SNAPSHOT.crd_name
        try:
            await self.kube.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd}")
            self.etcd_snapshots = True
        except errors.NotFound:
            log.warning("CRD %s is not installed: EtcdSnapshots are not reconciled", crd)

    def _informer(self, kind: constants.ResourceKind) -> Informer:
        return Informer(name=kind.plural, source=self._sources(kind), resync_period=RESYNC_SECONDS)

    def _queue(self, name: str) -> RateLimitingQueue[ObjectKey]:
        return RateLimitingQueue(name=name, metrics=self._queue_metrics)

    async def _lead(self) -> None:
        self.leading = True
        log.info("leading as %s", self.identity)
        kinds = (*constants.KINDS, constants.ETCD_SNAPSHOT) if self.etcd_snapshots else constants.KINDS
        informers = {kind.plural: self._informer(kind) for kind in kinds}
        ctx = Context(
            kube=self.kube,
            stores=self._stores,
            clusters=clusters.KubeconfigConnector(),
            settings=self.settings,
            informers=informers,
            events=EventRecorder(self.kube, namespace=self.settings.namespace, host=socket.gethostname()),
            metrics=self.registry,
            list_slots=asyncio.Semaphore(self.settings.lister_concurrency),
        )
        queues = {
            name: self._queue(name)
            for name in ("snapshots", "restores", "objectstoreconfigs", "snapshotschedules")
        }
        _enqueue_on_change(
            informers["snapshots"],
            queues["snapshots"],
            also=(queues["objectstoreconfigs"], informers["objectstoreconfigs"]),
        )
        _enqueue_on_change(informers["restores"], queues["restores"])
        _enqueue_on_change(informers["objectstoreconfigs"], queues["objectstoreconfigs"])
        _enqueue_on_change(informers["snapshotschedules"], queues["snapshotschedules"])
        _enqueue_schedule_of(informers["snapshots"], queues["snapshotschedules"])
        snapshots = SnapshotReconciler(
            ctx, SnapshotEngine(slots=ctx.list_slots, gzip_level=self.settings.gzip_level)
        )
        restores = RestoreReconciler(ctx, RestoreEngine(concurrency=self.settings.restore_threads))
        schedules = ScheduleReconciler(ctx)
        controllers = [
            self._controller("snapshots", queues, snapshots.reconcile, self.settings.snapshot_threads),
            self._controller("restores", queues, restores.reconcile, self.settings.restore_threads),
            self._controller("objectstoreconfigs", queues, lambda k: objectstores.reconcile(ctx, k), 1),
            self._controller("snapshotschedules", queues, schedules.reconcile, 2),
        ]
        if self.etcd_snapshots:
            plural = constants.ETCD_SNAPSHOT.plural
            queues[plural] = self._queue(plural)
            _enqueue_on_change(
                informers[plural],
                queues[plural],
                also=(queues["objectstoreconfigs"], informers["objectstoreconfigs"]),
            )
            _enqueue_schedule_of(informers[plural], queues["snapshotschedules"])
            etcd = EtcdSnapshotReconciler(ctx, EtcdSnapshotEngine())
            workers = self.settings.snapshot_threads
            controllers.append(self._controller(plural, queues, etcd.reconcile, workers))
        try:
            async with asyncio.TaskGroup() as group:
                running = [
                    group.create_task(informer.run(), name=f"informer-{informer.name}")
                    for informer in informers.values()
                ]
                try:
                    await asyncio.gather(*(i.wait_for_sync() for i in informers.values()))
                    self.synced = True
                    keeper = housekeeping.Housekeeper(ctx)
                    if self.settings.restore_snapshots:
                        await keeper.restore_snapshots()
                    tasks = [group.create_task(c.run(), name=f"controller-{c.name}") for c in controllers]
                    running.append(group.create_task(_settle_memory(ctx.clock), name="memory"))
                    if self.settings.housekeep_store:
                        tasks.append(group.create_task(keeper.run(), name="housekeeping"))
                    await asyncio.gather(*tasks)
                finally:
                    await asyncio.gather(*(c.stop(self.grace) for c in controllers), return_exceptions=True)
                    for queue in queues.values():
                        queue.shut_down()
                    for task in running:
                        task.cancel()
        except BaseExceptionGroup as group_error:
            raise _first_leaf(group_error) from None

    def _controller(
        self,
        name: str,
        queues: dict[str, RateLimitingQueue[ObjectKey]],
        reconcile: Callable[[ObjectKey], Awaitable[Requeue | None]],
        workers: int,
    ) -> Controller[ObjectKey]:
        return Controller(
            name=name, queue=queues[name], reconcile=reconcile, workers=workers, registry=self.registry
        )


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first real error of a TaskGroup, so that its own traceback is what gets logged."""
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


async def _settle_memory(clock: Clock, *, after: float = 2.0) -> None:
    """Once the first reconciles after start-up are done, give their garbage back."""
    await clock.sleep(after)
    memory.give_back()


def _enqueue_on_change(
    informer: Informer,
    queue: RateLimitingQueue[ObjectKey],
    *,
    also: tuple[RateLimitingQueue[ObjectKey], Informer] | None = None,
) -> None:
    """Handlers only enqueue keys (client-go style).

    ``also`` = (the ObjectstoreConfig queue and informer): a Snapshot's change
    queues the ObjectstoreConfig it uses too (:func:`k8ssnap.domain.stores.uses_config`),
    whose finalizer follows its users.
    """

    def enqueue(obj: dict[str, Any]) -> None:
        queue.add(key_of(obj))
        if also is not None:
            other, configs = also
            named = (obj.get("spec") or {}).get("objectstoreConfig")
            names = [str(item["metadata"]["name"]) for item in configs.list()]
            for item in configs.list():
                if stores.uses_config(named, config=str(item["metadata"]["name"]), configs=names):
                    other.add(key_of(item))

    informer.add_handler(on_add=enqueue, on_update=lambda _old, new: enqueue(new), on_delete=enqueue)


def _enqueue_schedule_of(snapshots: Informer, queue: RateLimitingQueue[ObjectKey]) -> None:
    """A Snapshot's (or EtcdSnapshot's) change queues the SnapshotSchedule named by its schedule
    label, so that retention and the schedule's status follow its runs (and Forbid ends when one
    finishes)."""

    def enqueue(obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        schedule = (meta.get("labels") or {}).get(constants.SCHEDULE_LABEL)
        if isinstance(schedule, str) and schedule:
            queue.add(ObjectKey(key_of(obj).namespace, schedule))

    snapshots.add_handler(on_add=enqueue, on_update=lambda _old, new: enqueue(new), on_delete=enqueue)


async def run_until_signalled(manager: Manager, *, stop: asyncio.Event) -> None:
    """Run ``manager`` until ``stop`` is set, then shut down gracefully."""
    task = asyncio.create_task(manager.run(), name="manager")
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if not task.done():
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
