"""Hostile or risky custom resources and install manifests (issue 11).

* Fault 6: ``ttl: 9999999h`` passed the CRD and the parser, then raised
  ValueError after the engine had finished, so the snapshot was taken again on
  every retry. Dates whose offset carries them out of years 1-9999 in UTC
  raised OverflowError, which no reconciler expects.
* Faults 0 and 1 at the resource level: a kubeconfig from a Secret, used twice;
  an exec kubeconfig in a Secret.
* Fault 14: every insecure TLS use is logged and posted as an Event.
* Fault 15: k8ssnap's own work orders are left out of snapshots.
* Fault 5: the default install writes only k8ssnap's own resources.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from k8ssnap import errors, retry
from k8ssnap.api import constants
from k8ssnap.api.meta import KubeconfigRef, SecretKeyRef
from k8ssnap.api.resources import parse_restore, parse_snapshot
from k8ssnap.controllers import clusters, insecure, objectstores
from k8ssnap.controllers.context import Settings
from k8ssnap.domain import timestamps
from k8ssnap.domain.paths import ApiResource
from k8ssnap.domain.selection import DiscoveredGroup, DiscoveredVersion, select_resources
from k8ssnap.errors import ConfigError
from k8ssnap.store.objectstore import ObjectStore
from k8ssnap.store.s3 import S3Settings
from k8ssnap.testing.store import FakeObjectStore
from tests.unit.controllers.fakes import World, objectstore_config, restore, secret, snapshot, world
from tests.unit.hostile.tlsserver import ApiServer, kubeconfig_text

CRD = Path(__file__).resolve().parents[3] / "artifacts" / "crd.yaml"
PARSERS = {"snapshot": (snapshot, parse_snapshot), "restore": (restore, parse_restore)}


def _raw(kind: str, **spec: Any) -> Any:
    make, _ = PARSERS[kind]
    base = {"clusterName": "c1"} if kind == "snapshot" else {"snapshotName": "snap"}
    return make(spec={**base, **spec})


@pytest.mark.parametrize("kind", PARSERS)
@pytest.mark.parametrize("ttl", ["9999999h", "2562048h", "9223372036854775808ns", "99999999999999999999s"])
def test_fault_6_a_ttl_beyond_go_range_is_refused_by_the_parser(kind: str, ttl: str) -> None:
    _, parse = PARSERS[kind]
    with pytest.raises(ConfigError, match=r"spec\.ttl .* is out of range"):
        parse(_raw(kind, ttl=ttl))


@pytest.mark.parametrize("kind", PARSERS)
@pytest.mark.parametrize("ttl", ["2562047h", "720h", "0", "1.5h"])
def test_fault_6_a_ttl_within_go_range_is_accepted(kind: str, ttl: str) -> None:
    _, parse = PARSERS[kind]
    assert parse(_raw(kind, ttl=ttl)).spec.ttl == ttl


@pytest.mark.parametrize("kind", PARSERS)
@pytest.mark.parametrize("until", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_fault_6_a_date_outside_the_calendar_in_utc_is_refused(kind: str, until: str) -> None:
    _, parse = PARSERS[kind]
    with pytest.raises(ConfigError, match=r"spec\.availableUntil"):
        parse(_raw(kind, availableUntil=until))


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_fault_6_the_domain_time_parser_refuses_it_with_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="invalid time"):
        timestamps.parse_time(text)


def test_fault_6_the_crd_refuses_a_ttl_out_of_go_range() -> None:
    """A CEL rule evaluates the ttl as a Go duration, which fails (and rejects) out of range."""
    docs = {d["spec"]["names"]["kind"]: d for d in yaml.safe_load_all(CRD.read_text()) if d}
    for kind in (constants.SNAPSHOT.kind, constants.RESTORE.kind):
        schema = docs[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        ttl = schema["properties"]["spec"]["properties"]["ttl"]
        assert ttl["maxLength"] == 64
        assert [rule["rule"] for rule in ttl["x-kubernetes-validations"]] == [
            "duration(self) >= duration('0s')"
        ]


# --- faults 0, 1, 5, 14, 15 ------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[3]
INSECURE = ("Warning", insecure.REASON)


def _subject() -> insecure.Subject:
    return insecure.Subject(constants.SNAPSHOT, snapshot("s1"))


# --- fault 0: a kubeconfig from a Secret, used twice ---------------------------------------


async def test_fault_0_a_kubeconfig_secret_connects_twice(apiserver: ApiServer) -> None:
    w = world()
    path, obj = secret("kc", {"kubeconfig": apiserver.kubeconfig()})
    w.kube.objects[path] = obj
    ref = KubeconfigRef(secret=SecretKeyRef(name="kc", key="kubeconfig"))
    for _ in range(2):  # a Snapshot, then a second one (or a retry) with the same Secret
        async with clusters.KubeconfigConnector()(w.ctx, ref, subject=_subject()) as kube:
            assert (await kube.get("/version"))["major"] == "1"
    assert len(apiserver.seen) == 2


async def test_fault_1_an_exec_kubeconfig_in_a_secret_fails_with_a_reason_naming_exec() -> None:
    w = world()
    text = kubeconfig_text(cluster={"server": "https://10.0.0.1"}, user={"exec": {"command": "sh"}})
    path, obj = secret("kc", {"kubeconfig": text})
    w.kube.objects[path] = obj
    ref = KubeconfigRef(secret=SecretKeyRef(name="kc", key="kubeconfig"))
    with pytest.raises(errors.ConfigError, match=r"users\[u\]\.user\.exec is refused"):
        async with clusters.KubeconfigConnector()(w.ctx, ref, subject=_subject()):
            pass


@pytest.mark.parametrize(
    "name",
    ["../../kube-system/secrets/admin", "../kc", "kc/../other", "KC", "a..b", "", "kc?watch=1", "x" * 300],
)
async def test_a_secret_name_from_a_resource_never_leaves_the_controllers_namespace(name: str) -> None:
    """Every Secret a custom resource names (kubeconfigSecret, credentials, identities,
    recipients, etcd TLS) is read through one function, which checks the name first."""
    w = world()
    ref = KubeconfigRef(secret=SecretKeyRef(name=name, key="kubeconfig"))
    with pytest.raises(errors.ConfigError, match="is not a Secret name"):
        async with clusters.KubeconfigConnector()(w.ctx, ref, subject=_subject()):
            pass
    assert not [call for call in w.kube.calls if "/secrets/" in call.path]  # nothing was asked


# --- fault 14: every insecure TLS use is logged and posted ---------------------------------


async def test_fault_14_a_kubeconfigs_tls_skip_is_reported_on_every_use(
    apiserver: ApiServer, caplog: pytest.LogCaptureFixture
) -> None:
    text = kubeconfig_text(
        cluster={"server": apiserver.url, "insecure-skip-tls-verify": True}, user={"token": "t"}
    )
    ref = KubeconfigRef(inline=text)
    refused = world()
    with pytest.raises(errors.ConfigError, match="--insecure-kubeconfig-tls"):
        async with clusters.KubeconfigConnector()(refused.ctx, ref, subject=_subject()):
            pass
    w = world(Settings(insecure_kubeconfig_tls=True))
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            async with clusters.KubeconfigConnector()(w.ctx, ref, subject=_subject()) as kube:
                await kube.get("/version")
    assert [e[:2] for e in w.kube.events()] == [INSECURE, INSECURE]
    assert w.kube.event_bodies()[0]["involvedObject"]["name"] == "s1"
    assert sum("TLS verification of the cluster" in r.getMessage() for r in caplog.records) == 2


async def test_fault_14_a_verified_kubeconfig_posts_no_warning(apiserver: ApiServer) -> None:
    w = world(Settings(insecure_kubeconfig_tls=True))
    async with clusters.KubeconfigConnector()(
        w.ctx, KubeconfigRef(inline=apiserver.kubeconfig()), subject=_subject()
    ):
        pass
    assert w.kube.events() == []


@asynccontextmanager
async def fake_s3(settings: S3Settings, backoff: retry.Backoff) -> AsyncIterator[ObjectStore]:
    """A bucket opener that hands out an in-memory bucket whatever the settings."""
    yield FakeObjectStore()


def store_world(settings: Settings) -> World:
    """A world whose store opener is the real one (settings, Secret, --insecure) over ``fake_s3``."""
    w = world(settings)
    w.ctx.stores = objectstores.ConfigStores(open_bucket=fake_s3)
    return w


@pytest.mark.parametrize(
    ("flag", "http", "warned"), [(True, False, True), (False, False, False), (True, True, False)]
)
async def test_fault_14_the_insecure_store_flag_is_reported_on_every_use(
    caplog: pytest.LogCaptureFixture, flag: bool, http: bool, warned: bool
) -> None:
    w = store_world(Settings(insecure=flag))
    path, creds = secret("creds", {"accesskey": "AK", "secretkey": "SK"})
    w.kube.objects[path] = creds
    spec = {"bucket": "bkt", "cloudCredentialSecret": "creds", "endpoint": "s3.example:443", "insecure": http}
    w.put(constants.OBJECTSTORE_CONFIG, objectstore_config(spec=spec))
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            async with w.ctx.stores(w.ctx, "store", subject=_subject()):
                pass
    expected = [INSECURE, INSECURE] if warned else []
    assert [e[:2] for e in w.kube.events()] == expected
    assert sum("(--insecure)" in r.getMessage() for r in caplog.records) == len(expected)


async def test_fault_14_the_store_check_reports_the_insecure_flag_on_the_objectstore_config() -> None:
    w = store_world(Settings(insecure=True))
    path, creds = secret("creds", {"accesskey": "AK", "secretkey": "SK"})
    w.kube.objects[path] = creds
    config = objectstore_config(
        spec={"bucket": "bkt", "cloudCredentialSecret": "creds", "endpoint": "s3:443"}
    )
    w.put(constants.OBJECTSTORE_CONFIG, config)
    await objectstores.reconcile(w.ctx, _key("store"))
    bodies = [b for b in w.kube.event_bodies() if b["reason"] == insecure.REASON]
    assert [b["involvedObject"]["kind"] for b in bodies] == ["ObjectstoreConfig"]


def _key(name: str) -> Any:
    from k8ssnap.runtime.source import ObjectKey

    return ObjectKey(constants.DEFAULT_NAMESPACE, name)


# --- fault 15: k8ssnap's own work orders (with inline kubeconfigs) are not archived ------


def test_fault_15_snapshots_and_restores_of_k8ssnap_are_left_out_of_snapshots() -> None:
    verbs = frozenset({"create", "delete", "get", "list", "patch", "update", "watch"})
    plurals = ("snapshots", "restores", "objectstoreconfigs", "restorepreferences", "snapshotschedules")
    resources = tuple(ApiResource(constants.GROUP, "v1alpha1", p, p.title(), True, verbs) for p in plurals)
    groups = [DiscoveredGroup(constants.GROUP, "v1alpha1", (DiscoveredVersion("v1alpha1", resources),))]
    assert [r.resource for r in select_resources(groups)] == ["objectstoreconfigs", "restorepreferences"]


# --- fault 5: the default install writes nothing but k8ssnap's own resources -------------

WRITE_VERBS = frozenset(
    {"create", "update", "patch", "delete", "deletecollection", "bind", "escalate", "impersonate"}
)
OWN = {
    (constants.GROUP, "snapshots"),
    (constants.GROUP, "snapshots/status"),
    (constants.GROUP, "restores"),
    (constants.GROUP, "restores/status"),
    (constants.GROUP, "objectstoreconfigs"),
    (constants.GROUP, "objectstoreconfigs/status"),
    (constants.GROUP, "restorepreferences"),
    (constants.GROUP, "restorepreferences/status"),
    (constants.GROUP, "etcdsnapshots"),
    (constants.GROUP, "etcdsnapshots/status"),
    (constants.GROUP, "snapshotschedules"),
    (constants.GROUP, "snapshotschedules/status"),
    ("", "events"),
    ("coordination.k8s.io", "leases"),
}


def _documents(folder: Path) -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    docs: list[dict[str, Any]] = []
    for resource in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((folder / resource).read_text()) if d]
    return docs


def _writes(docs: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(group, resource, verb) of every write verb any Role or ClusterRole grants."""
    granted: set[tuple[str, str, str]] = set()
    for doc in docs:
        if doc["kind"] not in ("Role", "ClusterRole"):
            continue
        for rule in doc.get("rules", []):
            for verb in rule.get("verbs", []):
                if verb in WRITE_VERBS or verb == "*":
                    granted |= {(g, r, verb) for g in rule["apiGroups"] for r in rule["resources"]}
    return granted


def test_fault_5_the_default_install_writes_only_k8ssnaps_own_resources() -> None:
    writes = _writes(_documents(ROOT / "artifacts"))
    assert writes and {(g, r) for g, r, _ in writes} <= OWN
    kinds = [d["kind"] for d in _documents(ROOT / "artifacts")]
    assert "Role" in kinds and "ClusterRoleBinding" in kinds


def test_fault_5_restore_rights_come_in_their_own_manifest() -> None:
    docs = _documents(ROOT / "artifacts" / "restore-rbac")
    writes = _writes(docs)
    assert ("*", "*", "create") in writes and (
        "rbac.authorization.k8s.io",
        "clusterroles",
        "escalate",
    ) in writes
    bindings = [d for d in docs if d["kind"] == "ClusterRoleBinding"]
    assert [s["name"] for b in bindings for s in b["subjects"]] == ["k8ssnap-controller"]


@pytest.mark.parametrize("page", ["README.md", "docs/security.md"])
def test_fault_5_the_docs_say_write_access_is_cluster_admin_equivalent(page: str) -> None:
    assert "cluster-admin-equivalent" in (ROOT / page).read_text()
