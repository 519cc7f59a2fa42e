"""Parsing our custom resources: k8s-snap's manifests in, dataclasses out, ConfigError for the rest."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from k8ssnap.api import constants
from k8ssnap.api.resources import (
    KubeconfigRef,
    ObjectstoreConfig,
    Restore,
    RestorePreference,
    SecretKeyRef,
    Snapshot,
    SnapshotSpec,
    SnapshotStatus,
    parse_objectstore_config,
    parse_restore,
    parse_restore_preference,
    parse_snapshot,
)
from k8ssnap.errors import ConfigError, PermanentError
from tests.unit.api import api_reference_examples as ref

ROOT = Path(__file__).resolve().parents[3]


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# --- k8s-snap's manifests -------------------------------------------------


def test_readme_snapshot() -> None:
    snapshot = parse_snapshot(ref.load_yaml(ref.README_SNAPSHOT))
    assert (snapshot.name, snapshot.namespace) == ("cluster01-001", "k8s-snap")
    assert snapshot.spec.cluster_name == "cluster01"
    assert snapshot.spec.kubeconfig.inline is not None
    assert snapshot.spec.kubeconfig.inline.startswith("apiVersion: v1\nclusters:\n")
    assert snapshot.spec.kubeconfig.secret is None
    assert not snapshot.spec.kubeconfig.in_cluster
    assert snapshot.spec.objectstore_config is None
    assert snapshot.spec.ttl == "720h"
    assert snapshot.spec.available_until == at(2020, 7, 1, 2, 3, 4)
    assert snapshot.status == SnapshotStatus()
    assert snapshot.status.phase == constants.PHASE_NEW


def test_repo_example_snapshot_names_its_store() -> None:
    snapshot = parse_snapshot(ref.load_yaml(ref.REPO_EXAMPLE_SNAPSHOT))
    assert snapshot.spec.objectstore_config == "k8s-snap-ap-northeast-1"


def test_readme_restore_uses_backup_name() -> None:
    restore = parse_restore(ref.load_yaml(ref.README_RESTORE))
    assert (restore.name, restore.namespace) == ("cluster02-cluster01-001-001", "k8s-backup")
    assert restore.spec.cluster_name == "cluster02"
    assert restore.spec.snapshot_name == "cluster01-001"
    assert restore.spec.restore_preference_name == "exclude-kube-system"
    assert restore.spec.kubeconfig.inline is not None
    assert restore.spec.ttl == "168h"
    assert restore.spec.available_until == at(2020, 7, 1, 1, 2, 3)
    assert restore.spec.objectstore_config is None


def test_repo_pytest_restore_uses_snapshot_name_and_objectstore() -> None:
    restore = parse_restore(ref.REPO_PYTEST_RESTORE)
    assert restore.spec.snapshot_name == "target-002"
    assert restore.spec.objectstore_config == "objectstore"
    assert restore.spec.ttl == "1h0m0s"


def test_repo_pytest_snapshot() -> None:
    assert parse_snapshot(ref.REPO_PYTEST_SNAPSHOT).spec.ttl == "0h0m30s"


def test_readme_objectstore_config() -> None:
    config = parse_objectstore_config(ref.load_yaml(ref.README_OBJECTSTORE_CONFIG))
    assert config.name == "k8s-snap-ap-northeast-1"
    assert config.spec.region == "ap-northeast-1"
    assert config.spec.endpoint == "ap-northeast-1.amazonaws.com"
    assert config.spec.endpoint_url == "https://ap-northeast-1.amazonaws.com"
    assert config.spec.bucket == "k8s-snap"
    assert config.spec.cloud_credential_secret == "k8s-snap-ap-northeast-1"
    assert not config.spec.insecure
    assert not config.spec.force_path_style
    assert config.spec.ca_bundle is None
    assert config.spec.prefix == ""
    assert config.status.phase == constants.STORE_UNCHECKED


def test_repo_preference_is_passed_through() -> None:
    manifest = ref.load_yaml(ref.REPO_PREFERENCE)
    preference = parse_restore_preference(manifest)
    assert preference.name == "exclude-kube-system"
    assert dict(preference.spec) == manifest["spec"]
    assert preference.spec["restoreOptions"] == []
    assert "kube-system" in preference.spec["excludeNamespaces"]
    with pytest.raises(TypeError):
        preference.spec["excludeCRDs"] = []  # type: ignore[index]


def test_readme_statuses_parse() -> None:
    snapshot = ref.load_yaml(ref.README_SNAPSHOT)
    snapshot["status"] = ref.README_SNAPSHOT_COMPLETED_STATUS
    status = parse_snapshot(snapshot).status
    assert status.phase == "Completed"
    assert status.number_of_contents == 429
    assert len(status.contents) == 4
    assert status.snapshot_resource_version == "4521912"
    assert status.snapshot_timestamp == at(2019, 5, 20, 3, 45, 8)
    assert status.stored_file_size == 138145
    assert status.available_until == at(2019, 6, 19, 3, 45, 8)

    restore = ref.load_yaml(ref.README_RESTORE)
    restore["status"] = ref.README_RESTORE_FAILED_STATUS
    failed = parse_restore(restore).status
    assert failed.phase == "Failed"
    assert failed.reason == "Snapshot data is not in status 'Completed'"
    assert failed.created == ()
    assert failed.preserve_until is None

    restore["status"] = ref.README_RESTORE_COMPLETED_STATUS
    completed = parse_restore(restore).status
    assert (completed.num_already_existed, len(completed.already_existed)) == (13, 4)
    assert completed.num_preference_excluded == 319
    assert completed.restore_timestamp == at(2019, 5, 20, 3, 46, 15)
    assert completed.preserve_until == at(2019, 5, 27, 3, 46, 15)


def test_objects_as_go_wrote_them() -> None:
    """Go writes "" for unset strings, null for unset times and lists, "0s" for no ttl."""
    obj = {
        "metadata": {"name": "g", "namespace": "k8s-snap"},
        "spec": {
            "clusterName": "c",
            "kubeconfig": "",
            "objectstoreConfig": "",
            "availableUntil": None,
            "ttl": "0s",
        },
        "status": {
            "phase": "",
            "reason": "",
            "contents": None,
            "snapshotTimestamp": None,
            "availableUntil": None,
            "ttl": "0s",
        },
    }
    snapshot = parse_snapshot(obj)
    assert snapshot.spec.kubeconfig.in_cluster
    assert snapshot.spec.objectstore_config is None
    assert snapshot.spec.available_until is None
    assert snapshot.spec.ttl == "0s"
    assert snapshot.status == SnapshotStatus()


def test_restore_preserve_until_falls_back_to_v05_available_until() -> None:
    obj = ref.load_yaml(ref.README_RESTORE)
    obj["status"] = {"phase": "Completed", "availableUntil": "2021-01-02T03:04:05Z"}
    assert parse_restore(obj).status.preserve_until == at(2021, 1, 2, 3, 4, 5)


def test_metadata() -> None:
    obj = ref.load_yaml(ref.README_SNAPSHOT)
    obj["metadata"].update(
        uid="1234",
        resourceVersion="987",
        generation=3,
        creationTimestamp="2026-01-02T03:04:05Z",
        deletionTimestamp="2026-01-03T03:04:05+09:00",
        finalizers=[constants.FINALIZER],
    )
    snapshot = parse_snapshot(obj)
    assert (snapshot.uid, snapshot.resource_version, snapshot.generation) == ("1234", "987", 3)
    assert snapshot.creation_timestamp == at(2026, 1, 2, 3, 4, 5)
    assert snapshot.deletion_timestamp == at(2026, 1, 2, 18, 4, 5)
    assert snapshot.finalizers == (constants.FINALIZER,)
    assert snapshot.deleting
    assert snapshot.has_finalizer
    fresh = parse_snapshot(ref.load_yaml(ref.README_SNAPSHOT))
    assert not fresh.deleting
    assert not fresh.has_finalizer


def _sample(kind: str) -> dict[str, Any]:
    for path in sorted((ROOT / "artifacts").glob("*.yaml")):
        for doc in ref.load_yaml_all(path.read_text(encoding="utf-8")):
            if doc["kind"] == kind and doc["apiVersion"] == constants.API_VERSION:
                return doc
    raise AssertionError(kind)


def test_artifact_samples_parse() -> None:
    snapshot = parse_snapshot(_sample("Snapshot"))
    assert snapshot.spec.objectstore_config == "k8s-snap-ap-northeast-1"
    restore = parse_restore(_sample("Restore"))
    assert restore.namespace == constants.DEFAULT_NAMESPACE
    assert restore.spec.snapshot_name == snapshot.name
    config = parse_objectstore_config(_sample("ObjectstoreConfig"))
    assert config.name == snapshot.spec.objectstore_config
    preference = parse_restore_preference(_sample("RestorePreference"))
    assert preference.name == restore.spec.restore_preference_name
    excluded = preference.spec["excludeNamespaces"]
    assert {"kube-system", "kube-public", "kube-node-lease"} <= set(excluded)
    assert not [p for p in preference.spec["excludeApiPathes"] if "%3A" in p]
    assert "/apis/rbac.authorization.k8s.io,/clusterroles/system:" in (preference.spec["excludeApiPathes"])


# --- kubeconfig and object store details ----------------------------------


def test_kubeconfig_secret() -> None:
    obj = ref.load_yaml(ref.README_SNAPSHOT)
    del obj["spec"]["kubeconfig"]
    obj["spec"]["kubeconfigSecret"] = {"name": "cluster01"}
    assert parse_snapshot(obj).spec.kubeconfig == KubeconfigRef(
        secret=SecretKeyRef(name="cluster01", key=constants.DEFAULT_KUBECONFIG_KEY)
    )
    obj["spec"]["kubeconfigSecret"]["key"] = "config"
    obj["spec"]["kubeconfig"] = "   \n"  # blank: not set
    assert parse_snapshot(obj).spec.kubeconfig.secret == SecretKeyRef(name="cluster01", key="config")


def test_no_kubeconfig_means_own_cluster() -> None:
    obj = {"metadata": {"name": "a", "namespace": "k8s-snap"}, "spec": {"clusterName": "here"}}
    assert parse_snapshot(obj).spec == SnapshotSpec(cluster_name="here")
    assert parse_snapshot(obj).spec.kubeconfig.in_cluster


def test_repr_never_shows_the_kubeconfig() -> None:
    snapshot = parse_snapshot(ref.load_yaml(ref.README_SNAPSHOT))
    text = repr(snapshot)
    assert "eyJhbGciOiJSUzI1NiIsImtpZCI6IiJ9" not in text
    assert "LS0tLS1CRUdJTi" not in text
    assert "KubeconfigRef(inline=<" in text
    assert repr(KubeconfigRef()) == "KubeconfigRef(in_cluster)"


def test_kubeconfig_ref_is_one_thing() -> None:
    with pytest.raises(ValueError, match="not both"):
        KubeconfigRef(inline="x", secret=SecretKeyRef(name="a", key="b"))


@pytest.mark.parametrize(
    ("spec", "url", "insecure"),
    [
        ({}, None, False),
        ({"endpoint": "s3.example.com"}, "https://s3.example.com", False),
        ({"endpoint": "minio:9000", "insecure": True}, "http://minio:9000", True),
        ({"endpoint": "minio:9000", "insecure": False}, "https://minio:9000", False),
        ({"endpoint": "http://minio:9000/"}, "http://minio:9000", True),
        ({"endpoint": "http://minio:9000", "insecure": True}, "http://minio:9000", True),
        ({"endpoint": "https://[::1]:8333"}, "https://[::1]:8333", False),
    ],
)
def test_endpoint_url(spec: dict[str, Any], url: str | None, insecure: bool) -> None:
    obj = ref.load_yaml(ref.README_OBJECTSTORE_CONFIG)
    obj["spec"].pop("endpoint")
    obj["spec"].update(spec)
    config = parse_objectstore_config(obj)
    assert (config.spec.endpoint_url, config.spec.insecure) == (url, insecure)


@pytest.mark.parametrize(
    ("prefix", "normalised"),
    [("", ""), ("clusters", "clusters"), ("/clusters/prod/", "clusters/prod"), (None, "")],
)
def test_prefix(prefix: str | None, normalised: str) -> None:
    obj = ref.load_yaml(ref.README_OBJECTSTORE_CONFIG)
    obj["spec"]["prefix"] = prefix
    assert parse_objectstore_config(obj).spec.prefix == normalised


def test_objectstore_s3_compatible_options() -> None:
    obj = ref.load_yaml(ref.README_OBJECTSTORE_CONFIG)
    obj["spec"].update(forcePathStyle=True, caBundleSecret={"name": "ca"})
    obj["status"] = {
        "phase": "Unavailable",
        "reason": "The bucket k8s-snap does not exist",
        "bucketExists": False,
        "lastChecked": "2026-01-01T00:00:00Z",
        "observedGeneration": 2,
    }
    config = parse_objectstore_config(obj)
    assert config.spec.force_path_style
    assert config.spec.ca_bundle == SecretKeyRef(name="ca", key=constants.DEFAULT_CA_BUNDLE_KEY)
    assert config.status.phase == constants.STORE_UNAVAILABLE
    assert config.status.bucket_exists is False
    assert config.status.last_checked == at(2026, 1, 1)
    assert config.status.observed_generation == 2


# --- bad input ------------------------------------------------------------

Change = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Change:
    def change(obj: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = obj
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value

    return change


def _delete(path: str) -> Change:
    def change(obj: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = obj
        for part in parents:
            node = node[part]
        del node[last]

    return change


PARSERS: dict[str, tuple[str, Callable[[dict[str, Any]], object]]] = {
    "snapshot": (ref.README_SNAPSHOT, parse_snapshot),
    "restore": (ref.README_RESTORE, parse_restore),
    "store": (ref.README_OBJECTSTORE_CONFIG, parse_objectstore_config),
    "preference": (ref.REPO_PREFERENCE, parse_restore_preference),
}

BAD_INPUT: list[tuple[str, str, Change, str]] = [
    (
        "both kubeconfigs",
        "snapshot",
        _set("spec.kubeconfigSecret", {"name": "k"}),
        "spec.kubeconfig and spec.kubeconfigSecret are both set; keep one of them"
        " (or neither, to work on the controller's own cluster)",
    ),
    (
        "both kubeconfigs on a restore",
        "restore",
        _set("spec.kubeconfigSecret", {"name": "k"}),
        "spec.kubeconfig and spec.kubeconfigSecret are both set",
    ),
    (
        "restore without snapshot",
        "restore",
        _delete("spec.backupName"),
        "no snapshot to restore: set spec.snapshotName (or spec.backupName,"
        " as k8s-snap's README calls it) to the name of a Snapshot",
    ),
    (
        "restore with empty snapshot names",
        "restore",
        lambda o: o["spec"].update(backupName="", snapshotName=""),
        "no snapshot to restore",
    ),
    (
        "restore naming two snapshots",
        "restore",
        _set("spec.snapshotName", "cluster01-002"),
        "spec.snapshotName ('cluster01-002') and spec.backupName ('cluster01-001') name"
        " different snapshots; set only one of them",
    ),
    ("ttl in days", "snapshot", _set("spec.ttl", "7d"), "spec.ttl must look like a duration"),
    ("negative ttl", "restore", _set("spec.ttl", "-1h"), "spec.ttl must look like a duration"),
    ("ttl as a number", "snapshot", _set("spec.ttl", 720), "spec.ttl must be a string, not a number"),
    (
        "availableUntil without time",
        "snapshot",
        _set("spec.availableUntil", "2020-07-01"),
        "spec.availableUntil must be a date and time like 2020-07-01T02:03:04Z, not '2020-07-01'",
    ),
    (
        "impossible date",
        "restore",
        _set("spec.availableUntil", "2020-02-30T00:00:00Z"),
        "spec.availableUntil is not a valid date and time",
    ),
    ("spec as a list", "snapshot", _set("spec", ["a"]), "spec must be an object, not a list"),
    ("no name", "snapshot", _delete("metadata.name"), "metadata.name is required"),
    ("no namespace", "restore", _delete("metadata.namespace"), "metadata.namespace is required"),
    (
        "secret ref without name",
        "snapshot",
        lambda o: o["spec"].update(kubeconfig="", kubeconfigSecret={"key": "k"}),
        "spec.kubeconfigSecret.name is required",
    ),
    (
        "secret ref as text",
        "snapshot",
        lambda o: o["spec"].update(kubeconfig="", kubeconfigSecret="k"),
        "spec.kubeconfigSecret must be an object, not a string",
    ),
    ("unknown phase", "snapshot", _set("status.phase", "Done"), "status.phase 'Done' is not one of"),
    (
        "negative count",
        "restore",
        _set("status.numCreated", -1),
        "status.numCreated must not be negative, not -1",
    ),
    (
        "count as true",
        "snapshot",
        _set("status.storedFileSize", True),
        "status.storedFileSize must be a whole number, not true/false",
    ),
    (
        "contents with a number",
        "snapshot",
        _set("status.contents", ["/api/v1/x", 3]),
        "status.contents[1] must be a string, not a number",
    ),
    ("store without bucket", "store", _delete("spec.bucket"), "spec.bucket is required"),
    (
        "store without credentials",
        "store",
        _set("spec.cloudCredentialSecret", ""),
        "spec.cloudCredentialSecret is required",
    ),
    (
        "https endpoint but insecure",
        "store",
        lambda o: o["spec"].update(endpoint="https://s3.example.com", insecure=True),
        "spec.endpoint says https:// but spec.insecure is true; drop the scheme or the insecure flag",
    ),
    (
        "http endpoint but not insecure",
        "store",
        lambda o: o["spec"].update(endpoint="http://s3.example.com", insecure=False),
        "spec.endpoint says http:// but spec.insecure is false",
    ),
    (
        "endpoint with a path",
        "store",
        _set("spec.endpoint", "https://s3.example.com/bucket"),
        "spec.endpoint must be a host name with an optional port, not 'https://s3.example.com/bucket'",
    ),
    (
        "endpoint of another scheme",
        "store",
        _set("spec.endpoint", "s3://bucket"),
        "spec.endpoint must start with http:// or https://, not s3://",
    ),
    (
        "upper-case scheme",
        "store",
        _set("spec.endpoint", "HTTPS://s3.example.com"),
        "spec.endpoint must start with http:// or https://",
    ),
    ("insecure as text", "store", _set("spec.insecure", "yes"), "spec.insecure must be true or false"),
    (
        "prefix climbing out",
        "store",
        _set("spec.prefix", "a/../b"),
        "spec.prefix must be folder names separated by single slashes, not 'a/../b'",
    ),
    ("prefix with //", "store", _set("spec.prefix", "a//b"), "spec.prefix must be folder names"),
    (
        "store status phase of a snapshot",
        "store",
        _set("status.phase", "Completed"),
        "status.phase 'Completed' is not one of: Available, Unavailable",
    ),
    (
        "unknown restore option",
        "preference",
        _set("spec.restoreOptions", ["overwriteExistingResources"]),
        "spec.restoreOptions[0] is 'overwriteExistingResources', which k8ssnap does not know;"
        " the options are: overwriteExisting",
    ),
    (
        "namespaces as text",
        "preference",
        _set("spec.excludeNamespaces", "kube-system"),
        "spec.excludeNamespaces must be a list of strings, not a string",
    ),
    (
        "api path as an object",
        "preference",
        _set("spec.excludeApiPathes", [{"/apis/x": None}]),
        "spec.excludeApiPathes[0] must be a string, not an object",
    ),
]


@pytest.mark.parametrize(
    ("kind", "change", "reason"), [c[1:] for c in BAD_INPUT], ids=[c[0] for c in BAD_INPUT]
)
def test_bad_input(kind: str, change: Change, reason: str) -> None:
    text, parse = PARSERS[kind]
    obj = ref.load_yaml(text)
    change(obj)
    with pytest.raises(ConfigError) as raised:
        parse(obj)
    assert raised.value.reason.startswith(reason)
    assert isinstance(raised.value, PermanentError)


def test_reasons_never_quote_the_kubeconfig() -> None:
    obj = ref.load_yaml(ref.README_SNAPSHOT)
    obj["spec"]["kubeconfigSecret"] = {"name": "k"}
    with pytest.raises(ConfigError) as raised:
        parse_snapshot(obj)
    assert "eyJhbGci" not in raised.value.reason


def test_parsing_does_not_change_the_input() -> None:
    obj = ref.load_yaml(ref.README_RESTORE)
    before = copy.deepcopy(obj)
    parse_restore(obj)
    assert obj == before


@pytest.mark.parametrize(
    "value", [Snapshot, Restore, ObjectstoreConfig, RestorePreference, SnapshotSpec, KubeconfigRef]
)
def test_values_are_frozen_and_slotted(value: type) -> None:
    assert dataclasses.is_dataclass(value)
    assert value.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert hasattr(value, "__slots__")


def test_kind_paths() -> None:
    assert constants.SNAPSHOT.path("k8s-snap") == (
        "/apis/clustersnapshot.rywt.io/v1alpha1/namespaces/k8s-snap/snapshots"
    )
    assert constants.RESTORE.path("k8s-snap", "r1", status=True) == (
        "/apis/clustersnapshot.rywt.io/v1alpha1/namespaces/k8s-snap/restores/r1/status"
    )
    with pytest.raises(ValueError, match="named object"):
        constants.RESTORE.path("k8s-snap", status=True)
