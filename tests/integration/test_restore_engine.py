"""The restore engine against the real clusters: snapshot cluster a, restore into cluster b.

Every test takes its own snapshot of cluster a (a fresh namespace, so
nothing collides) and restores it into b with a preference scoped to that
namespace and its cluster-scoped objects (their names contain it), so other
tests' objects never matter. Cluster b is cleaned after each test.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from k8ssnap import errors, retry
from k8ssnap.archive.index import RecordedSpec, StoredRecord
from k8ssnap.domain.paths import parse_path
from k8ssnap.domain.preference import DEFAULT_APP_API_PATHS, Preference
from k8ssnap.kube import listing
from k8ssnap.kube.client import KubeClient
from k8ssnap.restore import RestoreEngine, RestoreJob, RestoreResult
from k8ssnap.snapshot.engine import SnapshotEngine, SnapshotJob
from k8ssnap.store import layout
from k8ssnap.store.s3 import S3Store
from k8ssnap.store.snapshots import SnapshotStore
from tests import mix
from tests.waiting import eventually

pytestmark = pytest.mark.integration

FAST = retry.Backoff(initial=0.2, max_elapsed=10.0)
CORE = "/api/v1/namespaces"
RBAC = "/apis/rbac.authorization.k8s.io/v1"


@dataclass
class World:
    """One test's namespace, clients and bucket, and what to clean up afterwards."""

    ns: str
    a: KubeClient
    b: KubeClient
    s3: S3Store
    extra_namespaces: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)

    def path(self, rest: str) -> str:
        """A core path in the test namespace: ``configmaps/config-0`` -> its API path."""
        return f"{CORE}/{self.ns}/{rest}"

    def scoped(self, **spec: Any) -> Preference:
        """A preference restricted to the test namespace and its cluster-scoped objects."""
        base: dict[str, Any] = {
            "includeNamespaces": [self.ns, *self.extra_namespaces],
            "includeApiPathes": [f"/,{self.ns}"],
            "includeCRDs": [self.ns],
        }
        return Preference.from_spec({**base, **spec})

    async def snapshot(self) -> tuple[str, StoredRecord]:
        """Snapshot cluster a; return the snapshot name and its stored record."""
        name = f"restore-{self.ns}-{len(self.keys)}"
        spec = RecordedSpec(cluster_name="a", ttl=None, available_until=None, objectstore_config="")
        self.keys += [layout.archive_key(name), layout.record_key(name)]
        await SnapshotEngine(slots=asyncio.Semaphore(5)).run(
            SnapshotJob(name=name, cluster_name="a", spec=spec), kube=self.a, store=SnapshotStore(self.s3)
        )
        return name, StoredRecord.from_json(await self.s3.get(layout.record_key(name)))

    async def restore(
        self,
        name: str,
        record: StoredRecord,
        preference: Preference,
        *,
        concurrency: int = 16,
        **options: Any,
    ) -> RestoreResult:
        """Restore snapshot ``name`` into cluster b and check the result's accounting."""
        engine_options = {k: options.pop(k) for k in ("bind_timeout", "spool_dir") if k in options}
        store: SnapshotStore = options.pop("store", None) or SnapshotStore(self.s3)
        job = RestoreJob(
            snapshot_name=name,
            expected_sha256=options.pop("expected_sha256", record.sha256),
            expected_size=options.pop("expected_size", record.size),
            preference=preference,
            backoff=FAST,
            **options,
        )
        engine = RestoreEngine(concurrency=concurrency, **engine_options)
        result = await engine.run(job, kube=self.b, store=store)
        check_accounting(result, record)
        return result


def check_accounting(result: RestoreResult, record: StoredRecord) -> None:
    """Every archived object is counted exactly once, and every list is sorted."""
    lists = (result.excluded, result.created, result.updated, result.already_existed, result.failed)
    for entries in lists:
        assert list(entries) == sorted(entries)
    listed = [entry.split(",", 1)[0] for entries in lists for entry in entries]
    assert len(listed) == len(set(listed))
    assert result.num_snapshot_contents == record.index.total
    assert result.num_preference_excluded + len(listed) == record.index.total
    assert int(result.resource_version) > 0


@pytest.fixture
async def world(kube_a: KubeClient, kube_b: KubeClient, s3: S3Store, namespace: str) -> AsyncIterator[World]:
    w = World(ns=namespace, a=kube_a, b=kube_b, s3=s3)
    yield w
    for ns in [namespace, *w.extra_namespaces]:
        await kube_b.delete(f"{CORE}/{ns}")
    for ns in w.extra_namespaces:
        await kube_a.delete(f"{CORE}/{ns}")
    for kube in (kube_a, kube_b):
        await mix.delete_cluster_objects(kube, namespace)
    for key in w.keys:
        await s3.delete(key)


