"""What every ``k8ssnap`` subcommand stands on: the console, the snapshot source, the cluster.

A :class:`Source` is where snapshots are read from and written to: a
bucket (S3 settings and a key prefix), or one local archive file
(:class:`~k8ssnap.app.cli_files.LocalArchiveStore`, where every snapshot
name maps to that one file). Commands write their report to the
:class:`Console`'s ``out``; progress and warnings go to ``err``. Nothing
here ever prints a credential: S3 settings and kubeconfigs are handed to
the adapters and never formatted.

An age-encrypted snapshot (docs/encryption.md) is listed from its record
alone; reading its body needs ``--identity FILE``, parsed once into the
Source (never printed, never logged).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from k8ssnap import errors, retry
from k8ssnap.app.cli_files import LocalArchiveStore
from k8ssnap.app.cli_progress import Progress
from k8ssnap.archive.index import StoredRecord
from k8ssnap.archive.reader import ArchiveReader, Entry, ReadSummary
from k8ssnap.kube.client import KubeClient
from k8ssnap.store import age, folder, s3
from k8ssnap.store.s3 import S3Settings
from k8ssnap.store.snapshots import SnapshotStore

LOCAL = "local"
"""The name to read a local archive by: every name maps to its one file."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Console:
    """Where output goes, and whether progress is shown."""

    out: TextIO
    err: TextIO
    progress: bool
    tty: bool
    verbose: bool = False

    def progress_line(self) -> Progress:
        return Progress(self.err, enabled=self.progress, tty=self.tty)

    def warn(self, text: str) -> None:
        self.err.write(f"k8ssnap: warning: {text}\n")

    def info(self, text: str) -> None:
        self.err.write(f"{text}\n")


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceOptions:
    """A bucket (``settings``, ``prefix``) or one local archive (``file``)."""

    settings: S3Settings | None = None
    prefix: str = ""
    file: Path | None = None
    retry_seconds: float = 60.0
    identity_file: Path | None = None
    """age identities (``AGE-SECRET-KEY-1...`` lines) for encrypted snapshots."""

    @property
    def backoff(self) -> retry.Backoff:
        return backoff(self.retry_seconds)


def backoff(seconds: float) -> retry.Backoff:
    """Retries for a person waiting at a terminal: quick, short pauses, ``seconds`` in all."""
    return retry.Backoff(initial=0.5, cap=5.0, max_elapsed=seconds)


@dataclass(slots=True, kw_only=True)
class Source:
    """An open snapshot store (a bucket's, or one local file's)."""

    store: SnapshotStore
    local: Path | None
    identities: age.Identities | None = None
    _records: dict[str, StoredRecord | None] = field(default_factory=dict)

    def encrypted(self, name: str) -> bool:
        """Whether the archive is age-encrypted (``.tgz.age``), once :meth:`record` has been read."""
        record = self._records.get(name)
        return record is not None and record.encryption is not None

    def where(self, name: str | None = None) -> str:
        """``s3://bucket/prefix/name.tgz``, or the local file, for messages."""
        if self.local is not None:
            return str(self.local)
        return self.store.where(name, encrypted=name is not None and self.encrypted(name))

    async def record(self, name: str) -> StoredRecord | None:
        """The snapshot's stored record; None if it has none (k8s-snap's archives)."""
        if name not in self._records:
            self._records[name] = await self.store.record_if_any(name)
        return self._records[name]

    async def decryption(self, name: str) -> age.Decryption | None:
        """How to decrypt the snapshot's archive (None: not encrypted); ConfigError without an identity."""
        record = await self.record(name)
        if record is None or record.encryption is None:
            return None
        recipients = ", ".join(record.encryption.recipients)
        if self.identities is None:
            raise errors.ConfigError(
                f"snapshot {name} is encrypted with age (to {recipients}); pass --identity FILE"
                " with one of its identities (AGE-SECRET-KEY-1...)"
            )
        if not self.identities.opens(record.encryption.recipients):
            raise errors.ConfigError(
                f"snapshot {name} is encrypted to {recipients}; the --identity file holds none of their"
                f" identities (its public keys: {', '.join(self.identities.public)})"
            )
        return age.Decryption(
            identities=self.identities, expected_sha256=record.sha256, expected_size=record.size
        )

    async def require_archive(self, name: str) -> None:
        """A readable error if the snapshot's archive is not there."""
        await self.record(name)  # an encrypted archive has another key
        try:
            await self.store.archive(name, encrypted=self.encrypted(name))
        except errors.ArchiveMissing:
            what = "no archive" if self.local is not None else f"no snapshot {name!r}"
            raise errors.ConfigError(f"{what} at {self.where(name)}") from None

    async def name_of_local(self) -> str:
        """The snapshot name inside a local archive: from its record, else by reading it through."""
        record = await self.record(LOCAL)
        if record is not None:
            return record.index.snapshot_name
        summary = await read_archive(self, LOCAL, on_entry=lambda _: False, progress=None)
        assert summary is not None
        return summary.snapshot_name


