"""ObjectstoreConfig reconcile (finalizer and status), settings_for, open_store and ensure_bucket."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from k8ssnap import errors, retry
from k8ssnap.api import constants
from k8ssnap.controllers import objectstores
from k8ssnap.controllers.context import Settings, Subject
from k8ssnap.runtime.controller import Requeue
from k8ssnap.runtime.source import ObjectKey
from k8ssnap.store.objectstore import ObjectStore
from k8ssnap.store.s3 import S3Settings, S3Store
from k8ssnap.store.snapshots import SnapshotStore
from k8ssnap.testing.store import FakeObjectStore
from tests.unit.controllers import fakes
from tests.unit.controllers.fakes import (
    NS,
    Call,
    World,
    objectstore_config,
    secret,
    snapshot,
)

OSC = constants.OBJECTSTORE_CONFIG
KEY = ObjectKey(NS, "store")
PATH = OSC.path(NS, "store")
STATUS = OSC.path(NS, "store", status=True)
KEEP = "other.io/keep"
FIN = constants.FINALIZER


class S3:
    """A bucket opener for :class:`objectstores.ConfigStores`: hands out one in-memory
    bucket and remembers the settings and retry budgets it was opened with."""

    def __init__(self) -> None:
        self.store = FakeObjectStore()
        self.settings: list[S3Settings] = []
        self.budgets: list[float] = []

    @asynccontextmanager
    async def __call__(self, settings: S3Settings, backoff: retry.Backoff) -> AsyncIterator[ObjectStore]:
        self.settings.append(settings)
        self.budgets.append(backoff.max_elapsed)
        self.store.closed = False
        try:
            yield self.store
        finally:
            await self.store.close()


@pytest.fixture
def s3() -> S3:
    return S3()


def world(s3: S3, settings: Settings | None = None) -> World:
    """A world whose store opener is the real one, over :class:`S3`'s bucket."""
    w = fakes.world(settings)
    w.ctx.stores = objectstores.ConfigStores(open_bucket=s3)
    return w


def with_credentials(w: World, **data: str) -> World:
    path, obj = secret("creds", data or {"accesskey": "AK", "secretkey": "SK"})
    w.kube.objects[path] = obj
    return w


def user(name: str, config: str | None = "store") -> dict[str, Any]:
    spec: dict[str, Any] = {"clusterName": "c1"}
    if config is not None:
        spec["objectstoreConfig"] = config
    return snapshot(name, phase="Completed", spec=spec)


def finalizer_patch(finalizers: list[str]) -> Call:
    return Call("merge_patch", PATH, {"metadata": {"finalizers": finalizers, "resourceVersion": "7"}})


