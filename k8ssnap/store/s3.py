"""S3 (and S3-compatible stores) through aiobotocore.

Every call goes through :meth:`S3Store._call`, which maps failures once
(:mod:`k8ssnap.store.s3errors`) and retries retriable ones with the
configured :class:`k8ssnap.retry.Backoff`. Uploads stream in parts
(:mod:`k8ssnap.store.multipart`); downloads stream in chunks and resume
with a Range request after a dropped connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session

from k8ssnap import errors, retry, tempdirs
from k8ssnap.store import multipart, s3errors
from k8ssnap.store.objectstore import StoredObject

T = TypeVar("T")

_CHUNK = 1 << 20
DEFAULT_BACKOFF = retry.Backoff(initial=0.5, max_elapsed=300.0)
_SESSION: AioSession | None = None


def _session() -> AioSession:
    """One botocore session per process: each new one re-parses the S3 service model
    and endpoint rules (0.3-0.5 s of CPU and ~20 MB), once per store opened."""
    global _SESSION  # noqa: PLW0603 - a process-wide cache, set once
    if _SESSION is None:
        _SESSION = get_session()
    return _SESSION


@dataclass(frozen=True, slots=True)
class S3Settings:
    """How to reach a bucket. ``repr`` never shows the secret key."""

    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    insecure: bool = False
    """Plain http instead of https (for endpoints given without a scheme)."""
    force_path_style: bool = True
    ca_bundle: str | None = None
    """PEM text of the CAs to trust instead of the system's."""
    verify_tls: bool = True
    """False skips TLS certificate verification (k8s-snap's ``--insecure``)."""
    server_side_encryption: str | None = None
    """``AES256`` or ``aws:kms``: asked of S3 on every upload (PUT and multipart start)."""
    sse_kms_key_id: str | None = None
    """The KMS key for ``aws:kms``; None: the bucket's default key."""

    def __repr__(self) -> str:
        return f"S3Settings(endpoint={self.endpoint!r}, bucket={self.bucket!r}, region={self.region!r})"

    @property
    def endpoint_url(self) -> str | None:
        if not self.endpoint:
            return None
        if "://" in self.endpoint:
            return self.endpoint
        return ("http://" if self.insecure else "https://") + self.endpoint


