"""artifacts/crd.yaml: shape, columns, admission rules, and agreement with k8ssnap.api.

A small validator below applies the parts of OpenAPI v3 that the CRDs use
(types, nullable, required, unknown fields, enum, pattern, format, bounds),
so that k8s-snap's manifests are shown to pass admission -- including
``kubectl apply --validate=strict``, which refuses unknown fields -- and bad
ones to fail. CEL rules are not evaluated here; the parsers' tests cover the
same rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from k8ssnap.api import constants, schedules
from tests.unit.api import api_reference_examples as ref

ROOT = Path(__file__).resolve().parents[3]
CRD_PATH = ROOT / "artifacts" / "crd.yaml"
KIND_ORDER = (
    "Snapshot",
    "Restore",
    "ObjectstoreConfig",
    "RestorePreference",
    "SnapshotSchedule",
    "EtcdSnapshot",
)


def _load_crds() -> dict[str, dict[str, Any]]:
    docs = [doc for doc in yaml.safe_load_all(CRD_PATH.read_text(encoding="utf-8")) if doc]
    return {doc["spec"]["names"]["kind"]: doc for doc in docs}


CRDS = _load_crds()


def _version(kind: str) -> dict[str, Any]:
    versions = CRDS[kind]["spec"]["versions"]
    assert len(versions) == 1
    version: dict[str, Any] = versions[0]
    return version


def _schema(kind: str) -> dict[str, Any]:
    schema: dict[str, Any] = _version(kind)["schema"]["openAPIV3Schema"]
    return schema


def _walk(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, schema
    for name, child in schema.get("properties", {}).items():
        yield from _walk(child, f"{path}.{name}")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _walk(schema["additionalProperties"], f"{path}.*")
    if "items" in schema:
        yield from _walk(schema["items"], f"{path}[]")


# --- a validator for the OpenAPI subset the CRDs use ---------------------

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
}


def violations(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """What admission would refuse in ``value``; metadata is not checked."""
    if value is None:
        return [] if schema.get("nullable") else [f"{path}: null"]
    expected = _TYPES[schema["type"]]
    if not isinstance(value, expected) or (schema["type"] == "integer" and isinstance(value, bool)):
        return [f"{path}: not {schema['type']}"]
    found: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{path}: {value!r} not in enum")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            found.append(f"{path}: {value!r} does not match pattern")
        if schema.get("format") == "date-time" and not _DATE_TIME.match(value):
            found.append(f"{path}: {value!r} is not a date-time")
        if len(value) < schema.get("minLength", 0):
            found.append(f"{path}: too short")
        if len(value) > schema.get("maxLength", len(value)):
            found.append(f"{path}: too long")
    if isinstance(value, int) and value < schema.get("minimum", value):
        found.append(f"{path}: below minimum")
    if isinstance(value, list):
        for index, item in enumerate(value):
            found += violations(item, schema["items"], f"{path}[{index}]")
    if isinstance(value, dict) and path != ".metadata":
        properties = schema.get("properties", {})
        found += [f"{path}.{key}: required" for key in schema.get("required", ()) if key not in value]
        extra = schema.get("additionalProperties")  # a map: every value has this schema
        for key, item in value.items():
            if key in properties:
                found += violations(item, properties[key], f"{path}.{key}")
            elif isinstance(extra, dict):
                found += violations(item, extra, f"{path}.{key}")
            else:
                found.append(f"{path}.{key}: unknown field")
    return found


def admission(obj: dict[str, Any]) -> list[str]:
    return violations(obj, _schema(obj["kind"]))


# --- the CRDs themselves --------------------------------------------------


def test_five_crds_of_our_group_and_version() -> None:
    assert sorted(CRDS) == sorted(KIND_ORDER)
    for kind in (*constants.KINDS, constants.ETCD_SNAPSHOT):
        crd = CRDS[kind.kind]
        assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
        assert crd["metadata"]["name"] == kind.crd_name
        assert crd["spec"]["group"] == constants.GROUP
        assert crd["spec"]["scope"] == "Namespaced"
        names = crd["spec"]["names"]
        assert names["plural"] == kind.plural
        assert names["singular"] == kind.singular
        assert tuple(names["shortNames"]) == kind.short_names
        assert names["categories"] == [constants.CATEGORY]
        version = _version(kind.kind)
        assert (version["name"], version["served"], version["storage"]) == (
            constants.VERSION,
            True,
            True,
        )


@pytest.mark.parametrize("kind", KIND_ORDER)
def test_status_subresource(kind: str) -> None:
    assert _version(kind)["subresources"] == {"status": {}}
    assert _schema(kind)["properties"]["status"]["type"] == "object"


@pytest.mark.parametrize(
    ("kind", "columns"),
    [
        (
            "Snapshot",
            [
                ("CLUSTERNAME", ".spec.clusterName"),
                ("BACKUPDATE", ".status.snapshotTimestamp"),
                ("STATUS", ".status.phase"),
            ],
        ),
        (
            "Restore",
            [
                ("CLUSTER", ".spec.clusterName"),
                ("SNAPSHOT", ".spec.backupName"),
                ("TIMESTAMP", ".status.restoreTimestamp"),
                ("RV", ".status.restoreResourceVersion"),
                ("EXCLUDED", ".status.numExcluded"),
                ("CREATED", ".status.numCreated"),
                ("UPDATED", ".status.numUpdated"),
                ("EXIST", ".status.numAlreadyExisted"),
                ("FAILED", ".status.numFailed"),
                ("STATUS", ".status.phase"),
                ("DRYRUN", ".spec.dryRun"),
            ],
        ),
        (
            "ObjectstoreConfig",
            [("ENDPOINT", ".spec.endpoint"), ("BUCKET", ".spec.bucket"), ("STATUS", ".status.phase")],
        ),
        ("RestorePreference", []),
        (
            "SnapshotSchedule",
            [
                ("SCHEDULE", ".spec.schedule"),
                ("SUSPEND", ".spec.suspend"),
                ("LAST", ".status.lastScheduleTime"),
                ("NEXT", ".status.nextScheduleTime"),
                ("LAST-STATUS", ".status.lastStatus"),
                ("AGE", ".metadata.creationTimestamp"),
            ],
        ),
        (
            "EtcdSnapshot",
            [
                ("BACKUPDATE", ".status.snapshotTimestamp"),
                ("REVISION", ".status.revision"),
                ("DBSIZE", ".status.dbSize"),
                ("STATUS", ".status.phase"),
            ],
        ),
    ],
)
def test_printer_columns(kind: str, columns: list[tuple[str, str]]) -> None:
    """`kubectl get` shows exactly these, in this order; the rest only with -o wide."""
    printed = _version(kind).get("additionalPrinterColumns", [])
    default = [(c["name"], c["jsonPath"]) for c in printed if c.get("priority", 0) == 0]
    assert default == columns
    assert all(c.get("priority", 0) in (0, 1) for c in printed)


#: Default columns k8ssnap adds after k8s-snap's, per kind (issue 15: a dry run shows as such).
K8SSNAP_COLUMNS = {"Snapshot": (), "Restore": ("DRYRUN",)}


def test_printer_columns_match_readme() -> None:
    """k8s-snap's columns come first, in its order; k8ssnap's additions only follow them."""
    for kind, names in (
        ("Snapshot", ref.README_SNAPSHOT_COLUMNS),
        ("Restore", ref.README_RESTORE_COLUMNS),
    ):
        printed = _version(kind)["additionalPrinterColumns"]
        assert tuple(c["name"] for c in printed if not c.get("priority")) == names + K8SSNAP_COLUMNS[kind]


@pytest.mark.parametrize("kind", KIND_ORDER)
def test_printer_columns_point_into_the_schema(kind: str) -> None:
    paths = {path for path, _ in _walk(_schema(kind))}
    for column in _version(kind).get("additionalPrinterColumns", []):
        if column["jsonPath"] != ".metadata.creationTimestamp":
            assert column["jsonPath"] in paths, column


@pytest.mark.parametrize("kind", KIND_ORDER)
def test_structural(kind: str) -> None:
    """Every node has a type; nothing preserves unknown fields."""
    for path, node in _walk(_schema(kind)):
        assert node.get("type") in _TYPES, path
        assert "x-kubernetes-preserve-unknown-fields" not in node, path
        if node["type"] == "array":
            assert "items" in node, path


# --- durations ------------------------------------------------------------


def _ttl_patterns() -> list[str]:
    return [
        _schema(kind)["properties"]["spec"]["properties"]["ttl"]["pattern"]
        for kind in ("Snapshot", "Restore")
    ]


def test_ttl_pattern_is_the_one_in_constants() -> None:
    assert _ttl_patterns() == [constants.DURATION_PATTERN] * 2


@pytest.mark.parametrize(
    "ttl", ["720h", "168h0m0s", "1h30m", "30s", "0h0m30s", "1h0m0s", "0", "1.5h", "300ms", "2µs"]
)
def test_ttl_accepts_go_durations(ttl: str) -> None:
    for pattern in _ttl_patterns():
        assert re.compile(pattern).search(ttl), (pattern, ttl)


@pytest.mark.parametrize("ttl", ["7d", "abc", "-1h", "", "1", "h", "1h 30m", "+1h", "1w", "P1D"])
def test_ttl_rejects_the_rest(ttl: str) -> None:
    for pattern in _ttl_patterns():
        assert not re.compile(pattern).search(ttl), (pattern, ttl)


# --- agreement with k8ssnap.api and with k8s-snap -------------------------


@pytest.mark.parametrize("kind", ["Snapshot", "Restore"])
def test_phase_enum(kind: str) -> None:
    phase = _schema(kind)["properties"]["status"]["properties"]["phase"]
    assert phase["enum"] == ["", "InQueue", "InProgress", "Completed", "Failed"]
    assert tuple(phase["enum"]) == constants.PHASES


def test_store_phase_enum() -> None:
    phase = _schema("ObjectstoreConfig")["properties"]["status"]["properties"]["phase"]
    assert tuple(phase["enum"]) == constants.STORE_PHASES


def test_restore_options_enum() -> None:
    spec = _schema("RestorePreference")["properties"]["spec"]["properties"]
    assert tuple(spec["restoreOptions"]["items"]["enum"]) == constants.RESTORE_OPTIONS


@pytest.mark.parametrize(
    ("kind", "path", "default"),
    [
        ("Snapshot", "kubeconfigSecret", constants.DEFAULT_KUBECONFIG_KEY),
        ("Restore", "kubeconfigSecret", constants.DEFAULT_KUBECONFIG_KEY),
        ("ObjectstoreConfig", "caBundleSecret", constants.DEFAULT_CA_BUNDLE_KEY),
    ],
)
def test_secret_key_defaults(kind: str, path: str, default: str) -> None:
    ref_schema = _schema(kind)["properties"]["spec"]["properties"][path]
    assert ref_schema["required"] == ["name"]
    assert ref_schema["properties"]["key"]["default"] == default


@pytest.mark.parametrize(
    ("kind", "example"),
    [
        ("Snapshot", ref.README_SNAPSHOT_COMPLETED_STATUS),
        ("Snapshot", ref.README_SNAPSHOT_FAILED_STATUS),
        ("Restore", ref.README_RESTORE_COMPLETED_STATUS),
        ("Restore", ref.README_RESTORE_FAILED_STATUS),
    ],
)
def test_readme_status_examples_fit_the_schema(kind: str, example: dict[str, Any]) -> None:
    assert violations(example, _schema(kind)["properties"]["status"], ".status") == []


@pytest.mark.parametrize(
    ("kind", "required"),
    [
        ("Snapshot", ["clusterName"]),
        ("Restore", ["clusterName"]),
        ("ObjectstoreConfig", ["bucket", "cloudCredentialSecret"]),
        ("RestorePreference", []),
        ("SnapshotSchedule", ["schedule"]),
    ],
)
def test_required_spec_fields(kind: str, required: list[str]) -> None:
    assert _schema(kind)["properties"]["spec"].get("required", []) == required


@pytest.mark.parametrize(
    ("kind", "rules"),
    [
        ("Snapshot", ["kubeconfigSecret"]),
        ("Restore", ["snapshotName", "backupName", "kubeconfigSecret", "latest"]),
        ("ObjectstoreConfig", ["insecure"]),
        ("SnapshotSchedule", ["template", "etcdTemplate"]),
    ],
)
def test_cel_rules_cover_what_a_schema_cannot(kind: str, rules: list[str]) -> None:
    spec = _schema(kind)["properties"]["spec"]
    text = " ".join(rule["rule"] for rule in spec["x-kubernetes-validations"])
    for field in rules:
        assert f"self.{field}" in text


# --- admission of whole manifests -----------------------------------------


def _with_name(base: str, name: str, **spec: Any) -> dict[str, Any]:
    manifest = ref.load_yaml(base)
    manifest["metadata"]["name"] = name
    manifest["spec"].update(spec)
    return manifest


def _artifact_manifests() -> list[dict[str, Any]]:
    manifests = []
    for path in sorted((ROOT / "artifacts").glob("*.yaml")):
        if path.name != "crd.yaml":
            manifests += ref.load_yaml_all(path.read_text(encoding="utf-8"))
    return [m for m in manifests if m["apiVersion"] == constants.API_VERSION]


ACCEPTED = [
    ref.load_yaml(ref.README_SNAPSHOT),
    ref.load_yaml(ref.README_RESTORE),
    ref.load_yaml(ref.README_OBJECTSTORE_CONFIG),
    ref.load_yaml(ref.REPO_EXAMPLE_SNAPSHOT),
    ref.load_yaml(ref.REPO_PREFERENCE),
    ref.REPO_PYTEST_RESTORE,
    ref.REPO_PYTEST_SNAPSHOT,
    *_artifact_manifests(),
    # issue 15: migration fields
    _with_name(
        ref.REPO_PREFERENCE,
        "migrate",
        namespaceMapping={"shop": "shop-staging"},
        labelSelector={
            "matchLabels": {"app": "cart"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}],
        },
        includeKinds=["deployments.apps", "configmaps"],
        excludeKinds=["secrets"],
        restoreOptions=["overwriteExisting", "wholeCluster"],
    ),
    _with_name(ref.README_RESTORE, "dry", dryRun=True),
]


@pytest.mark.parametrize("manifest", ACCEPTED, ids=[f"{m['kind']}-{m['metadata']['name']}" for m in ACCEPTED])
def test_k8s_snap_and_sample_manifests_pass_admission(manifest: dict[str, Any]) -> None:
    assert admission(manifest) == []


def test_every_kind_has_a_sample() -> None:
    assert sorted({m["kind"] for m in _artifact_manifests()}) == sorted(KIND_ORDER)


def _with(base: str, **spec: Any) -> dict[str, Any]:
    manifest = ref.load_yaml(base)
    manifest["spec"].update(spec)
    return manifest


REFUSED = [
    ("ttl in days", _with(ref.README_SNAPSHOT, ttl="7d"), ".spec.ttl"),
    ("negative ttl", _with(ref.README_RESTORE, ttl="-1h"), ".spec.ttl"),
    ("ttl as a number", _with(ref.README_SNAPSHOT, ttl=720), ".spec.ttl"),
    ("date without time", _with(ref.README_SNAPSHOT, availableUntil="2020-07-01"), "availableUntil"),
    ("unknown spec field", _with(ref.README_SNAPSHOT, ttlDays=7), ".spec.ttlDays"),
    ("empty cluster name", _with(ref.README_SNAPSHOT, clusterName=""), ".spec.clusterName"),
    ("secret ref without name", _with(ref.README_RESTORE, kubeconfigSecret={}), ".name"),
    ("endpoint with a path", _with(ref.README_OBJECTSTORE_CONFIG, endpoint="h/x"), "endpoint"),
    ("ftp endpoint", _with(ref.README_OBJECTSTORE_CONFIG, endpoint="ftp://h"), "endpoint"),
    ("insecure as text", _with(ref.README_OBJECTSTORE_CONFIG, insecure="yes"), "insecure"),
    ("unknown option", _with(ref.REPO_PREFERENCE, restoreOptions=["excludeContext"]), "Options"),
    ("namespaces as text", _with(ref.REPO_PREFERENCE, excludeNamespaces="kube-system"), "Names"),
    ("dry run as text", _with(ref.README_RESTORE, dryRun="yes"), ".spec.dryRun"),
    (
        "unknown selector operator",
        _with(ref.REPO_PREFERENCE, labelSelector={"matchExpressions": [{"key": "a", "operator": "Equals"}]}),
        "operator",
    ),
    (
        "selector value not text",
        _with(ref.REPO_PREFERENCE, labelSelector={"matchLabels": {"a": 1}}),
        "matchLabels",
    ),
    (
        "mapping to a bad name",
        _with(ref.REPO_PREFERENCE, namespaceMapping={"shop": "Shop_2"}),
        "namespaceMapping",
    ),
    ("kinds as text", _with(ref.REPO_PREFERENCE, includeKinds="deployments.apps"), "includeKinds"),
]


@pytest.mark.parametrize(("manifest", "where"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_bad_manifests_are_refused(manifest: dict[str, Any], where: str) -> None:
    found = admission(manifest)
    assert found
    assert any(where in problem for problem in found), found


def test_objectstore_without_bucket_is_refused() -> None:
    manifest = ref.load_yaml(ref.README_OBJECTSTORE_CONFIG)
    del manifest["spec"]["bucket"]
    assert admission(manifest) == [".spec.bucket: required"]


@pytest.mark.parametrize(
    ("status", "where"),
    [
        ({"phase": "Done"}, ".status.phase"),
        ({"numCreated": -1}, ".status.numCreated"),
        ({"restoreTimestamp": "yesterday"}, ".status.restoreTimestamp"),
    ],
)
def test_bad_status_is_refused(status: dict[str, Any], where: str) -> None:
    manifest = ref.load_yaml(ref.README_RESTORE)
    manifest["status"] = status
    assert [p for p in admission(manifest) if p.startswith(where)]


def test_a_schedule_template_keeps_every_field_its_parser_takes() -> None:
    """The API server prunes what the schema does not list: a template field the parser takes
    but the schema lacks (as ``encryption`` once was) would be dropped silently."""
    spec = _schema("SnapshotSchedule")["properties"]["spec"]["properties"]
    assert set(spec["template"]["properties"]) == set(schedules.TEMPLATE_FIELDS)
    assert set(spec["etcdTemplate"]["properties"]) == set(schedules.ETCD_TEMPLATE_FIELDS)