async def settled_mix(w: World, *, bulk: int = 0) -> None:
    """The mix in cluster a, with its ReplicaSet made, plus ``bulk`` extra ConfigMaps."""
    await mix.create_mix(w.a, w.ns)
    gate = asyncio.Semaphore(20)

    async def one(i: int) -> None:
        async with gate:
            body = {"metadata": {"name": f"bulk-{i}"}, "data": {"i": str(i) * 50}}
            await w.a.create(f"{CORE}/{w.ns}/configmaps", body)

    await asyncio.gather(*(one(i) for i in range(bulk)))

    async def replicaset() -> bool:
        sets = await w.a.get(f"/apis/apps/v1/namespaces/{w.ns}/replicasets")
        return bool(sets["items"])

    await eventually(replicaset, what="the Deployment's ReplicaSet")


def mix_paths(ns: str) -> set[str]:
    """The mix's objects a restore without PV rebinding creates (default SA aside)."""
    group = mix.crd_group(ns)
    core = f"{CORE}/{ns}"
    return {
        f"{CORE}/{ns}",
        f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.{group}",
        *(f"{core}/configmaps/config-{i}" for i in range(3)),
        *(f"{core}/secrets/secret-{i}" for i in range(3)),
        *(f"/apis/{group}/v1/namespaces/{ns}/widgets/w{i}" for i in range(3)),
        f"{core}/serviceaccounts/app",
        f"{RBAC}/namespaces/{ns}/roles/reader",
        f"{RBAC}/namespaces/{ns}/rolebindings/reader",
        f"{RBAC}/clusterroles/{ns}-viewer",
        f"{RBAC}/clusterrolebindings/{ns}-viewer",
        f"/apis/apps/v1/namespaces/{ns}/deployments/web",
        f"/apis/apps/v1/namespaces/{ns}/statefulsets/db",
        f"{core}/services/web",
        f"{core}/services/db",
        f"{core}/services/external",
        f"{core}/endpoints/external",
    }


def reasons(result: RestoreResult) -> dict[str, str]:
    """``excluded`` as path -> reason."""
    pairs = (entry.rsplit(",(", 1) for entry in result.excluded)
    return {path: reason.rstrip(")") for path, reason in pairs}


def without_default_account(paths: Iterable[str]) -> set[str]:
    """Drop ``serviceaccounts/default``: b's controller may create it before the restore does."""
    return {p for p in paths if not p.endswith("/serviceaccounts/default")}


_SERVER_KEYS = ("metadata", "status", "apiVersion", "kind")


def comparable(path: str, obj: dict[str, Any]) -> dict[str, Any]:
    """What must survive a round trip: the content, labels and annotations, minus cluster IPs."""
    content = {k: v for k, v in obj.items() if k not in _SERVER_KEYS}
    meta = obj["metadata"]
    content["labels"] = meta.get("labels", {})
    content["annotations"] = meta.get("annotations", {})
    if parse_path(path).resource == "services":
        content["spec"] = {k: v for k, v in content["spec"].items() if k not in ("clusterIP", "clusterIPs")}
    return content


async def creation_versions(kube: KubeClient, collections: list[str], since: str) -> dict[str, int]:
    """Object name -> resourceVersion it was created at, replayed from a watch since ``since``."""
    created: dict[str, int] = {}

    async def replay(collection: str) -> None:
        events = kube.watch(collection, {"resourceVersion": since}, timeout_seconds=1)
        async for event in events:
            meta = event["object"]["metadata"]
            if event["type"] == "ADDED":
                created.setdefault(f"{collection}/{meta['name']}", int(meta["resourceVersion"]))

    await asyncio.gather(*(replay(c) for c in collections))
    return created


# --- round trip -----------------------------------------------------------