class S3Store:
    """One bucket of an S3-compatible store. Create with :meth:`open`, then :meth:`close`."""

    def __init__(
        self,
        settings: S3Settings,
        client: Any,
        stack: contextlib.AsyncExitStack,
        *,
        backoff: retry.Backoff = DEFAULT_BACKOFF,
    ) -> None:
        self.bucket = settings.bucket
        self.settings = settings
        self._client = client
        self._stack = stack
        self._backoff = backoff

    @classmethod
    async def open(
        cls, settings: S3Settings, *, max_connections: int = 16, backoff: retry.Backoff = DEFAULT_BACKOFF
    ) -> S3Store:
        """Create the client (no network traffic yet). ``backoff`` bounds the retries of
        every call (``max_elapsed`` is the controller's ``--maxretryelapsedsec``)."""
        config = AioConfig(
            s3={"addressing_style": "path" if settings.force_path_style else "auto"},
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=10,
            read_timeout=60,
            max_pool_connections=max_connections,
            signature_version="s3v4",
        )
        stack = contextlib.AsyncExitStack()
        verify: bool | str = settings.verify_tls
        if settings.ca_bundle and settings.verify_tls:
            pem = tempfile.NamedTemporaryFile("w", prefix=tempdirs.prefix("ca"), suffix=".pem")  # noqa: SIM115
            bundle = stack.enter_context(pem)  # removed when the store closes
            bundle.write(settings.ca_bundle)
            bundle.flush()
            verify = bundle.name
        client = await stack.enter_async_context(
            _session().create_client(
                "s3",
                endpoint_url=settings.endpoint_url,
                region_name=settings.region or "us-east-1",
                aws_access_key_id=settings.access_key,
                aws_secret_access_key=settings.secret_key,
                config=config,
                verify=verify,
            )
        )
        return cls(settings, client, stack, backoff=backoff)

    async def close(self) -> None:
        await self._stack.aclose()

    @property
    def sse_params(self) -> dict[str, str]:
        """The server-side encryption parameters of every upload request (none if not configured)."""
        params: dict[str, str] = {}
        if self.settings.server_side_encryption:
            params["ServerSideEncryption"] = self.settings.server_side_encryption
            if self.settings.sse_kms_key_id:
                params["SSEKMSKeyId"] = self.settings.sse_kms_key_id
        return params

    async def _once(self, what: str, op: Callable[[], Awaitable[T]]) -> T:
        try:
            return await op()
        except Exception as exc:
            mapped = s3errors.map_error(exc, what=what, bucket=self.bucket)
            if mapped is None:
                raise
            raise mapped from None

    async def _call(self, what: str, op: Callable[[], Awaitable[T]]) -> T:
        return await retry.retrying(lambda: self._once(what, op), backoff=self._backoff, what=what)

    # -- bucket -------------------------------------------------------------

    async def check(self) -> None:
        """Reachable, credentials accepted, bucket exists.

        A one-key LIST rather than HEAD: HEAD answers carry no body, so a
        wrong secret would read as a bare 403 instead of SignatureDoesNotMatch.
        """
        await self._call(
            f"LIST bucket {self.bucket}", lambda: self._client.list_objects_v2(Bucket=self.bucket, MaxKeys=1)
        )

    async def create_bucket(self) -> None:
        async def op() -> None:
            try:
                await self._client.create_bucket(Bucket=self.bucket)
            except self._client.exceptions.BucketAlreadyOwnedByYou:
                return

        await self._call(f"create bucket {self.bucket}", op)

    # -- objects ------------------------------------------------------------

    def upload(
        self, key: str, *, metadata: Mapping[str, str], part_size: int = 8 << 20
    ) -> multipart.MultipartUpload:
        return multipart.MultipartUpload(
            client=self._client, store=self, key=key, metadata=dict(metadata), part_size=part_size
        )

    async def put(self, key: str, data: bytes, *, metadata: Mapping[str, str]) -> StoredObject:
        await self._call(
            f"PUT {key}",
            lambda: self._client.put_object(
                Bucket=self.bucket, Key=key, Body=data, Metadata=dict(metadata), **self.sse_params
            ),
        )
        return await self.head(key)

    async def head(self, key: str) -> StoredObject:
        resp = await self._call(f"HEAD {key}", lambda: self._client.head_object(Bucket=self.bucket, Key=key))
        return StoredObject(
            key=key,
            size=int(resp["ContentLength"]),
            last_modified=_utc(resp["LastModified"]),
            metadata=dict(resp.get("Metadata", {})),
        )

    async def get(self, key: str) -> bytes:
        return b"".join([chunk async for chunk in self.download(key)])

    async def download(self, key: str) -> AsyncIterator[bytes]:
        """Stream ``key``; after a dropped connection, resume at the next byte.

        Retries stay within the store's backoff's ``max_elapsed``, counted from
        the last byte received: a store that stays unreachable for that long
        raises its last :class:`~k8ssnap.errors.StoreRetriable`.
        """
        offset = 0
        budget = self._backoff
        delays = budget.delays()
        stalled_since: float | None = None
        while True:
            try:
                async for chunk in self._download_from(key, offset):
                    offset += len(chunk)
                    if stalled_since is not None:  # progress: a fresh budget and schedule
                        stalled_since, delays = None, budget.delays()
                    yield chunk
            except errors.StoreRetriable as exc:
                now = time.monotonic()
                stalled_since = now if stalled_since is None else stalled_since
                delay = next(delays)
                if now - stalled_since + delay > budget.max_elapsed:
                    exc.reason = f"gave up after {now - stalled_since:.0f} s of retries: {exc.reason}"
                    raise
                await asyncio.sleep(delay)
                continue
            return

    async def _download_from(self, key: str, offset: int) -> AsyncIterator[bytes]:
        what = f"GET {key}"
        extra = {"Range": f"bytes={offset}-"} if offset else {}
        resp = await self._once(what, lambda: self._client.get_object(Bucket=self.bucket, Key=key, **extra))
        body = resp["Body"]
        try:
            while True:
                chunk = await self._once(what, lambda: body.read(_CHUNK))
                if not chunk:
                    return
                yield chunk
        finally:
            body.close()

    async def list(self, prefix: str) -> AsyncIterator[StoredObject]:
        """Every key under ``prefix``, page by page (any number of keys)."""
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": 1000}
            if token:
                kwargs["ContinuationToken"] = token
            page = await self._list_page(kwargs)
            for item in page.get("Contents", []):
                yield StoredObject(
                    key=item["Key"],
                    size=int(item["Size"]),
                    last_modified=_utc(item["LastModified"]),
                    metadata={},
                )
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return

    async def _list_page(self, kwargs: dict[str, Any]) -> Any:
        return await self._call(f"LIST {kwargs['Prefix']!r}", lambda: self._client.list_objects_v2(**kwargs))

    async def delete(self, key: str) -> None:
        await self._call(f"DELETE {key}", lambda: self._client.delete_object(Bucket=self.bucket, Key=key))

    async def abort_uploads(
        self, prefix: str, *, older_than: dt.datetime, ours: Callable[[str], bool] | None = None
    ) -> int:
        """Abort multipart uploads under ``prefix`` (of keys ``ours`` accepts, if given) started
        before ``older_than``; return how many."""
        aborted = 0
        async for upload in self._uploads(prefix):
            key = str(upload["Key"])
            if _utc(upload["Initiated"]) < older_than and (ours is None or ours(key)):
                await self._abort_upload(key=key, upload_id=str(upload["UploadId"]))
                aborted += 1
        return aborted

    async def abort_uploads_of(self, key: str, *, keep: str | None = None) -> int:
        """Abort every unfinished multipart upload of exactly ``key`` except ``keep``; return how many."""
        aborted = 0
        async for upload in self._uploads(key):
            upload_id = str(upload["UploadId"])
            if upload["Key"] == key and upload_id != keep:
                await self._abort_upload(key=key, upload_id=upload_id)
                aborted += 1
        return aborted

    async def _abort_upload(self, *, key: str, upload_id: str) -> None:
        await self._call(
            f"ABORT {key}",
            lambda: self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id),
        )

    async def _uploads(self, prefix: str) -> AsyncIterator[dict[str, Any]]:
        """Every unfinished multipart upload under ``prefix``, following the listing's pages."""
        markers: dict[str, str] = {}
        while True:
            resp = await self._list_uploads({"Bucket": self.bucket, "Prefix": prefix, **markers})
            for upload in resp.get("Uploads", []):
                yield upload
            following = {
                "KeyMarker": str(resp.get("NextKeyMarker") or ""),
                "UploadIdMarker": str(resp.get("NextUploadIdMarker") or ""),
            }
            if not resp.get("IsTruncated") or following == markers:
                return
            markers = following

    async def _list_uploads(self, query: dict[str, str]) -> Any:
        return await self._call(
            f"LIST multipart uploads of {query['Prefix']}",
            lambda: self._client.list_multipart_uploads(**query),
        )


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)


@contextlib.asynccontextmanager
async def opened(settings: S3Settings, backoff: retry.Backoff) -> AsyncIterator[S3Store]:
    """An open :class:`S3Store` (closed on exit) whose calls retry within ``backoff``."""
    store = await S3Store.open(settings, backoff=backoff)
    try:
        yield store
    finally:
        await store.close()
