"""Taking one etcd snapshot, streamed: etcd -> verify -> tar.gz -> upload.

Order matters for what a failure leaves behind:

1. the PKI folder is read first, so a refused ``spec.pki`` fails before
   etcd is asked for anything;
2. ``Status`` and ``MemberList`` of the first endpoint that answers give
   the record's version, revision and members; the snapshot is taken from
   that same member;
3. the snapshot stream is checked message by message
   (:class:`k8ssnap.etcd.stream.SnapshotVerifier`) and written into the
   archive as it arrives; the upload holds at most a few parts, so memory
   does not depend on the database's size;
4. only a whole stream whose SHA-256 matched completes the upload; any
   failure aborts it, so a truncated or corrupt snapshot leaves no archive;
   a completed object whose size is not what was written is deleted;
5. the record is stored beside the archive.

With ``recipients`` the archive is age-encrypted on its way to the store
(:class:`~k8ssnap.store.age.EncryptingUpload`, in a worker thread, memory
still flat) under ``<name>.tgz.age``; the record then holds the
ciphertext's SHA-256 and size and the recipients' public keys, so the PKI's
private keys never reach the bucket in the clear.

The revision is the one etcd reported just before the stream opened; the
snapshot holds at least that revision.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass

from k8ssnap import errors, retry
from k8ssnap.archive.etcd import CHECKSUM_SIZE, EtcdArchiveWriter, EtcdMember, EtcdRecord
from k8ssnap.etcd import pkifiles
from k8ssnap.etcd.client import EtcdClient, EtcdTls
from k8ssnap.etcd.stream import SnapshotVerifier
from k8ssnap.store import age, layout
from k8ssnap.store.objectstore import ObjectStore, Upload
from k8ssnap.store.snapshots import SnapshotStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class EtcdSnapshotJob:
    """What to snapshot and where to put it."""

    name: str
    endpoints: tuple[str, ...]
    tls: EtcdTls | None = None
    pki: str = ""
    pki_root: str | None = None
    certificates_only: bool = False
    key_prefix: str = ""
    gzip_level: int = 6
    recipients: age.Recipients | None = None
    """Encrypt the archive to these age recipients (stored as ``etcd/<name>.tgz.age``)."""


class EtcdSnapshotEngine:
    """What the EtcdSnapshot reconciler runs: one snapshot into ``store``, taken again from
    the start on a retriable error (etcd unreachable, a stream cut by a leader change)
    within ``backoff``'s budget. Each failed attempt aborted its upload."""

    async def run(self, job: EtcdSnapshotJob, *, store: SnapshotStore, backoff: retry.Backoff) -> EtcdRecord:
        job = dataclasses.replace(job, key_prefix=store.prefix)
        return await retry.retrying(
            lambda: take_etcd_snapshot(
                job=job, store=store.objects, now=dt.datetime.now(dt.UTC).replace(microsecond=0)
            ),
            backoff=backoff,
            what=f"etcd snapshot {job.name}",
        )


async def take_etcd_snapshot(*, job: EtcdSnapshotJob, store: ObjectStore, now: dt.datetime) -> EtcdRecord:
    """Take, verify and store one etcd snapshot; the stored record (archive sha256 included)."""
    files: tuple[pkifiles.PkiFile, ...] = ()
    if job.pki:
        files = await asyncio.to_thread(
            pkifiles.read_pki, pki=job.pki, root=job.pki_root, certificates_only=job.certificates_only
        )
    client = EtcdClient(endpoints=job.endpoints, tls=job.tls)
    try:
        status = await client.status()
        members = await client.members()
        record = EtcdRecord(
            name=job.name,
            taken_at=now,
            etcd_version=status.version,
            revision=status.header.revision,
            members=tuple(
                EtcdMember(
                    id=m.id,
                    name=m.name,
                    peer_urls=m.peer_urls,
                    client_urls=m.client_urls,
                    is_learner=m.is_learner,
                )
                for m in members
            ),
            endpoint=client.endpoint,
            db_size=0,
            db_sha256="",
            pki=job.pki,
            pki_files=tuple(f.name for f in files),
            private_keys=any(f.private_key for f in files),
        )
        plain = store.upload(
            layout.etcd_archive_key(job.name, prefix=job.key_prefix, encrypted=job.recipients is not None),
            metadata=layout.etcd_archive_metadata(job.name),
        )
        sealed = None if job.recipients is None else age.EncryptingUpload(plain, job.recipients)
        upload: Upload = plain if sealed is None else sealed
        writer = EtcdArchiveWriter(snapshot_name=job.name, mtime=now, level=job.gzip_level)
        try:
            record = await _stream(client=client, upload=upload, writer=writer, record=record, files=files)
            kept = await upload.complete()
        except BaseException:
            await upload.abort()
            raise
    finally:
        await client.close()
    sha256, size = writer.sha256, writer.size
    recipients: tuple[str, ...] = ()
    if sealed is not None and job.recipients is not None:  # the stored object is the ciphertext
        sha256, size, recipients = sealed.sha256, sealed.size, job.recipients.keys
    if kept.size != size:  # as the Snapshot engine: a short object is deleted, never recorded
        with contextlib.suppress(errors.StoreError):
            await store.delete(kept.key)
        raise errors.StorePermanent(
            f"the object store kept {kept.size} bytes of archive {kept.key}, "
            f"but {size} were written; the broken archive was deleted"
        )
    stored = dataclasses.replace(record, sha256=sha256, size=size, recipients=recipients)
    await store.put(layout.etcd_record_key(job.name, prefix=job.key_prefix), stored.to_json(), metadata={})
    log.info(
        "etcd snapshot %s: %d bytes of database, archive %d bytes", job.name, stored.db_size, stored.size
    )
    return stored


async def _stream(
    *,
    client: EtcdClient,
    upload: Upload,
    writer: EtcdArchiveWriter,
    record: EtcdRecord,
    files: tuple[pkifiles.PkiFile, ...],
) -> EtcdRecord:
    await upload.write(writer.start([(f.name, f.content) for f in files]))
    verifier = SnapshotVerifier()
    begun = False
    async for chunk in client.snapshot():
        data = verifier.feed(chunk)
        out = b""
        if not begun:
            out, begun = writer.begin_db(verifier.db_size + CHECKSUM_SIZE), True
        out += writer.db(data)
        if out:
            await upload.write(out)
    verifier.finish()
    record = dataclasses.replace(record, db_size=verifier.db_size, db_sha256=verifier.sha256)
    await upload.write(writer.finish(record))
    return record