async def test_round_trip_restores_the_mix_with_reasons_for_what_it_skips(world: World) -> None:
    w = world
    await settled_mix(w, bulk=300)
    name, record = await w.snapshot()

    started = time.monotonic()
    result = await w.restore(name, record, w.scoped())
    elapsed = time.monotonic() - started

    assert result.failed == ()
    assert result.updated == ()
    bulk = {w.path(f"configmaps/bulk-{i}") for i in range(300)}
    assert without_default_account(result.created + result.already_existed) == mix_paths(w.ns) | bulk
    skipped = reasons(result)
    replicaset = next(p for p in skipped if "/replicasets/" in p)
    assert skipped[replicaset] == "owner-ref"
    assert skipped[w.path("configmaps/kube-root-ca.crt")] == "system-managed"
    assert skipped[w.path("endpoints/web")] == "service-exists"
    assert skipped[w.path("endpoints/db")] == "service-exists"
    assert skipped[w.path("persistentvolumeclaims/data")] == "no-storageclass"
    assert skipped[f"/api/v1/persistentvolumes/pv-{w.ns}"] == "pvc-not-restored"
    assert {p for p, r in skipped.items() if "/pods/" in p} and all(
        r == "owner-ref" for p, r in skipped.items() if "/pods/" in p
    )
    assert f"/apis/storage.k8s.io/v1/storageclasses/nfs-{w.ns}" not in skipped

    for path in sorted(mix_paths(w.ns)):
        source, restored = await w.a.get(path), await w.b.get(path)
        assert comparable(path, restored) == comparable(path, source), path
    assert (await w.b.get(w.path("configmaps/bulk-7")))["data"] == {"i": "7" * 50}

    placed = len(result.created) + len(result.already_existed)
    print(f"\nrestore: {placed} objects placed in {elapsed:.2f} s = {placed / elapsed:.0f} objects/s")
    assert placed / elapsed > 20


async def test_restoring_again_reports_everything_as_already_existed(world: World) -> None:
    w = world
    await settled_mix(w)
    name, record = await w.snapshot()
    first = await w.restore(name, record, w.scoped())
    assert first.failed == ()
    b_version = await listing.current_resource_version(w.b)

    second = await w.restore(name, record, w.scoped())

    assert second.created == ()
    assert second.updated == ()
    assert second.failed == ()
    assert second.already_existed == tuple(sorted(first.created + first.already_existed))
    assert second.excluded == first.excluded
    config = await w.b.get(w.path("configmaps/config-0"))
    assert int(config["metadata"]["resourceVersion"]) < int(b_version)


async def test_overwrite_existing_brings_back_a_changed_configmap(world: World) -> None:
    w = world
    await settled_mix(w)
    name, record = await w.snapshot()
    first = await w.restore(name, record, w.scoped())
    assert first.failed == ()
    await w.b.merge_patch(w.path("configmaps/config-1"), {"data": {"n": "changed", "extra": "x"}})

    result = await w.restore(name, record, w.scoped(), overwrite_existing=True)

    assert result.failed == ()
    assert result.created == ()
    assert result.updated == tuple(sorted(first.created + first.already_existed))
    assert (await w.b.get(w.path("configmaps/config-1")))["data"] == {"n": "1"}


async def test_overwrite_from_the_preference_options(world: World) -> None:
    w = world
    await w.a.create(f"{CORE}/{w.ns}/configmaps", {"metadata": {"name": "c"}, "data": {"v": "1"}})
    name, record = await w.snapshot()
    await w.restore(name, record, w.scoped())
    await w.b.merge_patch(w.path("configmaps/c"), {"data": {"v": "2"}})

    result = await w.restore(name, record, w.scoped(restoreOptions={"overwriteExisting": True}))

    assert w.path("configmaps/c") in result.updated
    assert (await w.b.get(w.path("configmaps/c")))["data"] == {"v": "1"}


# --- what the destination does not serve, and broken archives --------------


async def test_excluded_crd_missing_in_b_fails_only_its_custom_resources(world: World) -> None:
    w = world
    await settled_mix(w)
    name, record = await w.snapshot()
    group = mix.crd_group(w.ns)

    result = await w.restore(name, record, w.scoped(excludeCRDs=[f"widgets.{group}"]))

    widgets = {f"/apis/{group}/v1/namespaces/{w.ns}/widgets/w{i}" for i in range(3)}
    failed = dict(entry.split(",", 1) for entry in result.failed)
    assert set(failed) == widgets
    assert set(failed.values()) == {f"the cluster does not serve widgets.{group}/v1"}
    crd = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.{group}"
    restored = set(result.created + result.already_existed)
    assert without_default_account(restored) == mix_paths(w.ns) - widgets - {crd}
    with pytest.raises(errors.NotFound):
        await w.b.get(crd)


