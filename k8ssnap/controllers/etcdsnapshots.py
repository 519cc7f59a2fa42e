"""The EtcdSnapshot reconciler: etcd's own snapshot plus the PKI, with a Snapshot's lifecycle.

Phases as a Snapshot's: "" -> InQueue -> InProgress -> Completed | Failed,
then deletion at ``availableUntil`` (a Failed one stays at least an hour so
its reason can be read). Our finalizer deletes the archive and its record
when the resource goes. Every transition decided from the cache is
preconditioned on the cached resourceVersion (see
:mod:`k8ssnap.controllers.snapshots` for why); the outcome write is not.

What may be read is the operator's decision, not the resource's:
``spec.pki`` only names a folder under ``--pki-root``, and a ``file://``
store must lie under ``--folder-store-root``; anything else fails with a
reason before etcd is asked for anything. A truncated stream or a SHA-256
mismatch fails the snapshot and leaves no archive (the engine aborts the
upload).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from k8ssnap import errors, retry
from k8ssnap.api import constants
from k8ssnap.api import etcd as api
from k8ssnap.archive.etcd import EtcdRecord
from k8ssnap.controllers import clusters
from k8ssnap.controllers.context import Context, Subject
from k8ssnap.domain import expiry, hostpaths
from k8ssnap.etcd.client import EtcdTls
from k8ssnap.runtime.controller import Requeue
from k8ssnap.runtime.source import ObjectKey
from k8ssnap.snapshot.etcd import EtcdSnapshotJob, take_etcd_snapshot
from k8ssnap.store import layout

log = logging.getLogger(__name__)

KIND = constants.ETCD_SNAPSHOT


class EtcdSnapshotReconciler:
    """Reconciles EtcdSnapshots; :func:`k8ssnap.snapshot.etcd.take_etcd_snapshot` does the work."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        m = ctx.metrics
        self._results = m.counter(
            "k8ssnap_etcd_snapshots_total", "etcd snapshots taken, by result.", ["result"]
        )
        self._duration = m.histogram(
            "k8ssnap_etcd_snapshot_duration_seconds", "Time to take an etcd snapshot.", ["result"],
            buckets=(1, 2, 5, 10, 30, 60, 120, 300, 600, 1800),
        )  # fmt: skip
        self._db = m.gauge(
            "k8ssnap_etcd_snapshot_db_bytes", "Database bytes of the last etcd snapshot.", ["name"]
        )

    async def reconcile(self, key: ObjectKey) -> Requeue | None:
        raw = self.ctx.cached(KIND, key.name)
        if raw is None:
            return None
        try:
            snap = api.parse_etcd_snapshot(raw)
        except errors.ConfigError as exc:
            if raw["metadata"].get("deletionTimestamp"):
                await _remove_finalizer(self.ctx, raw)
                return None
            if (raw.get("status") or {}).get("phase") != constants.PHASE_FAILED:
                await self.ctx.write_status(
                    KIND, raw, api.status_failed(exc.reason), event=("Failed", exc.reason), if_unchanged=True
                )
            return None
        if snap.deleting:
            await self._finalize(raw, snap)
            return None
        if not snap.has_finalizer:
            await _add_finalizer(self.ctx, raw)
            return None
        phase = snap.status.phase
        if phase == constants.PHASE_NEW:
            await self._accept(raw, snap)
            return None
        if phase in (constants.PHASE_IN_QUEUE, constants.PHASE_IN_PROGRESS):
            await self._take(raw, snap)
            return None
        return await self._expire(raw, snap)

    async def _accept(self, raw: dict[str, Any], snap: api.EtcdSnapshot) -> None:
        until = snap.spec.available_until
        if until is not None and until <= dt.datetime.now(dt.UTC):
            reason = "AvailableUntil is set as past."
            await self.ctx.write_status(
                KIND, raw, api.status_failed(reason), event=("Failed", reason), if_unchanged=True
            )
            return
        await self.ctx.write_status(
            KIND,
            raw,
            api.status_in_queue(observed_generation=snap.generation),
            event=("InQueue", "waiting for a worker"),
            if_unchanged=True,
        )

    async def _take(self, raw: dict[str, Any], snap: api.EtcdSnapshot) -> None:
        await self.ctx.write_status(
            KIND,
            raw,
            api.status_in_progress(observed_generation=snap.generation),
            event=("InProgress", "streaming etcd's snapshot"),
            if_unchanged=True,
        )
        started = time.monotonic()
        try:
            record = await self._run(raw, snap)
        except errors.K8sSnapError as exc:
            await self._fail(raw, snap, exc.reason, started)
            return
        except Exception as exc:
            log.exception("etcd snapshot %s failed unexpectedly", snap.name)
            await self._fail(raw, snap, f"internal error: {type(exc).__name__}: {exc}", started)
            return
        elapsed = time.monotonic() - started
        self._results.labels(result="completed").inc()
        self._duration.labels(result="completed").observe(elapsed)
        self._db.labels(name=snap.name).set(record.db_size)
        await self.ctx.write_status(
            KIND, raw, self._completed(snap, record), event=("Completed", _summary(record))
        )

    def _completed(self, snap: api.EtcdSnapshot, record: EtcdRecord) -> dict[str, Any]:
        until = expiry.snapshot_expiry(
            taken_at=record.taken_at, ttl=snap.spec.ttl, available_until=snap.spec.available_until
        )
        return api.status_completed(
            taken_at=record.taken_at,
            etcd_version=record.etcd_version,
            revision=record.revision,
            members=len(record.members),
            db_size=record.db_size,
            db_sha256=record.db_sha256,
            stored_size=record.size,
            stored_sha256=record.sha256,
            pki_files=len(record.pki_files),
            private_keys=record.private_keys,
            available_until=until,
            observed_generation=snap.generation,
        )

    async def _run(self, raw: dict[str, Any], snap: api.EtcdSnapshot) -> EtcdRecord:
        ctx = self.ctx
        if snap.spec.pki:
            hostpaths.pki_path(snap.spec.pki, root=ctx.settings.pki_root)  # its reason before any other
        tls = await _tls(ctx, snap.spec.tls_secret)
        async with ctx.stores(ctx, snap.spec.objectstore_config, subject=Subject(KIND, raw)) as store:
            await store.check(create=ctx.settings.create_bucket)
            job = EtcdSnapshotJob(
                name=snap.name,
                endpoints=snap.spec.endpoints,
                tls=tls,
                pki=snap.spec.pki or "",
                pki_root=ctx.settings.pki_root,
                certificates_only=snap.spec.certificates_only,
                key_prefix=store.prefix,
                gzip_level=ctx.settings.gzip_level,
            )
            backoff = retry.Backoff(initial=0.5, max_elapsed=ctx.settings.max_retry_elapsed)
            # etcd unreachable or a stream cut by a leader change: take it again from the start
            # (each failed attempt aborted its upload) within --maxretryelapsedsec.
            return await retry.retrying(
                lambda: take_etcd_snapshot(
                    job=job, store=store.objects, now=dt.datetime.now(dt.UTC).replace(microsecond=0)
                ),
                backoff=backoff,
                what=f"etcd snapshot {snap.name}",
            )

    async def _fail(self, raw: dict[str, Any], snap: api.EtcdSnapshot, reason: str, started: float) -> None:
        created = snap.creation_timestamp or dt.datetime.now(dt.UTC)
        until = expiry.snapshot_expiry(
            taken_at=created, ttl=snap.spec.ttl, available_until=snap.spec.available_until
        )
        self._results.labels(result="failed").inc()
        self._duration.labels(result="failed").observe(time.monotonic() - started)
        body = api.status_failed(reason, available_until=until, observed_generation=snap.generation)
        await self.ctx.write_status(KIND, raw, body, event=("Failed", reason))

    async def _expire(self, raw: dict[str, Any], snap: api.EtcdSnapshot) -> Requeue | None:
        until = snap.status.available_until
        if until is None:
            created = snap.creation_timestamp or dt.datetime.now(dt.UTC)
            until = expiry.snapshot_expiry(
                taken_at=created, ttl=snap.spec.ttl, available_until=snap.spec.available_until
            )
        failed = snap.status.phase == constants.PHASE_FAILED
        until = expiry.deletion_time(until, failed=failed, created=snap.creation_timestamp)
        return await self.ctx.expire(KIND, raw, until, what="available until")

    async def _finalize(self, raw: dict[str, Any], snap: api.EtcdSnapshot) -> None:
        if not snap.has_finalizer:
            return
        try:
            async with self.ctx.stores(
                self.ctx, snap.spec.objectstore_config, subject=Subject(KIND, raw)
            ) as store:
                await store.objects.delete(layout.etcd_archive_key(snap.name, prefix=store.prefix))
                await store.objects.delete(layout.etcd_record_key(snap.name, prefix=store.prefix))
            message = "archive deleted"
        except (errors.ConfigError, errors.StorePermanent) as exc:
            message = f"archive not deleted: {exc.reason}"
        await self.ctx.events.record(raw, kind=KIND, reason="Deleted", message=message)
        await _remove_finalizer(self.ctx, raw)


