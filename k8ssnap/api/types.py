"""The raw JSON of our custom resources, as TypedDicts.

These describe what crosses the boundary to the kube-apiserver: what a user
writes in ``spec`` and what the controller writes to ``status``. Inside the
program, work with the frozen dataclasses of :mod:`k8ssnap.api.resources`.

Every key keeps k8s-snap's spelling byte for byte (``excludeApiPathes``
included). All dicts are ``total=False`` because any field may be absent in
what a user wrote; the builders of :mod:`k8ssnap.api.status` nevertheless
always emit every status field k8s-snap emitted. Timestamps are RFC 3339
strings (``2019-05-20T03:45:08Z``), durations Go duration strings (``720h``).
"""

from __future__ import annotations

from typing import Any, TypedDict

from k8ssnap.api.constants import Phase, StorePhase


class RawSecretKeyRef(TypedDict, total=False):
    """A key of a Secret in the controller's namespace."""

    name: str
    key: str


class RawObjectMeta(TypedDict, total=False):
    """The part of ``metadata`` the controller reads."""

    name: str
    namespace: str
    uid: str
    resourceVersion: str
    generation: int
    creationTimestamp: str
    deletionTimestamp: str | None
    finalizers: list[str]


# --- Snapshot -------------------------------------------------------------


class RawSnapshotSpec(TypedDict, total=False):
    clusterName: str
    kubeconfig: str
    kubeconfigSecret: RawSecretKeyRef
    objectstoreConfig: str
    ttl: str
    availableUntil: str | None


class RawSnapshotStatus(TypedDict, total=False):
    # k8s-snap's fields
    phase: Phase
    reason: str
    contents: list[str] | None
    numberOfContents: int
    snapshotResourceVersion: str
    snapshotTimestamp: str | None
    storedFileSize: int
    storedTimestamp: str | None
    availableUntil: str | None
    # k8ssnap's additions
    storedSha256: str
    skippedApis: list[str] | None
    observedGeneration: int
    # written by k8s-snap v0.5 (its Go type has it); read, never written
    ttl: str


# --- Restore --------------------------------------------------------------


class RawLatestSelector(TypedDict, total=False):
    schedule: str
    clusterName: str
    maxAge: str


class RawRestoreSpec(TypedDict, total=False):
    clusterName: str
    snapshotName: str
    backupName: str
    latest: RawLatestSelector
    restorePreferenceName: str
    kubeconfig: str
    kubeconfigSecret: RawSecretKeyRef
    objectstoreConfig: str
    ttl: str
    availableUntil: str | None
    dryRun: bool


class RawRestoreStatus(TypedDict, total=False):
    # k8s-snap's fields
    phase: Phase
    reason: str
    excluded: list[str] | None
    created: list[str] | None
    updated: list[str] | None
    alreadyExisted: list[str] | None
    failed: list[str] | None
    numExcluded: int
    numCreated: int
    numUpdated: int
    numAlreadyExisted: int
    numFailed: int
    numPreferenceExcluded: int
    numSnapshotContents: int
    restoreResourceVersion: str
    restoreTimestamp: str | None
    preserveUntil: str | None
    # k8ssnap's additions
    observedGeneration: int
    converted: list[str] | None
    numConverted: int
    snapshotName: str
    # written by k8s-snap v0.5 (its Go type names preserveUntil so); read, never written
    availableUntil: str | None
    ttl: str


# --- ObjectstoreConfig ----------------------------------------------------


class RawObjectstoreConfigSpec(TypedDict, total=False):
    region: str
    endpoint: str
    bucket: str
    cloudCredentialSecret: str
    forcePathStyle: bool
    insecure: bool
    caBundleSecret: RawSecretKeyRef
    prefix: str


class RawObjectstoreConfigStatus(TypedDict, total=False):
    phase: StorePhase
    reason: str
    bucketExists: bool | None
    lastChecked: str | None
    observedGeneration: int


# --- RestorePreference ----------------------------------------------------


class RawRestorePreferenceSpec(TypedDict, total=False):
    excludeNamespaces: list[str]
    excludeCRDs: list[str]
    excludeApiPathes: list[str]
    includeNamespaces: list[str]
    includeCRDs: list[str]
    includeApiPathes: list[str]
    restoreAppApiPathes: list[str]
    restoreNfsStorageClasses: list[str]
    restoreOptions: list[str]
    # k8ssnap's additions (issue 15)
    includeKinds: list[str]
    excludeKinds: list[str]
    labelSelector: dict[str, Any]
    namespaceMapping: dict[str, str]