def _damaged(raw: bytes, how: str) -> bytes:
    if how == "flipped":
        middle = len(raw) // 2
        return raw[:middle] + bytes(b ^ 0xFF for b in raw[middle : middle + 16]) + raw[middle + 16 :]
    return raw[: len(raw) * 2 // 3]


@pytest.mark.parametrize(
    ("how", "sha256", "size", "reason"),
    [
        ("flipped", "record", "record", "corrupt"),
        ("truncated", "record", "0", "truncated"),
        ("truncated", "", "0", "truncated"),
        ("intact", "wrong", "0", "sha256"),
        ("intact", "", "wrong", "bytes, but its record says"),
    ],
)
async def test_a_bad_archive_raises_and_creates_nothing(
    world: World, tmp_path: Path, how: str, sha256: str, size: str, reason: str
) -> None:
    w = world
    await w.a.create(f"{CORE}/{w.ns}/configmaps", {"metadata": {"name": "c"}, "data": {"v": "1"}})
    name, record = await w.snapshot()
    raw = await w.s3.get(layout.archive_key(name))
    assert hashlib.sha256(raw).hexdigest() == record.sha256
    bad = raw if how == "intact" else _damaged(raw, how)
    damaged = SnapshotStore(w.s3, prefix=f"damaged-{w.ns}/")  # the same name, another place
    w.keys.append(f"damaged-{w.ns}/{name}.tgz")
    upload = damaged.upload_archive(name)
    await upload.write(bad)
    await upload.complete()

    with pytest.raises(errors.ArchiveError, match=reason):
        await w.restore(
            name,
            record,
            w.scoped(),
            store=damaged,
            expected_sha256={"record": record.sha256, "": "", "wrong": "0" * 64}[sha256],
            expected_size={"record": record.size, "0": 0, "wrong": record.size + 1}[size],
            spool_dir=tmp_path,
        )

    with pytest.raises(errors.NotFound):
        await w.b.get(f"{CORE}/{w.ns}")
    assert list(tmp_path.iterdir()) == []


# --- preference rules ---------------------------------------------------------


async def _namespaces_with_a_configmap(w: World, *suffixes: str) -> list[str]:
    """The test namespace plus ``<ns><suffix>`` ones in a, each holding ConfigMap ``c``."""
    names = [w.ns]
    for suffix in suffixes:
        extra = f"{w.ns}{suffix}"
        w.extra_namespaces.append(extra)
        await w.a.create(CORE, {"metadata": {"name": extra}})
        names.append(extra)
    for ns in names:
        await w.a.create(f"{CORE}/{ns}/configmaps", {"metadata": {"name": "c"}, "data": {"ns": ns}})
    return names


async def test_exclude_namespaces_matches_exactly(world: World) -> None:
    w = world
    ns, longer = await _namespaces_with_a_configmap(w, "-more")
    name, record = await w.snapshot()
    preference = Preference.from_spec(
        {"excludeNamespaces": [ns], "includeApiPathes": [f"/,{ns}"], "includeCRDs": [ns]}
    )

    result = await w.restore(name, record, preference)

    restored = set(result.created + result.already_existed)
    assert {f"{CORE}/{longer}", f"{CORE}/{longer}/configmaps/c"} <= restored
    assert not any(p.startswith(f"{CORE}/{ns}/") or p == f"{CORE}/{ns}" for p in restored)
    assert not any(f"{CORE}/{ns}/" in entry for entry in result.excluded + result.failed)
    with pytest.raises(errors.NotFound):
        await w.b.get(f"{CORE}/{ns}")


async def test_include_namespaces_restores_only_those(world: World) -> None:
    w = world
    ns, wanted, other = await _namespaces_with_a_configmap(w, "-in", "-out")
    name, record = await w.snapshot()
    preference = Preference.from_spec(
        {"includeNamespaces": [wanted], "includeApiPathes": [f"/,{ns}"], "includeCRDs": [ns]}
    )

    result = await w.restore(name, record, preference)

    restored = without_default_account(result.created + result.already_existed)
    assert restored == {f"{CORE}/{wanted}", f"{CORE}/{wanted}/configmaps/c"}
    assert result.failed == ()
    assert all(f"/{wanted}/" in entry for entry in result.excluded)
    with pytest.raises(errors.NotFound):
        await w.b.get(f"{CORE}/{other}")


async def test_exclude_api_pathes_by_prefix_and_by_prefix_and_contains(world: World) -> None:
    w = world
    await settled_mix(w)
    name, record = await w.snapshot()
    core = f"{CORE}/{w.ns}"
    preference = w.scoped(
        excludeApiPathes=[f"{core}/secrets", f"{core}/configmaps,config-1", "/apis/apps/,/db"]
    )

    result = await w.restore(name, record, preference)

    everything = {e.split(",", 1)[0] for e in result.created + result.already_existed + result.excluded}
    dropped = {
        *(f"{core}/secrets/secret-{i}" for i in range(3)),
        f"{core}/configmaps/config-1",
        f"/apis/apps/v1/namespaces/{w.ns}/statefulsets/db",
    }
    assert not dropped & everything
    assert {f"{core}/configmaps/config-0", f"{core}/configmaps/config-2"} <= set(result.created)
    assert f"/apis/apps/v1/namespaces/{w.ns}/deployments/web" in result.created
    assert result.failed == ()
    secrets = await w.b.get(f"{core}/secrets")
    assert not [s for s in secrets["items"] if s["metadata"]["name"].startswith("secret-")]


async def test_tiers_and_restore_app_api_pathes_order_the_creates(world: World) -> None:
    w = world
    await settled_mix(w)
    name, record = await w.snapshot()
    since = await listing.current_resource_version(w.b)
    apps = [*DEFAULT_APP_API_PATHS, "/api/v1/,/services/"]

    result = await w.restore(name, record, w.scoped(restoreAppApiPathes=apps))

    assert result.failed == ()
    group = mix.crd_group(w.ns)
    core, apps_v1 = f"{CORE}/{w.ns}", f"/apis/apps/v1/namespaces/{w.ns}"
    identity = [f"{core}/configmaps", f"{core}/secrets", f"{core}/serviceaccounts"]
    general = [f"/apis/{group}/v1/namespaces/{w.ns}/widgets", f"{core}/endpoints"]
    app = [f"{apps_v1}/deployments", f"{apps_v1}/statefulsets", f"{core}/services"]
    versions = await creation_versions(w.b, [CORE, *identity, *general, *app], since)

    for made_by_controller in ("web", "db"):  # the endpoints controller makes these
        del versions[f"{core}/endpoints/{made_by_controller}"]

    def created_in(collections: list[str]) -> list[int]:
        found = [v for k, v in versions.items() if k.rsplit("/", 1)[0] in collections]
        assert found, collections
        return found

    assert max(created_in(identity)) < min(created_in(general))
    assert max(created_in(general)) < min(created_in(app))
    assert versions[f"{CORE}/{w.ns}"] < min(created_in(identity))


# --- PV/PVC rebinding -----------------------------------------------------------


async def test_nfs_storage_classes_rebind_the_claim_to_its_volume(world: World) -> None:
    w = world
    await settled_mix(w)
    name, record = await w.snapshot()

    result = await w.restore(name, record, w.scoped(restoreNfsStorageClasses=[f"nfs-{w.ns}"]))

    claim_path = w.path("persistentvolumeclaims/data")
    volume_path = f"/api/v1/persistentvolumes/pv-{w.ns}"
    assert result.failed == ()
    assert {
        claim_path,
        volume_path,
        f"/apis/storage.k8s.io/v1/storageclasses/nfs-{w.ns}",
    } <= set(result.created)
    claim, volume = await w.b.get(claim_path), await w.b.get(volume_path)
    assert claim["status"]["phase"] == "Bound"
    assert claim["spec"]["volumeName"] == f"pv-{w.ns}"
    assert volume["spec"]["claimRef"]["uid"] == claim["metadata"]["uid"]
    source = await w.a.get(volume_path)
    assert volume["spec"]["claimRef"]["uid"] != source["spec"]["claimRef"]["uid"]


async def test_a_claim_that_does_not_bind_is_failed_and_the_rest_restored(world: World) -> None:
    w = world
    await settled_mix(w)
    name, record = await w.snapshot()
    taken = {
        "metadata": {"name": f"pv-{w.ns}"},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": f"nfs-{w.ns}",
            "claimRef": {"namespace": "elsewhere", "name": "someone-else"},
            "nfs": {"server": "192.0.2.99", "path": "/other"},
        },
    }
    await w.b.create("/api/v1/persistentvolumes", taken)

    result = await w.restore(
        name, record, w.scoped(restoreNfsStorageClasses=[f"nfs-{w.ns}"]), bind_timeout=3.0
    )

    claim_path = w.path("persistentvolumeclaims/data")
    assert result.failed == (f"{claim_path},created but not Bound within 3 s",)
    assert claim_path not in result.created
    assert f"/api/v1/persistentvolumes/pv-{w.ns}" in result.already_existed
    storage_class = f"/apis/storage.k8s.io/v1/storageclasses/nfs-{w.ns}"
    assert without_default_account(result.created) == mix_paths(w.ns) | {storage_class}
    assert (await w.b.get(claim_path))["status"]["phase"] == "Pending"