def status_of(call: Call) -> dict[str, Any]:
    assert call.path == STATUS
    body = dict(call.body["status"])
    checked = dt.datetime.strptime(body.pop("lastChecked"), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    assert abs((dt.datetime.now(dt.UTC) - checked).total_seconds()) < 5
    return body


AVAILABLE = {"phase": "Available", "reason": "", "bucketExists": True, "observedGeneration": 3}


# --- finalizer -----------------------------------------------------------------------------


async def test_an_object_not_in_the_cache_is_left_alone(w: World, s3: S3) -> None:
    assert await objectstores.reconcile(w.ctx, KEY) is None
    assert w.kube.calls == []
    assert s3.settings == []


@pytest.mark.parametrize(
    ("snapshots", "finalizers", "patched"),
    [
        ([user("a")], [], [FIN]),
        ([user("a"), user("b")], [KEEP], [KEEP, FIN]),
        ([user("a")], [FIN], None),
        ([], [KEEP, FIN], [KEEP]),
        ([], [], None),
        ([user("a", "elsewhere")], [FIN], []),
    ],
    ids=["used-add", "used-add-keep-others", "used-has-it", "unused-remove", "unused-none", "other-config"],
)
async def test_the_finalizer_follows_the_snapshots_that_name_the_config(
    s3: S3, snapshots: list[dict[str, Any]], finalizers: list[str], patched: list[str] | None
) -> None:
    w = with_credentials(world(s3))
    for snap in snapshots:
        w.put(constants.SNAPSHOT, snap)
    w.put(OSC, objectstore_config(finalizers=finalizers))

    result = await objectstores.reconcile(w.ctx, KEY)

    assert isinstance(result, Requeue)
    assert result.after == w.ctx.settings.store_check_interval
    writes = w.kube.writes()
    if patched is None:
        assert len(writes) == 1
    else:
        assert writes[0] == finalizer_patch(patched)
        assert len(writes) == 2
    assert status_of(writes[-1]) == AVAILABLE


@pytest.mark.parametrize(
    ("snapshots", "finalizers", "result", "writes"),
    [
        ([user("a")], [FIN], Requeue, []),
        ([user("a")], [], Requeue, []),
        ([], [FIN, KEEP], None, [finalizer_patch([KEEP])]),
        ([], [], None, []),
    ],
    ids=["used-waits", "used-no-finalizer-waits", "unused-released", "unused-nothing"],
)
async def test_deletion_waits_while_a_snapshot_uses_the_config(
    s3: S3,
    snapshots: list[dict[str, Any]],
    finalizers: list[str],
    result: type[Requeue] | None,
    writes: list[Call],
) -> None:
    w = with_credentials(world(s3))
    for snap in snapshots:
        w.put(constants.SNAPSHOT, snap)
    w.put(OSC, objectstore_config(finalizers=finalizers, deleting=True))

    got = await objectstores.reconcile(w.ctx, KEY)

    if result is None:
        assert got is None
    else:
        assert isinstance(got, Requeue)
        assert got.after == 30.0
    assert w.kube.writes() == writes
    assert s3.settings == []  # a config being deleted is not checked


# --- status ---------------------------------------------------------------------------------------


NO_BUCKET = errors.BucketMissing("bucket 'bkt' does not exist")


@pytest.mark.parametrize(
    ("check_error", "create_bucket", "expected", "created"),
    [
        (None, False, AVAILABLE, False),
        (
            NO_BUCKET,
            False,
            {"phase": "Unavailable", "reason": "bucket 'bkt' does not exist", "bucketExists": False},
            False,
        ),
        (NO_BUCKET, True, AVAILABLE, True),
        (
            errors.StorePermanent("SignatureDoesNotMatch: check the secret key"),
            True,
            {
                "phase": "Unavailable",
                "reason": "SignatureDoesNotMatch: check the secret key",
                "bucketExists": None,
            },
            False,
        ),
        (
            errors.StoreRetriable("cannot reach http://s3:9000"),
            True,
            {"phase": "Unavailable", "reason": "cannot reach http://s3:9000", "bucketExists": None},
            False,
        ),
    ],
    ids=["available", "no-bucket", "no-bucket-created", "bad-secret", "unreachable"],
)
async def test_the_status_says_whether_the_store_can_be_used(
    s3: S3, check_error: Exception | None, create_bucket: bool, expected: dict[str, Any], created: bool
) -> None:
    w = with_credentials(world(s3, Settings(create_bucket=create_bucket)))
    s3.store.check_errors = [check_error] if check_error else []
    w.put(OSC, objectstore_config())

    await objectstores.reconcile(w.ctx, KEY)

    [patch] = w.kube.writes()
    assert status_of(patch) == {"observedGeneration": 3, **expected}
    assert s3.store.closed
    assert (("create_bucket", "bkt") in s3.store.calls) is created
    assert s3.settings[0].bucket == "bkt"
    assert (s3.settings[0].access_key, s3.settings[0].secret_key) == ("AK", "SK")


@pytest.mark.parametrize(
    ("credentials", "spec", "reason"),
    [
        (None, None, f"ObjectstoreConfig 'store' credentials: Secret 'creds' not found in namespace '{NS}'"),
        (
            {"accesskey": "AK"},
            None,
            "ObjectstoreConfig 'store' credentials: Secret 'creds' has no key 'secretkey'",
        ),
        (
            {"accesskey": "AK", "secretkey": "SK"},
            {"bucket": "bkt", "cloudCredentialSecret": "creds", "endpoint": "ftp://s3"},
            "spec.endpoint must start with http:// or https://, not ftp://",
        ),
        (
            {"accesskey": "AK", "secretkey": "SK"},
            {"bucket": "bkt", "cloudCredentialSecret": "creds", "caBundleSecret": {"name": "ca"}},
            f"CA bundle: Secret 'ca' not found in namespace '{NS}'",
        ),
    ],
    ids=["no-secret", "no-secret-key", "bad-endpoint", "no-ca-secret"],
)
async def test_an_unusable_config_is_unavailable_with_the_reason(
    s3: S3, credentials: dict[str, str] | None, spec: dict[str, Any] | None, reason: str
) -> None:
    w = world(s3)
    if credentials is not None:
        with_credentials(w, **credentials)
    w.put(OSC, objectstore_config(spec=spec))

    await objectstores.reconcile(w.ctx, KEY)

    [patch] = w.kube.writes()
    assert status_of(patch) == {
        "phase": "Unavailable",
        "reason": reason,
        "bucketExists": None,
        "observedGeneration": 3,
    }
    assert s3.settings == []


@pytest.mark.parametrize(
    ("old", "patched"),
    [
        ({"phase": "Available", "reason": "", "bucketExists": True}, False),
        ({"phase": "Unavailable", "reason": "was down", "bucketExists": None}, True),
        ({"phase": "Available", "reason": "", "bucketExists": None}, True),
        (None, True),
    ],
)
async def test_the_status_is_written_only_when_it_changes(
    s3: S3, old: dict[str, Any] | None, patched: bool
) -> None:
    w = with_credentials(world(s3))
    w.put(OSC, objectstore_config(status=old))

    assert isinstance(await objectstores.reconcile(w.ctx, KEY), Requeue)

    assert len(w.kube.writes()) == (1 if patched else 0)


# --- settings, open_store, ensure_bucket ------------------------------------------------------------


async def test_settings_come_from_the_spec_and_the_secrets(s3: S3) -> None:
    w = with_credentials(world(s3, Settings(insecure=True)), accesskey=" AK\n", secretkey="SK\n")
    path, ca = secret("ca", {"bundle.pem": "-----BEGIN CERTIFICATE-----"})
    w.kube.objects[path] = ca
    spec = {
        "bucket": "bkt",
        "cloudCredentialSecret": "creds",
        "endpoint": "minio:9000",
        "insecure": True,
        "prefix": "/team/backups/",
        "caBundleSecret": {"name": "ca", "key": "bundle.pem"},
    }
    w.put(OSC, objectstore_config(spec=spec))

    settings, prefix = await objectstores.settings_for(w.ctx, "store")

    assert prefix == "team/backups/"
    assert settings == S3Settings(
        endpoint="http://minio:9000",
        bucket="bkt",
        access_key="AK",
        secret_key="SK",
        region="us-east-1",
        insecure=True,
        verify_tls=False,
        force_path_style=True,
        ca_bundle="-----BEGIN CERTIFICATE-----",
    )


async def test_server_side_encryption_reaches_the_store_settings_and_every_upload(s3: S3) -> None:
    w = with_credentials(world(s3))
    sse = {"algorithm": "aws:kms", "kmsKeyId": "arn:aws:kms:eu-west-1:1:key/k"}
    w.put(
        OSC,
        objectstore_config(
            spec={"bucket": "b", "cloudCredentialSecret": "creds", "serverSideEncryption": sse}
        ),
    )

    settings, _ = await objectstores.settings_for(w.ctx, "store")

    assert (settings.server_side_encryption, settings.sse_kms_key_id) == ("aws:kms", sse["kmsKeyId"])
    store = S3Store(settings, client=None, stack=None)  # type: ignore[arg-type]
    assert store.sse_params == {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": sse["kmsKeyId"]}


async def test_a_config_missing_from_the_cache_is_read_from_the_api_server(s3: S3) -> None:
    w = with_credentials(world(s3))
    w.kube.objects[PATH] = objectstore_config(spec={"bucket": "remote", "cloudCredentialSecret": "creds"})

    settings, prefix = await objectstores.settings_for(w.ctx, "store")

    assert (settings.bucket, prefix) == ("remote", "")
    assert Call("get", PATH) in w.kube.calls


@pytest.mark.parametrize(("count", "bucket"), [(0, None), (1, "only"), (2, None)])
async def test_an_unnamed_config_means_the_only_one(s3: S3, count: int, bucket: str | None) -> None:
    w = with_credentials(world(s3))
    for i in range(count):
        w.put(OSC, objectstore_config(f"c{i}", spec={"bucket": "only", "cloudCredentialSecret": "creds"}))

    if bucket is None:
        with pytest.raises(errors.ConfigError, match=f"there are {count} ObjectstoreConfigs; name one"):
            await objectstores.settings_for(w.ctx, None)
    else:
        settings, _ = await objectstores.settings_for(w.ctx, None)
        assert settings.bucket == bucket


async def test_the_opener_yields_the_store_at_the_prefix_and_closes_it(s3: S3) -> None:
    w = with_credentials(world(s3, Settings(max_retry_elapsed=42.0)))
    w.put(OSC, objectstore_config(spec={"bucket": "bkt", "cloudCredentialSecret": "creds", "prefix": "p"}))

    subject = Subject(constants.SNAPSHOT, snapshot("s1"))
    async with w.ctx.stores(w.ctx, "store", subject=subject) as store:
        assert store.objects is s3.store
        assert store.prefix == "p/"
        open_inside = not s3.store.closed
    assert open_inside
    assert s3.store.closed
    assert s3.budgets == [42.0]


@pytest.mark.parametrize(
    ("create", "error", "raises", "calls"),
    [
        (False, None, False, ["check"]),
        (False, errors.BucketMissing("bucket 'bkt' does not exist"), True, ["check"]),
        (
            True,
            errors.BucketMissing("bucket 'bkt' does not exist"),
            False,
            ["check", "create_bucket", "check"],
        ),
        (True, errors.StorePermanent("Access Denied"), True, ["check"]),
        (True, errors.StoreRetriable("timeout"), True, ["check"]),
    ],
)
async def test_checking_a_store_creates_a_missing_bucket_only_when_asked(
    create: bool, error: Exception | None, raises: bool, calls: list[str]
) -> None:
    bucket = FakeObjectStore()
    bucket.check_errors = [error] if error else []
    store = SnapshotStore(bucket)

    if raises:
        assert error is not None
        with pytest.raises(type(error)) as raised:
            await store.check(create=create)
        assert raised.value is error
    else:
        await store.check(create=create)

    assert [op for op, _ in bucket.calls] == calls


async def test_an_unchanged_config_is_not_rechecked_before_its_interval(s3: S3) -> None:
    """Snapshot events queue the config; they must not each open S3 again."""
    w = with_credentials(world(s3))
    w.put(OSC, objectstore_config())
    await objectstores.reconcile(w.ctx, KEY)
    w.put(
        OSC,
        w.kube.objects.get(OSC.path(NS, "store"))
        or {**objectstore_config(), "status": {"phase": "Available"}},
    )
    checks = len(s3.settings)

    again = await objectstores.reconcile(w.ctx, KEY)

    assert len(s3.settings) == checks
    assert isinstance(again, Requeue)
    assert 0 < again.after <= w.ctx.settings.store_check_interval