@contextlib.asynccontextmanager
async def open_source(options: SourceOptions) -> AsyncIterator[Source]:
    """Open the bucket or the local archive the options name."""
    identities = None
    if options.identity_file is not None:
        text = options.identity_file.read_text(encoding="utf-8")
        identities = age.Identities.parse(text, what=f"--identity {options.identity_file}")
    if options.file is not None:
        local = SnapshotStore(LocalArchiveStore(options.file))
        yield Source(store=local, local=options.file, identities=identities)
        return
    if options.settings is None:
        raise ValueError("no S3 settings and no local file")
    if folder.is_folder_endpoint(options.settings.endpoint):
        # the person at the terminal is the operator: the folder they name is the root
        path = folder.endpoint_path(options.settings.endpoint)
        directory = folder.FolderStore.open(
            endpoint=options.settings.endpoint, bucket=options.settings.bucket, root=path
        )
        directory.backoff = options.backoff
        yield Source(store=SnapshotStore(directory, prefix=options.prefix), local=None, identities=identities)
        return
    async with s3.opened(options.settings, options.backoff) as bucket:
        yield Source(store=SnapshotStore(bucket, prefix=options.prefix), local=None, identities=identities)


@contextlib.asynccontextmanager
async def connect(kubeconfig: str | None, *, max_connections: int = 32) -> AsyncIterator[KubeClient]:
    """A client for the cluster of a kubeconfig file (in-cluster config when None)."""
    kube = await KubeClient.from_kubeconfig_file(kubeconfig, max_connections=max_connections)
    try:
        yield kube
    finally:
        await kube.close()


async def read_archive(
    source: Source,
    name: str,
    *,
    on_entry: Callable[[Entry], bool],
    progress: Progress | None,
    label: str = "reading",
) -> ReadSummary | None:
    """Stream the snapshot's archive through an ArchiveReader, entry by entry.

    ``on_entry`` returning True stops early (the download is closed and
    None returned, the archive unchecked). Otherwise the archive is read
    to its end and checked (gzip, tar, index), and its checksum and size
    against the stored record when there is one.
    """
    reader = ArchiveReader()
    count = 0
    decryption = await source.decryption(name)
    chunks = source.store.download_archive(name, encrypted=decryption is not None)
    if decryption is not None:  # checks the stored object against the record itself
        chunks = age.decrypted(chunks, decryption, what=source.where(name))
    try:
        async for chunk in chunks:
            for entry in reader.feed(chunk):
                count += 1
                if on_entry(entry):
                    return None
            if progress is not None:
                progress.show(f"{label}: {count} objects")
    finally:
        await _close(chunks)
        if progress is not None:
            progress.done()
    summary = reader.close()
    record = await source.record(name)
    plain = record is not None and record.encryption is None
    if plain and record is not None and (record.sha256, record.size) != (summary.sha256, summary.size):
        raise errors.ArchiveError(
            f"the archive at {source.where(name)} does not match its record "
            f"(sha256 {summary.sha256[:12]}..., {summary.size} bytes; "
            f"the record says {record.sha256[:12]}..., {record.size} bytes)"
        )
    return summary


async def _close(iterator: AsyncIterator[bytes]) -> None:
    close: Callable[[], Awaitable[None]] | None = getattr(iterator, "aclose", None)
    if close is not None:
        await close()


@contextlib.asynccontextmanager
async def ticking(progress: Progress, text: Callable[[float], str]) -> AsyncIterator[None]:
    """Redraw ``text(elapsed seconds)`` twice a second while the block runs."""
    started = time.monotonic()

    async def tick() -> None:
        while True:
            progress.show(text(time.monotonic() - started))
            await asyncio.sleep(0.5)

    task = asyncio.create_task(tick())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        progress.done()
