"""ObjectstoreConfig: resolving it to an S3 bucket, and reconciling its status.

The status says whether the store is reachable and the bucket exists, in
plain words when not; it is checked on every change and every
``store_check_interval`` seconds, and written only when it changes
(``lastChecked`` is when that was): writing every check would itself be a
change that triggers the next check.

Deleting an ObjectstoreConfig that Snapshots still use: the config carries
our finalizer while any Snapshot names it, so the delete waits (the
Snapshots' archives stay reachable and their own deletion can still remove
them); once no Snapshot uses it, the finalizer is dropped and it goes.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from k8ssnap import errors, retry
from k8ssnap.api import constants, status
from k8ssnap.api.resources import ObjectstoreConfig, parse_objectstore_config
from k8ssnap.controllers import clusters, insecure
from k8ssnap.controllers.context import Context, Subject
from k8ssnap.domain import stores
from k8ssnap.runtime.controller import Requeue
from k8ssnap.runtime.source import ObjectKey
from k8ssnap.store import folder, s3
from k8ssnap.store.objectstore import ObjectStore
from k8ssnap.store.s3 import S3Settings
from k8ssnap.store.snapshots import SnapshotStore

log = logging.getLogger(__name__)


async def _config(ctx: Context, name: str | None) -> ObjectstoreConfig:
    if name is None:
        configs = ctx.informers[constants.OBJECTSTORE_CONFIG.plural].list()
        if len(configs) != 1:
            raise errors.ConfigError(
                f"spec.objectstoreConfig is not set and there are {len(configs)} ObjectstoreConfigs; name one"
            )
        return parse_objectstore_config(configs[0])
    raw = ctx.cached(constants.OBJECTSTORE_CONFIG, name)
    if raw is None:
        try:
            raw = await ctx.kube.get(ctx.path(constants.OBJECTSTORE_CONFIG, name))
        except errors.NotFound:
            raise errors.ConfigError(f"ObjectstoreConfig {name!r} not found") from None
    return parse_objectstore_config(raw)


async def settings_for(ctx: Context, name: str | None) -> tuple[S3Settings, str]:
    """S3 settings and key prefix for the ObjectstoreConfig ``name`` (credentials from its Secret)."""
    config = await _config(ctx, name)
    spec = config.spec
    secret, what = spec.cloud_credential_secret, f"ObjectstoreConfig {config.name!r} credentials"
    access = await clusters.secret_value(ctx, name=secret, key=constants.ACCESS_KEY_KEY, what=what)
    secret_key = await clusters.secret_value(ctx, name=secret, key=constants.SECRET_KEY_KEY, what=what)
    ca_bundle, sse = None, spec.server_side_encryption
    if spec.ca_bundle is not None:
        ca_bundle = await clusters.secret_value(
            ctx, name=spec.ca_bundle.name, key=spec.ca_bundle.key, what="CA bundle"
        )
    settings = S3Settings(
        endpoint=spec.endpoint_url or "",
        bucket=spec.bucket,
        access_key=access.strip(),
        secret_key=secret_key.strip(),
        region=spec.region or "us-east-1",
        insecure=spec.insecure,
        verify_tls=not ctx.settings.insecure,
        force_path_style=spec.force_path_style or bool(spec.endpoint_url),
        ca_bundle=ca_bundle,
        server_side_encryption=None if sse is None else sse.algorithm,
        sse_kms_key_id=None if sse is None else sse.kms_key_id,
    )
    prefix = f"{spec.prefix}/" if spec.prefix else ""
    return settings, prefix


BucketOpener = Callable[[S3Settings, retry.Backoff], AbstractAsyncContextManager[ObjectStore]]
"""Opens one bucket with the given retry budget (production: :func:`k8ssnap.store.s3.opened`)."""


class ConfigStores:
    """The production :class:`~k8ssnap.controllers.context.StoreOpener`: ObjectstoreConfig
    and its Secret -> S3 settings -> an open bucket -> a :class:`SnapshotStore` at the prefix."""

    def __init__(self, *, open_bucket: BucketOpener = s3.opened) -> None:
        self._open_bucket = open_bucket

    async def config(self, ctx: Context, name: str | None) -> ObjectstoreConfig:
        """The ObjectstoreConfig ``name`` (the only one, if None), from the informer cache
        else the API server; ConfigError if missing or ambiguous."""
        return await _config(ctx, name)

    @asynccontextmanager
    async def __call__(
        self, ctx: Context, name: str | None, *, subject: Subject, max_elapsed: float | None = None
    ) -> AsyncIterator[SnapshotStore]:
        config = await _config(ctx, name)
        if folder.is_folder_endpoint(config.spec.endpoint or ""):
            # a local folder (``file://``): only inside the operator's --folder-store-root
            local = folder.FolderStore.open(
                endpoint=config.spec.endpoint or "",
                bucket=config.spec.bucket,
                root=ctx.settings.folder_store_root,
            )
            budget = ctx.settings.max_retry_elapsed if max_elapsed is None else max_elapsed
            local.backoff = retry.Backoff(initial=0.5, max_elapsed=budget)
            yield SnapshotStore(local, prefix=f"{config.spec.prefix}/" if config.spec.prefix else "")
            return
        settings, prefix = await settings_for(ctx, name)
        if _unverified(settings):
            await insecure.report(ctx, subject, insecure.STORE)
        budget = ctx.settings.max_retry_elapsed if max_elapsed is None else max_elapsed
        async with self._open_bucket(settings, retry.Backoff(initial=0.5, max_elapsed=budget)) as bucket:
            yield SnapshotStore(bucket, prefix=prefix)


def _unverified(settings: S3Settings) -> bool:
    """An https endpoint whose certificate is not checked (``--insecure``)."""
    return not settings.verify_tls and not settings.insecure


def users(ctx: Context, name: str) -> list[str]:
    """Snapshots that store into ``name`` (see :func:`k8ssnap.domain.stores.uses_config`)."""
    configs = [str(o["metadata"]["name"]) for o in ctx.informers[constants.OBJECTSTORE_CONFIG.plural].list()]
    etcd = ctx.informers.get(constants.ETCD_SNAPSHOT.plural)  # EtcdSnapshots hold it too, when served
    return [
        str(obj["metadata"]["name"])
        for obj in [*ctx.informers[constants.SNAPSHOT.plural].list(), *(etcd.list() if etcd else [])]
        if stores.uses_config((obj.get("spec") or {}).get("objectstoreConfig"), config=name, configs=configs)
    ]


async def _check(ctx: Context, raw: dict[str, Any]) -> tuple[str, str, bool | None]:
    name, subject = raw["metadata"]["name"], Subject(constants.OBJECTSTORE_CONFIG, raw)
    try:
        async with ctx.stores(ctx, name, subject=subject, max_elapsed=5.0) as store:
            await store.check(create=ctx.settings.create_bucket)
    except errors.ConfigError as exc:
        return constants.STORE_UNAVAILABLE, exc.reason, None
    except errors.BucketMissing as exc:
        return constants.STORE_UNAVAILABLE, exc.reason, False
    except errors.StoreError as exc:
        return constants.STORE_UNAVAILABLE, exc.reason, None
    return constants.STORE_AVAILABLE, "", True


async def reconcile(ctx: Context, key: ObjectKey) -> Requeue | None:
    """Keep an ObjectstoreConfig's status and finalizer true."""
    raw = ctx.cached(constants.OBJECTSTORE_CONFIG, key.name)
    if raw is None:
        return None
    meta: dict[str, Any] = raw["metadata"]
    finalizers = list(meta.get("finalizers") or [])
    using = users(ctx, key.name)
    if meta.get("deletionTimestamp"):
        if not using and constants.FINALIZER in finalizers:
            finalizers.remove(constants.FINALIZER)
            await ctx.kube.merge_patch(
                ctx.path(constants.OBJECTSTORE_CONFIG, key.name), _finalizers(meta, finalizers)
            )
            return None
        return Requeue(after=30.0) if using else None
    if using and constants.FINALIZER not in finalizers:
        await ctx.kube.merge_patch(
            ctx.path(constants.OBJECTSTORE_CONFIG, key.name),
            _finalizers(meta, [*finalizers, constants.FINALIZER]),
        )
    elif not using and constants.FINALIZER in finalizers:
        finalizers.remove(constants.FINALIZER)
        await ctx.kube.merge_patch(
            ctx.path(constants.OBJECTSTORE_CONFIG, key.name), _finalizers(meta, finalizers)
        )
    generation = int(meta.get("generation") or 0)
    last = ctx.store_checks.get(key.name)
    if last is not None and last[0] == generation and (raw.get("status") or {}).get("phase"):
        due = last[1] + ctx.settings.store_check_interval - time.monotonic()
        if due > 0:  # checked recently and unchanged: Snapshot events alone do not re-check S3
            return Requeue(after=due)
    phase, reason, exists = await _check(ctx, raw)
    ctx.store_checks[key.name] = (generation, time.monotonic())
    now = dt.datetime.now(dt.UTC)
    generation = int(meta.get("generation") or 0)
    if phase == constants.STORE_AVAILABLE:
        body = status.objectstore_available(checked_at=now, observed_generation=generation)
    else:
        body = status.objectstore_unavailable(
            reason, bucket_exists=exists, checked_at=now, observed_generation=generation
        )
    old = raw.get("status") or {}
    if (old.get("phase"), old.get("reason"), old.get("bucketExists")) != (phase, reason, exists):
        await ctx.kube.merge_patch(
            ctx.path(constants.OBJECTSTORE_CONFIG, key.name, status=True), {"status": body}
        )
    return Requeue(after=ctx.settings.store_check_interval)


def _finalizers(meta: dict[str, Any], finalizers: list[str]) -> dict[str, Any]:
    return {"metadata": {"finalizers": finalizers, "resourceVersion": meta.get("resourceVersion")}}
