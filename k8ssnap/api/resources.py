"""The four custom resources as frozen dataclasses, parsed from raw JSON.

``parse_snapshot``, ``parse_restore``, ``parse_objectstore_config`` and
``parse_restore_preference`` take an object as the kube-apiserver returns it
(a JSON mapping) and give back an immutable value, or raise
:class:`~k8ssnap.errors.ConfigError` whose ``reason`` tells the user what to
change. The CRD schema rejects most bad input at admission; the checks here
cover what a schema cannot say (two fields that exclude each other) and
objects that never passed the schema (an older CRD, an archive, a test).

Compatibility with k8s-snap's objects, which Go wrote:

* ``""``, ``null`` and an absent field all mean "not set".
* A Restore names its snapshot with ``spec.snapshotName`` (k8s-snap's Go
  type) or ``spec.backupName`` (k8s-snap's README); both are accepted.
* A Restore's ``spec.objectstoreConfig`` is accepted and kept; k8s-snap
  ignored it and used the Snapshot's store.
* k8ssnap's addition: a Restore may set ``spec.latest`` (a schedule or a
  clusterName, and an optional ``maxAge``) instead of a snapshot name.

Durations (``ttl``) stay Go duration strings, checked against
:data:`~k8ssnap.api.constants.DURATION_PATTERN`; turning them into time is the
domain's job. Timestamps become timezone-aware UTC datetimes.

The shared parts (:class:`Resource`, :class:`KubeconfigRef`,
:class:`SecretKeyRef`) live in :mod:`k8ssnap.api.meta` and are re-exported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from k8ssnap.api import _fields, encryption, meta
from k8ssnap.api.constants import DEFAULT_CA_BUNDLE_KEY, RESTORE_OPTIONS, Phase, StorePhase
from k8ssnap.api.encryption import EncryptionSpec, ServerSideEncryption
from k8ssnap.api.meta import KubeconfigRef, Resource, SecretKeyRef
from k8ssnap.domain.labelselector import LabelSelector
from k8ssnap.domain.namespacemap import NamespaceMapping
from k8ssnap.errors import ConfigError

__all__ = [
    "PREFERENCE_LIST_FIELDS",
    "KubeconfigRef",
    "LatestSelector",
    "ObjectstoreConfig",
    "ObjectstoreConfigSpec",
    "ObjectstoreConfigStatus",
    "Resource",
    "Restore",
    "RestorePreference",
    "RestoreSpec",
    "RestoreStatus",
    "SecretKeyRef",
    "Snapshot",
    "SnapshotSpec",
    "SnapshotStatus",
    "parse_objectstore_config",
    "parse_restore",
    "parse_restore_preference",
    "parse_snapshot",
]

# --- Snapshot -------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotSpec:
    cluster_name: str = ""
    kubeconfig: KubeconfigRef = field(default_factory=KubeconfigRef)
    #: Name of the ObjectstoreConfig to store into; None: the controller's default.
    objectstore_config: str | None = None
    #: Go duration string; None: k8s-snap's default (720h). Ignored if available_until.
    ttl: str | None = None
    available_until: datetime | None = None
    #: ``recipients_secret`` overrides the ObjectstoreConfig's.
    encryption: EncryptionSpec = field(default_factory=EncryptionSpec)


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotStatus:
    """What the controller last wrote. Lists are empty where JSON had null."""

    phase: Phase = ""
    reason: str = ""
    contents: tuple[str, ...] = ()
    number_of_contents: int = 0
    snapshot_resource_version: str = ""
    snapshot_timestamp: datetime | None = None
    stored_file_size: int = 0
    stored_timestamp: datetime | None = None
    available_until: datetime | None = None
    stored_sha256: str = ""
    skipped_apis: tuple[str, ...] = ()
    observed_generation: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot(Resource):
    spec: SnapshotSpec
    status: SnapshotStatus = field(default_factory=SnapshotStatus)


def parse_snapshot(obj: Mapping[str, Any]) -> Snapshot:
    """A Snapshot from its JSON; ConfigError if it cannot be used as given."""
    spec = _fields.mapping(obj.get("spec"), field="spec")
    status = _fields.mapping(obj.get("status"), field="status")
    return Snapshot(
        **meta.metadata_fields(obj),
        spec=SnapshotSpec(
            cluster_name=_fields.string(spec, "clusterName", field="spec.clusterName") or "",
            kubeconfig=meta.kubeconfig_ref(spec),
            objectstore_config=_fields.string(spec, "objectstoreConfig", field="spec.objectstoreConfig"),
            ttl=_fields.duration(spec, "ttl", field="spec.ttl"),
            available_until=_fields.timestamp(spec, "availableUntil", field="spec.availableUntil"),
            encryption=encryption.encryption(spec, allow=("recipientsSecret",)),
        ),
        status=SnapshotStatus(
            phase=_fields.phase(status),
            reason=_fields.string(status, "reason", field="status.reason") or "",
            contents=_fields.strings(status, "contents", field="status.contents") or (),
            number_of_contents=_fields.count(status, "numberOfContents", field="status.numberOfContents"),
            snapshot_resource_version=_fields.string(
                status, "snapshotResourceVersion", field="status.snapshotResourceVersion"
            )
            or "",
            snapshot_timestamp=_fields.timestamp(
                status, "snapshotTimestamp", field="status.snapshotTimestamp"
            ),
            stored_file_size=_fields.count(status, "storedFileSize", field="status.storedFileSize"),
            stored_timestamp=_fields.timestamp(status, "storedTimestamp", field="status.storedTimestamp"),
            available_until=_fields.timestamp(status, "availableUntil", field="status.availableUntil"),
            stored_sha256=_fields.string(status, "storedSha256", field="status.storedSha256") or "",
            skipped_apis=_fields.strings(status, "skippedApis", field="status.skippedApis") or (),
            observed_generation=_fields.observed_generation(status),
        ),
    )


# --- Restore --------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class LatestSelector:
    """``spec.latest`` of a Restore: the newest Completed snapshot of a schedule or a cluster."""

    schedule: str | None = None
    cluster_name: str | None = None
    #: Go duration; the newest may be at most this old (from when it was taken).
    max_age: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RestoreSpec:
    cluster_name: str = ""
    #: The Snapshot to restore, from spec.snapshotName or spec.backupName; "" with ``latest``.
    snapshot_name: str
    #: Instead of a name: restore the newest Completed snapshot this selects.
    latest: LatestSelector | None = None
    restore_preference_name: str | None = None
    kubeconfig: KubeconfigRef = field(default_factory=KubeconfigRef)
    #: Accepted for k8s-snap's manifests; the Snapshot's own store is what counts.
    objectstore_config: str | None = None
    #: Go duration string; None: k8s-snap's default (168h). Ignored if available_until.
    ttl: str | None = None
    available_until: datetime | None = None
    #: ``identity_secret`` overrides the ObjectstoreConfig's.
    encryption: EncryptionSpec = field(default_factory=EncryptionSpec)
    #: Plan, read the destination, write nothing (creates are sent with dryRun=All).
    dry_run: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class RestoreStatus:
    """What the controller last wrote. Lists are empty where JSON had null.

    The counts are kept apart from the lists, as in the JSON, so that a list
    shortened to fit the object's size limit still has its true count.
    """

    phase: Phase = ""
    reason: str = ""
    #: The Snapshot restored (chosen by ``spec.latest``, or as named); "" before it is known.
    snapshot_name: str = ""
    excluded: tuple[str, ...] = ()
    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    already_existed: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    #: ``"<path>,converted from <gv> to <gv>"``: objects sent at another version.
    converted: tuple[str, ...] = ()
    num_excluded: int = 0
    num_created: int = 0
    num_updated: int = 0
    num_already_existed: int = 0
    num_failed: int = 0
    num_converted: int = 0
    num_preference_excluded: int = 0
    num_snapshot_contents: int = 0
    restore_resource_version: str = ""
    restore_timestamp: datetime | None = None
    preserve_until: datetime | None = None
    observed_generation: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Restore(Resource):
    spec: RestoreSpec
    status: RestoreStatus = field(default_factory=RestoreStatus)


def parse_restore(obj: Mapping[str, Any]) -> Restore:
    """A Restore from its JSON; ConfigError if it cannot be used as given."""
    spec = _fields.mapping(obj.get("spec"), field="spec")
    status = _fields.mapping(obj.get("status"), field="status")
    lists = {
        key: _fields.strings(status, key, field=f"status.{key}") or ()
        for key in ("excluded", "created", "updated", "alreadyExisted", "failed", "converted")
    }
    # k8s-snap v0.5 wrote the restore's expiry as availableUntil.
    preserve_until = _fields.timestamp(
        status, "preserveUntil", field="status.preserveUntil"
    ) or _fields.timestamp(status, "availableUntil", field="status.availableUntil")
    latest = _latest(spec)
    return Restore(
        **meta.metadata_fields(obj),
        spec=RestoreSpec(
            cluster_name=_fields.string(spec, "clusterName", field="spec.clusterName") or "",
            snapshot_name=_snapshot_name(spec, latest=latest is not None),
            latest=latest,
            restore_preference_name=_fields.string(
                spec, "restorePreferenceName", field="spec.restorePreferenceName"
            ),
            kubeconfig=meta.kubeconfig_ref(spec),
            objectstore_config=_fields.string(spec, "objectstoreConfig", field="spec.objectstoreConfig"),
            ttl=_fields.duration(spec, "ttl", field="spec.ttl"),
            available_until=_fields.timestamp(spec, "availableUntil", field="spec.availableUntil"),
            encryption=encryption.encryption(spec, allow=("identitySecret",)),
            dry_run=_fields.boolean(spec, "dryRun", field="spec.dryRun") or False,
        ),
        status=RestoreStatus(
            phase=_fields.phase(status),
            reason=_fields.string(status, "reason", field="status.reason") or "",
            snapshot_name=_fields.string(status, "snapshotName", field="status.snapshotName") or "",
            excluded=lists["excluded"],
            created=lists["created"],
            updated=lists["updated"],
            already_existed=lists["alreadyExisted"],
            failed=lists["failed"],
            converted=lists["converted"],
            num_excluded=_fields.count(status, "numExcluded", field="status.numExcluded"),
            num_created=_fields.count(status, "numCreated", field="status.numCreated"),
            num_updated=_fields.count(status, "numUpdated", field="status.numUpdated"),
            num_already_existed=_fields.count(status, "numAlreadyExisted", field="status.numAlreadyExisted"),
            num_failed=_fields.count(status, "numFailed", field="status.numFailed"),
            num_converted=_fields.count(status, "numConverted", field="status.numConverted"),
            num_preference_excluded=_fields.count(
                status, "numPreferenceExcluded", field="status.numPreferenceExcluded"
            ),
            num_snapshot_contents=_fields.count(
                status, "numSnapshotContents", field="status.numSnapshotContents"
            ),
            restore_resource_version=_fields.string(
                status, "restoreResourceVersion", field="status.restoreResourceVersion"
            )
            or "",
            restore_timestamp=_fields.timestamp(status, "restoreTimestamp", field="status.restoreTimestamp"),
            preserve_until=preserve_until,
            observed_generation=_fields.observed_generation(status),
        ),
    )


# --- ObjectstoreConfig ----------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectstoreConfigSpec:
    bucket: str
    #: Secret with keys ``accesskey`` and ``secretkey``.
    cloud_credential_secret: str
    region: str | None = None
    #: As written, for display; None means the provider's default endpoint.
    endpoint: str | None = None
    #: ``endpoint`` with its scheme decided (``insecure`` means http), no trailing slash.
    endpoint_url: str | None = None
    force_path_style: bool = False
    #: Plain http instead of https.
    insecure: bool = False
    #: A PEM bundle of CAs to trust instead of the system's.
    ca_bundle: SecretKeyRef | None = None
    #: Key prefix inside the bucket, without leading or trailing "/"; "" for none.
    prefix: str = ""
    encryption: EncryptionSpec = field(default_factory=EncryptionSpec)
    server_side_encryption: ServerSideEncryption | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectstoreConfigStatus:
    phase: StorePhase = ""
    reason: str = ""
    bucket_exists: bool | None = None
    last_checked: datetime | None = None
    observed_generation: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectstoreConfig(Resource):
    spec: ObjectstoreConfigSpec
    status: ObjectstoreConfigStatus = field(default_factory=ObjectstoreConfigStatus)


def parse_objectstore_config(obj: Mapping[str, Any]) -> ObjectstoreConfig:
    """An ObjectstoreConfig from its JSON; ConfigError if unusable."""
    spec = _fields.mapping(obj.get("spec"), field="spec")
    status = _fields.mapping(obj.get("status"), field="status")
    endpoint = _fields.string(spec, "endpoint", field="spec.endpoint")
    insecure = _fields.boolean(spec, "insecure", field="spec.insecure")
    endpoint_url = _endpoint_url(endpoint, insecure=insecure)
    raw_ca = spec.get("caBundleSecret")
    return ObjectstoreConfig(
        **meta.metadata_fields(obj),
        spec=ObjectstoreConfigSpec(
            bucket=_fields.required_string(spec, "bucket", field="spec.bucket"),
            cloud_credential_secret=_fields.required_string(
                spec, "cloudCredentialSecret", field="spec.cloudCredentialSecret"
            ),
            region=_fields.string(spec, "region", field="spec.region"),
            endpoint=endpoint,
            endpoint_url=endpoint_url,
            force_path_style=bool(_fields.boolean(spec, "forcePathStyle", field="spec.forcePathStyle")),
            insecure=endpoint_url is not None and endpoint_url.startswith("http://"),
            ca_bundle=None
            if raw_ca is None
            else meta.secret_key_ref(raw_ca, field="spec.caBundleSecret", default_key=DEFAULT_CA_BUNDLE_KEY),
            prefix=_prefix(spec),
            encryption=encryption.encryption(spec, allow=("recipientsSecret", "identitySecret")),
            server_side_encryption=encryption.server_side_encryption(spec),
        ),
        status=ObjectstoreConfigStatus(
            phase=_fields.store_phase(status),
            reason=_fields.string(status, "reason", field="status.reason") or "",
            bucket_exists=_fields.boolean(status, "bucketExists", field="status.bucketExists"),
            last_checked=_fields.timestamp(status, "lastChecked", field="status.lastChecked"),
            observed_generation=_fields.observed_generation(status),
        ),
    )


# --- RestorePreference ----------------------------------------------------

#: The list fields of a RestorePreference spec, in k8s-snap's spelling.
PREFERENCE_LIST_FIELDS = (
    "excludeNamespaces",
    "excludeCRDs",
    "excludeApiPathes",
    "includeNamespaces",
    "includeCRDs",
    "includeApiPathes",
    "restoreAppApiPathes",
    "restoreNfsStorageClasses",
    "restoreOptions",
    "includeKinds",
    "excludeKinds",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class RestorePreference(Resource):
    """A RestorePreference; its spec is checked for shape, then left raw.

    The domain layer gives the spec its meaning. ``spec`` is a read-only
    view of the JSON with every list field a list of strings or absent.
    """

    spec: Mapping[str, Any]


def parse_restore_preference(obj: Mapping[str, Any]) -> RestorePreference:
    """A RestorePreference from its JSON; ConfigError if a list is malformed."""
    spec = _fields.mapping(obj.get("spec"), field="spec")
    for key in PREFERENCE_LIST_FIELDS:
        _fields.strings(spec, key, field=f"spec.{key}")
    for index, option in enumerate(spec.get("restoreOptions") or ()):
        if option not in RESTORE_OPTIONS:
            raise ConfigError(
                f"spec.restoreOptions[{index}] is {option!r}, which k8ssnap does not know;"
                f" the options are: {', '.join(RESTORE_OPTIONS)}"
            )
    _check_migration_fields(spec)
    return RestorePreference(**meta.metadata_fields(obj), spec=MappingProxyType(dict(spec)))


def _check_migration_fields(spec: Mapping[str, Any]) -> None:
    """ConfigError for a ``labelSelector`` or ``namespaceMapping`` the domain cannot read."""
    try:
        if spec.get("labelSelector") is not None:
            LabelSelector.parse(spec["labelSelector"], field="spec.labelSelector")
        NamespaceMapping.parse(spec.get("namespaceMapping"), field="spec.namespaceMapping")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


# --- helpers --------------------------------------------------------------


def _snapshot_name(spec: Mapping[str, Any], *, latest: bool) -> str:
    snapshot = _fields.string(spec, "snapshotName", field="spec.snapshotName")
    backup = _fields.string(spec, "backupName", field="spec.backupName")
    if snapshot is not None and backup is not None and snapshot != backup:
        raise ConfigError(
            f"spec.snapshotName ({snapshot!r}) and spec.backupName ({backup!r}) name"
            " different snapshots; set only one of them"
        )
    name = snapshot or backup
    if latest:
        if name is not None:
            raise ConfigError(
                "spec.latest and a snapshot name (spec.snapshotName or spec.backupName) are both"
                " set; name the snapshot or ask for the latest, not both"
            )
        return ""
    if name is None:
        raise ConfigError(
            "no snapshot to restore: set spec.snapshotName (or spec.backupName,"
            " as k8s-snap's README calls it) to the name of a Snapshot,"
            " or spec.latest to restore the newest of a schedule or cluster"
        )
    return name


def _latest(spec: Mapping[str, Any]) -> LatestSelector | None:
    if spec.get("latest") is None:
        return None
    raw = _fields.mapping(spec.get("latest"), field="spec.latest")
    selector = LatestSelector(
        schedule=_fields.string(raw, "schedule", field="spec.latest.schedule"),
        cluster_name=_fields.string(raw, "clusterName", field="spec.latest.clusterName"),
        max_age=_fields.duration(raw, "maxAge", field="spec.latest.maxAge"),
    )
    if (selector.schedule is None) == (selector.cluster_name is None):
        raise ConfigError("spec.latest takes exactly one of schedule and clusterName")
    return selector


def _endpoint_url(endpoint: str | None, *, insecure: bool | None) -> str | None:
    if endpoint is None:
        return None
    scheme, separator, host = endpoint.partition("://")
    if not separator:
        scheme, host = ("http" if insecure else "https"), endpoint
    elif scheme not in ("http", "https"):  # lower case only, as the CRD's pattern
        raise ConfigError(f"spec.endpoint must start with http:// or https://, not {scheme}://")
    if insecure is not None and insecure != (scheme == "http"):
        raise ConfigError(
            f"spec.endpoint says {scheme}:// but spec.insecure is {str(insecure).lower()};"
            " drop the scheme or the insecure flag"
        )
    host = host.rstrip("/")
    if not host or any(char in host for char in "/?# "):
        raise ConfigError(f"spec.endpoint must be a host name with an optional port, not {endpoint!r}")
    return f"{scheme}://{host}"


def _prefix(spec: Mapping[str, Any]) -> str:
    raw = _fields.string(spec, "prefix", field="spec.prefix") or ""
    prefix = raw.strip("/")
    if prefix and any(part in ("", ".", "..") for part in prefix.split("/")):
        raise ConfigError(f"spec.prefix must be folder names separated by single slashes, not {raw!r}")
    return prefix
