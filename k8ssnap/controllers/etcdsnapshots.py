"""The EtcdSnapshot reconciler: etcd's own snapshot plus the PKI, with a Snapshot's lifecycle.

It is a :class:`~k8ssnap.controllers.lifecycle.JobKind`: the phases ("" ->
InQueue -> InProgress -> Completed | Failed, then deletion at
``availableUntil``; a Failed one stays at least an hour so its reason can be
read), the preconditions, the restart rule and the outcome write are
:mod:`k8ssnap.controllers.lifecycle`'s. What is said here is what only an
EtcdSnapshot has: its finalizer deletes the etcd archive and its record, its
engine streams etcd (:class:`~k8ssnap.snapshot.etcd.EtcdSnapshotEngine`),
its Completed status holds the record's facts.

What may be read is the operator's decision, not the resource's:
``spec.pki`` only names a folder under ``--pki-root`` (checked when the job
is claimed, so a refused path fails before etcd is asked for anything), and
a ``file://`` store must lie under ``--folder-store-root``. A truncated
stream or a SHA-256 mismatch fails the snapshot and leaves no archive (the
engine aborts the upload).

Encryption is the ObjectstoreConfig's (``spec.encryption.recipientsSecret``,
docs/encryption.md): with recipients the archive is age-encrypted to them
and stored as ``etcd/<name>.tgz.age``; a recipients Secret that cannot be
read or parsed fails the snapshot before etcd is read, never falling back
to a plaintext archive.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any, Protocol

from k8ssnap import errors, retry
from k8ssnap.api import constants
from k8ssnap.api import etcd as api
from k8ssnap.archive.etcd import EtcdRecord
from k8ssnap.controllers import clusters, encryption, insecure, lifecycle
from k8ssnap.controllers.context import Context, Subject
from k8ssnap.domain import expiry, hostpaths
from k8ssnap.etcd.client import EtcdTls
from k8ssnap.runtime.controller import Requeue
from k8ssnap.runtime.source import ObjectKey
from k8ssnap.snapshot.etcd import EtcdSnapshotJob
from k8ssnap.store import layout
from k8ssnap.store.snapshots import SnapshotStore

log = logging.getLogger(__name__)

KIND = constants.ETCD_SNAPSHOT


class EtcdRunner(Protocol):
    """What the reconciler runs: :class:`~k8ssnap.snapshot.etcd.EtcdSnapshotEngine`, or a fake."""

    async def run(
        self, job: EtcdSnapshotJob, *, store: SnapshotStore, backoff: retry.Backoff
    ) -> EtcdRecord: ...


class EtcdSnapshotReconciler:
    """Reconciles EtcdSnapshots: finalizers and deletion here, phases in :mod:`lifecycle`,
    work in the engine. It is the EtcdSnapshot :class:`~k8ssnap.controllers.lifecycle.JobKind`."""

    kind: constants.ResourceKind = KIND
    until_label: str = "available until"
    done_label: str = "stored"
    resumed_message: str | None = "controller restarted during the etcd snapshot; taking it again"

    def __init__(self, ctx: Context, engine: EtcdRunner) -> None:
        self.ctx = ctx
        self.engine = engine
        m = ctx.metrics
        metrics = lifecycle.JobMetrics(
            m,
            noun="etcd_snapshot",
            plural="etcd_snapshots",
            results_help="etcd snapshots taken, by result.",
            duration_help="Time to take an etcd snapshot.",
        )
        self._db = m.gauge(
            "k8ssnap_etcd_snapshot_db_bytes", "Database bytes of the last etcd snapshot.", ["name"]
        )
        self._lifecycle: lifecycle.Lifecycle[api.EtcdSnapshot, EtcdRecord] = lifecycle.Lifecycle(
            ctx, self, metrics
        )

    async def reconcile(self, key: ObjectKey) -> Requeue | None:
        raw = self.ctx.cached(KIND, key.name)
        if raw is None:
            with contextlib.suppress(KeyError):
                self._db.remove(key.name)
            return None
        try:
            snap = api.parse_etcd_snapshot(raw)
        except errors.ConfigError as exc:
            if raw["metadata"].get("deletionTimestamp"):  # never block a delete on a bad spec
                await self.ctx.remove_finalizer(KIND, raw)
                return None
            await self._lifecycle.unparsable(raw, exc.reason)
            return None
        if snap.deleting:
            await self._finalize(raw, snap)
            return None
        if not snap.has_finalizer:
            await self.ctx.add_finalizer(KIND, raw)
            return None
        return await self._lifecycle.step(
            raw, snap, phase=snap.status.phase, available_until=snap.spec.available_until
        )

    # -- the JobKind ----------------------------------------------------------

    def failed(self, reason: str, job: api.EtcdSnapshot | None) -> Mapping[str, Any]:
        if job is None:
            return api.status_failed(reason)
        created = job.creation_timestamp or dt.datetime.now(dt.UTC)
        until = expiry.snapshot_expiry(
            taken_at=created, ttl=job.spec.ttl, available_until=job.spec.available_until
        )
        return api.status_failed(reason, available_until=until, observed_generation=job.generation)

    def in_queue(self, job: api.EtcdSnapshot) -> Mapping[str, Any]:
        return api.status_in_queue(observed_generation=job.generation)

    async def claim(self, job: api.EtcdSnapshot) -> lifecycle.Claim:
        if job.spec.pki:  # a refused path fails (ConfigError) before etcd is asked for anything
            hostpaths.pki_path(job.spec.pki, root=self.ctx.settings.pki_root)
        return lifecycle.Claim(
            status=api.status_in_progress(observed_generation=job.generation),
            message="streaming etcd's snapshot",
        )

    async def run(self, job: api.EtcdSnapshot, *, subject: Subject) -> EtcdRecord:
        ctx = self.ctx
        plain = [url for url in job.spec.endpoints if url.lower().startswith("http://")]
        if plain:
            await insecure.report(ctx, subject, insecure.ETCD.format(endpoints=", ".join(plain)))
        tls = await _tls(ctx, job.spec.tls_secret)
        # Resolved before etcd is asked for anything: an unreadable recipients Secret fails the
        # snapshot, it never falls back to a plaintext archive.
        recipients = await encryption.store_recipients(ctx, job.spec.objectstore_config)
        async with ctx.stores(ctx, job.spec.objectstore_config, subject=subject) as store:
            await store.check(create=ctx.settings.create_bucket)
            work = EtcdSnapshotJob(
                name=job.name,
                endpoints=job.spec.endpoints,
                tls=tls,
                pki=job.spec.pki or "",
                pki_root=ctx.settings.pki_root,
                certificates_only=job.spec.certificates_only,
                gzip_level=ctx.settings.gzip_level,
                recipients=recipients,
            )
            backoff = retry.Backoff(initial=0.5, max_elapsed=ctx.settings.max_retry_elapsed)
            return await self.engine.run(work, store=store, backoff=backoff)

    def report(self, job: api.EtcdSnapshot, record: EtcdRecord) -> lifecycle.Done:
        until = expiry.snapshot_expiry(
            taken_at=record.taken_at, ttl=job.spec.ttl, available_until=job.spec.available_until
        )
        body = api.status_completed(
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
            observed_generation=job.generation,
        )

        def count() -> None:
            self._db.labels(name=job.name).set(record.db_size)

        return lifecycle.Done(status=body, message=_summary(record), record=count)

    def deletion_time(self, job: api.EtcdSnapshot) -> dt.datetime:
        until = job.status.available_until
        if until is None:
            created = job.creation_timestamp or dt.datetime.now(dt.UTC)
            until = expiry.snapshot_expiry(
                taken_at=created, ttl=job.spec.ttl, available_until=job.spec.available_until
            )
        failed = job.status.phase == constants.PHASE_FAILED
        return expiry.deletion_time(until, failed=failed, created=job.creation_timestamp)

    # -- what only EtcdSnapshots do ---------------------------------------------

    async def _finalize(self, raw: dict[str, Any], snap: api.EtcdSnapshot) -> None:
        if not snap.has_finalizer:
            return
        try:
            async with self.ctx.stores(
                self.ctx, snap.spec.objectstore_config, subject=Subject(KIND, raw)
            ) as store:
                for key in layout.etcd_archive_keys(snap.name, prefix=store.prefix):  # plain or encrypted
                    with contextlib.suppress(errors.ObjectMissing):
                        await store.objects.delete(key)
                await store.objects.delete(layout.etcd_record_key(snap.name, prefix=store.prefix))
            message = "archive deleted"
        except (errors.ConfigError, errors.StorePermanent) as exc:
            message = f"archive not deleted: {exc.reason}"
        await self.ctx.events.record(raw, kind=KIND, reason="Deleted", message=message)
        await self.ctx.remove_finalizer(KIND, raw)


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
