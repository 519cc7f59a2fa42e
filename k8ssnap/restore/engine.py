"""Restoring one snapshot archive into one cluster, tier by tier.

Pipeline::

    SnapshotStore.download_archive -> ArchiveReader (gunzip, untar, integrity)
      -> classify + PlanFacts -> Spool (one temp file per tier)      [intake]
      -> checksum, size and snapshot name verified                   [nothing created yet]
      -> destination discovery
      -> per tier, first to last: spool records -> N workers:
           exclusion_reason -> place (transform, namespace mapping)
           -> version the destination serves -> POST (or PUT when overwriting)
      -> after CRDs: wait Established, re-discover
      -> after storage: wait for created claims to be Bound
      -> destination resourceVersion and time -> RestoreResult

Contracts:

* A corrupt, truncated or unexpected archive raises
  :class:`~k8ssnap.errors.ArchiveError` and creates nothing.
* Tiers never overlap: a tier starts when every object of the previous
  one has an outcome. Inside a tier at most ``concurrency`` objects are
  in flight, and memory holds at most that many objects.
* Per-object problems (excluded, not served, API errors after retries,
  a claim that does not bind, a body whose ``metadata.name`` or
  ``namespace`` differs from its archive path, and any unexpected error
  about one object) go to the result lists; they never stop the restore.
  Only store, archive and spool failures, and a destination whose
  discovery or resourceVersion cannot be read, raise.
* The spool directory is removed however :meth:`RestoreEngine.run` ends.
* A dry run (``job.dry_run``) takes the same path with every write sent as
  ``dryRun=All`` and no waits. What the server cannot check because an
  earlier would-create is missing (objects in a namespace the restore would
  create, custom resources of a CRD it would create) counts as would-create.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from k8ssnap import errors, retry
from k8ssnap.domain import kinds
from k8ssnap.domain.facts import PlanFacts
from k8ssnap.domain.paths import GroupResource, ObjectRef, collection_path, parse_path
from k8ssnap.domain.placement import place
from k8ssnap.domain.plan import exclusion_reason
from k8ssnap.domain.tiers import Tier
from k8ssnap.kube import discovery, listing
from k8ssnap.kube.api import KubeApi
from k8ssnap.restore import readiness
from k8ssnap.restore.intake import take_in
from k8ssnap.restore.job import RestoreJob, RestoreResult
from k8ssnap.restore.ledger import Ledger, Outcome
from k8ssnap.restore.spool import Record, Spool
from k8ssnap.restore.target import Target, Unserved
from k8ssnap.restore.writer import ObjectWriter
from k8ssnap.store.snapshots import SnapshotStore

log = logging.getLogger(__name__)

Progress = Callable[[int], None]

SETTLE_TIMEOUT = 30.0


class RestoreEngine:
    """Runs restores. ``concurrency`` bounds parallel creates (``--restorethreads``).

    ``crd_timeout`` bounds the wait for restored CRDs to be served, and
    ``bind_timeout`` the wait for restored claims to be Bound (30 s each).
    ``spool_dir`` is where temporary spool directories are made (the
    system's temporary directory by default).
    """

    def __init__(
        self,
        *,
        concurrency: int,
        crd_timeout: float = SETTLE_TIMEOUT,
        bind_timeout: float = SETTLE_TIMEOUT,
        spool_dir: Path | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        self._limits = _Limits(concurrency=concurrency, crd_timeout=crd_timeout, bind_timeout=bind_timeout)
        self._spool_dir = spool_dir

    async def run(
        self,
        job: RestoreJob,
        *,
        kube: KubeApi,
        store: SnapshotStore,
        progress: Progress | None = None,
    ) -> RestoreResult:
        """Restore ``job``'s archive into the cluster behind ``kube``; see the module contract."""
        ledger = Ledger(progress=progress, keep=job.result_entries, remember=_REMEMBERED)
        async with await Spool.create(parent=self._spool_dir) as spool:
            intake = await take_in(job, store=store, spool=spool)
            found = await retry.retrying(
                lambda: discovery.discover(kube), backoff=job.backoff, what="discovery"
            )
            run = _Run(
                job=job,
                kube=kube,
                spool=spool,
                facts=intake.facts,
                ledger=ledger,
                target=Target(found),
                writer=ObjectWriter(
                    kube=kube, backoff=job.backoff, overwrite=job.overwrites, dry_run=job.dry_run
                ),
                limits=self._limits,
            )
            await run.all_tiers()
        resource_version = await retry.retrying(
            lambda: listing.current_resource_version(kube),
            backoff=job.backoff,
            what="resourceVersion",
        )
        result = ledger.result(
            num_preference_excluded=intake.num_preference_excluded,
            num_snapshot_contents=intake.num_snapshot_contents,
            resource_version=resource_version,
            timestamp=dt.datetime.now(dt.UTC).replace(microsecond=0),
            dry_run=job.dry_run,
        )
        log.info(
            "%s of %s: %d created, %d updated, %d already existed, %d excluded, %d failed",
            "dry run" if job.dry_run else "restore",
            job.snapshot_name,
            result.totals.created,
            result.totals.updated,
            result.totals.already_existed,
            result.totals.excluded,
            result.totals.failed,
        )
        return result


#: The resources whose restored paths the steps after a tier need, whatever the job's ``result_entries``.
_REMEMBERED = (kinds.NAMESPACES, kinds.CRDS, kinds.PERSISTENT_VOLUME_CLAIMS)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Limits:
    """How much a restore may do at once, and how long it waits after a tier."""

    concurrency: int
    crd_timeout: float
    bind_timeout: float


@dataclass(slots=True, kw_only=True)
class _Run:
    """The second pass of one restore: the tiers, in order."""

    job: RestoreJob
    kube: KubeApi
    spool: Spool
    facts: PlanFacts
    ledger: Ledger
    target: Target
    writer: ObjectWriter
    limits: _Limits
    #: Dry run only: Namespaces and CRDs (by name) the restore would create.
    planned: frozenset[tuple[GroupResource, str]] = frozenset()

    async def all_tiers(self) -> None:
        """Restore every tier, first to last, with the waits that follow two of them."""
        for tier in Tier:
            await self._tier(tier)
            if self.job.dry_run:
                if tier is Tier.CRDS:
                    self.planned = self._would_create(kinds.NAMESPACES, kinds.CRDS)
            elif tier is Tier.CRDS:
                await self._after_crds()
            elif tier is Tier.STORAGE:
                await self._after_storage()

    async def _tier(self, tier: Tier) -> None:
        """Restore one tier with at most ``concurrency`` objects in flight."""
        count = self.spool.count(tier)
        if not count:
            return
        records = self.spool.records(tier)
        lock = asyncio.Lock()

        async def next_record() -> Record | None:
            async with lock:
                return await anext(records, None)

        async def work() -> None:
            while (record := await next_record()) is not None:
                await self._restore(*record)

        workers = min(self.limits.concurrency, count)
        try:
            await _all(work() for _ in range(workers))
        finally:
            await records.aclose()
        log.debug("tier %s: %d objects done", tier.name, count)

    async def _restore(self, path: str, body: bytes) -> None:
        """Decide and, if kept, write one spooled object; record its outcome.

        Any unexpected error about this one object (a bug meeting an odd
        archived object) becomes its ``failed`` entry, never the end of the
        restore: earlier tiers are already created, and the other objects
        deserve their turn. Cancellation still ends the restore.
        """
        try:
            await self._place(path, body)
        except Exception as error:
            log.exception("restore of %s: unexpected error about %s", self.job.snapshot_name, path)
            self.ledger.failed(path, f"internal error: {type(error).__name__}: {error}")

    async def _place(self, path: str, body: bytes) -> None:
        obj = orjson.loads(body)
        ref = parse_path(path)
        mismatch = identity_mismatch(ref, obj)
        if mismatch is not None:
            self.ledger.failed(path, mismatch)
            return
        reason = exclusion_reason(path, obj, self.facts)
        if reason is not None:
            self.ledger.excluded(path, reason)
            return
        placement, converted = self.target.resolve(place(path, obj, self.job.preference))
        ref = placement.ref
        try:
            resource, target_path = self.target.path(ref)
            outcome = await self.writer.write(
                collection=collection_path(resource, ref.namespace),
                path=target_path,
                body=placement.body,
            )
        except (Unserved, errors.K8sSnapError) as error:
            if not self._unchecked(ref, error):
                self.ledger.failed(ref.path, error.reason)
                return
            target_path, outcome = ref.path, Outcome.CREATED
        if converted is not None:
            self.ledger.converted(target_path, converted)
        self.ledger.placed(target_path, outcome, resource=ref.group_resource)

    def _unchecked(self, ref: ObjectRef, error: Exception) -> bool:
        """Dry run: whether ``error`` only says that an earlier would-create does not exist yet."""
        if not self.job.dry_run:
            return False
        if isinstance(error, Unserved):
            return (kinds.CRDS, f"{ref.resource}.{ref.group}") in self.planned
        namespace = ref.namespace
        return isinstance(error, errors.NotFound) and (kinds.NAMESPACES, namespace or "") in self.planned

    def _would_create(self, *resources: GroupResource) -> frozenset[tuple[GroupResource, str]]:
        return frozenset(
            (resource, parse_path(path).name)
            for resource in resources
            for path in self.ledger.paths(resource, Outcome.CREATED)
        )

    async def _after_crds(self) -> None:
        """Wait for restored CRDs to be Established and served, within ``crd_timeout`` in all."""
        crds = self._placed_of(kinds.CRDS, Outcome.CREATED, Outcome.UPDATED, Outcome.ALREADY_EXISTED)
        if not crds:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.crd_timeout
        expected = await readiness.established_crds(
            self.kube, crds, timeout=self.limits.crd_timeout, concurrency=self.limits.concurrency
        )
        remaining = max(0.0, deadline - loop.time())
        self.target = await readiness.serving(
            self.kube, expected, timeout=remaining, backoff=self.job.backoff
        )
        if not self.target.serves(expected):
            log.warning("restore of %s: some restored CRDs are not served yet", self.job.snapshot_name)

    async def _after_storage(self) -> None:
        """Report created claims that do not bind within the bind timeout as failed."""
        claims = self._placed_of(kinds.PERSISTENT_VOLUME_CLAIMS, Outcome.CREATED)
        if not claims:
            return
        timeout = self.limits.bind_timeout
        bound = await readiness.bound_claims(
            self.kube, claims, timeout=timeout, concurrency=self.limits.concurrency
        )
        for path in sorted(set(claims) - bound):
            self.ledger.not_bound(
                path, f"created but not Bound within {timeout:g} s", resource=kinds.PERSISTENT_VOLUME_CLAIMS
            )

    def _placed_of(self, resource: GroupResource, *outcomes: Outcome) -> list[str]:
        return self.ledger.paths(resource, *outcomes)


def identity_mismatch(ref: ObjectRef, obj: dict[str, Any]) -> str | None:
    """Why ``obj`` may not be restored at ``ref``, if its own name or namespace says otherwise.

    The API server creates an object under the name in its body, while the
    result reports it under its archive path: an entry whose two disagree
    would be created as one object and reported as another.
    """
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return "the archived object has no metadata"
    name, namespace = meta.get("name"), meta.get("namespace") or None
    if name != ref.name:
        return f"the archived object is named {name!r}, but its archive path names {ref.name!r}"
    if namespace != ref.namespace:
        return (
            f"the archived object is in namespace {namespace!r}, but its archive path says {ref.namespace!r}"
        )
    return None


async def _all(coros: Iterable[Coroutine[Any, Any, None]]) -> None:
    """Run coroutines concurrently; on the first error cancel the rest and raise it unwrapped."""
    try:
        async with asyncio.TaskGroup() as group:
            for coro in coros:
                group.create_task(coro)
    except BaseExceptionGroup as group_error:
        raise _first_leaf(group_error) from None


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first