def _summary(record: EtcdRecord) -> str:
    keys = ", private keys included" if record.private_keys else ""
    return (
        f"etcd {record.etcd_version} at revision {record.revision}: {record.db_size} bytes of database, "
        f"{len(record.pki_files)} PKI files{keys}, archive {record.size} bytes"
    )


async def _tls(ctx: Context, secret: str | None) -> EtcdTls | None:
    if secret is None:
        return None
    what = "spec.tlsSecret"

    async def value(key: str) -> bytes:
        return (await clusters.secret_value(ctx, name=secret, key=key, what=what)).encode()

    return EtcdTls(
        ca=await value(api.TLS_CA_KEY), cert=await value(api.TLS_CERT_KEY), key=await value(api.TLS_KEY_KEY)
    )


async def _add_finalizer(ctx: Context, raw: dict[str, Any]) -> None:
    meta = raw["metadata"]
    finalizers = [*list(meta.get("finalizers") or []), constants.FINALIZER]
    await ctx.kube.merge_patch(
        ctx.path(KIND, meta["name"]),
        {"metadata": {"finalizers": finalizers, "resourceVersion": meta["resourceVersion"]}},
    )


async def _remove_finalizer(ctx: Context, raw: dict[str, Any]) -> None:
    meta = raw["metadata"]
    finalizers = [f for f in meta.get("finalizers") or [] if f != constants.FINALIZER]
    try:
        await ctx.kube.merge_patch(
            ctx.path(KIND, meta["name"]),
            {"metadata": {"finalizers": finalizers, "resourceVersion": meta["resourceVersion"]}},
        )
    except errors.NotFound:
        return
