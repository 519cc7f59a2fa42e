"""Names and fixed values of k8ssnap's custom-resource API.

The API is k8s-snap's, unchanged: group ``clustersnapshot.rywt.io``,
version ``v1alpha1``, five namespaced kinds (k8s-snap's four and
SnapshotSchedule) living in the controller's
namespace. Everything another package needs to address a resource or to
recognise a phase is here, so the strings exist exactly once.
``artifacts/crd.yaml`` repeats some of them; a unit test keeps the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

GROUP: Final = "clustersnapshot.rywt.io"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"

#: The namespace the controller watches unless told otherwise (k8s-snap's default).
DEFAULT_NAMESPACE: Final = "k8s-snap"

#: ``kubectl get k8ssnap`` lists every kind of ours.
CATEGORY: Final = "k8ssnap"

#: Held on a Snapshot while its archive exists in the object store, so that
#: deleting the resource first deletes the archive.
FINALIZER: Final = "clustersnapshot.rywt.io/archive"
RECREATED: Final = f"{GROUP}/recreated-from-bucket"
"""Annotation of a Snapshot that housekeeping recreated from its archive in the bucket."""
SCHEDULE_LABEL: Final = f"{GROUP}/schedule"
"""Label of a Snapshot a SnapshotSchedule made; its value is the schedule's name."""
SCHEDULED_AT: Final = f"{GROUP}/scheduled-at"
"""Annotation of a scheduled Snapshot: the scheduled time it was made for (RFC 3339)."""
ATTEMPTS: Final = f"{GROUP}/attempts"
"""Annotation of a Snapshot or Restore found InProgress: how many attempts at its work
were started (see :mod:`k8ssnap.controllers.attempts`)."""


@dataclass(frozen=True, slots=True)
class ResourceKind:
    """One custom resource type: its kind, plural and URL paths."""

    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]

    @property
    def crd_name(self) -> str:
        """The CustomResourceDefinition's metadata.name."""
        return f"{self.plural}.{GROUP}"

    def path(self, namespace: str, name: str | None = None, *, status: bool = False) -> str:
        """The REST path of the collection, or of one object (and its status)."""
        base = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{self.plural}"
        if name is None:
            if status:
                raise ValueError("only a named object has a status subresource")
            return base
        return f"{base}/{name}/status" if status else f"{base}/{name}"


SNAPSHOT: Final = ResourceKind(
    kind="Snapshot", plural="snapshots", singular="snapshot", short_names=("snap",)
)
RESTORE: Final = ResourceKind(kind="Restore", plural="restores", singular="restore", short_names=("rst",))
OBJECTSTORE_CONFIG: Final = ResourceKind(
    kind="ObjectstoreConfig",
    plural="objectstoreconfigs",
    singular="objectstoreconfig",
    short_names=("osc",),
)
RESTORE_PREFERENCE: Final = ResourceKind(
    kind="RestorePreference",
    plural="restorepreferences",
    singular="restorepreference",
    short_names=("rpref",),
)
SNAPSHOT_SCHEDULE: Final = ResourceKind(
    kind="SnapshotSchedule",
    plural="snapshotschedules",
    singular="snapshotschedule",
    short_names=("ssched",),
)
KINDS: Final = (SNAPSHOT, RESTORE, OBJECTSTORE_CONFIG, RESTORE_PREFERENCE, SNAPSHOT_SCHEDULE)
#: New in k8ssnap (k8s-snap had no such kind): an etcd snapshot plus the PKI. Kept out of
#: KINDS, whose CRDs the controller requires: a cluster without this CRD runs without it.
ETCD_SNAPSHOT: Final = ResourceKind(
    kind="EtcdSnapshot", plural="etcdsnapshots", singular="etcdsnapshot", short_names=("etcdsnap",)
)

# --- phases ---------------------------------------------------------------

#: Phase of a Snapshot or a Restore, exactly k8s-snap's values.
Phase = Literal["", "InQueue", "InProgress", "Completed", "Failed"]

PHASE_NEW: Final[Phase] = ""
PHASE_IN_QUEUE: Final[Phase] = "InQueue"
PHASE_IN_PROGRESS: Final[Phase] = "InProgress"
PHASE_COMPLETED: Final[Phase] = "Completed"
PHASE_FAILED: Final[Phase] = "Failed"
PHASES: Final[tuple[Phase, ...]] = (
    PHASE_NEW,
    PHASE_IN_QUEUE,
    PHASE_IN_PROGRESS,
    PHASE_COMPLETED,
    PHASE_FAILED,
)
#: Phases after which the controller does no more work but expiry.
FINAL_PHASES: Final[frozenset[Phase]] = frozenset({PHASE_COMPLETED, PHASE_FAILED})

#: Phase of an ObjectstoreConfig (new in k8ssnap; k8s-snap had no status here).
StorePhase = Literal["", "Available", "Unavailable"]

STORE_UNCHECKED: Final[StorePhase] = ""
STORE_AVAILABLE: Final[StorePhase] = "Available"
STORE_UNAVAILABLE: Final[StorePhase] = "Unavailable"
STORE_PHASES: Final[tuple[StorePhase, ...]] = (
    STORE_UNCHECKED,
    STORE_AVAILABLE,
    STORE_UNAVAILABLE,
)

# --- RestorePreference ----------------------------------------------------

#: ``restoreOptions`` entry: update objects that already exist instead of
#: leaving them alone. k8s-snap's type is a list of option names, so this is
#: a name in that list, not a boolean field.
RESTORE_OPTION_OVERWRITE_EXISTING: Final = "overwriteExisting"
#: ``restoreOptions`` entry: recovery into an empty cluster. Restores RBAC bound
#: to people, every StorageClass and the other non-built-in cluster-scoped
#: objects that k8s-snap's defaults leave out.
RESTORE_OPTION_WHOLE_CLUSTER: Final = "wholeCluster"
#: Every value ``restoreOptions`` may hold.
RESTORE_OPTIONS: Final = (RESTORE_OPTION_OVERWRITE_EXISTING, RESTORE_OPTION_WHOLE_CLUSTER)

# --- defaults and formats -------------------------------------------------

#: k8s-snap's default lifetimes, as Go duration strings.
DEFAULT_SNAPSHOT_TTL: Final = "720h"
DEFAULT_RESTORE_TTL: Final = "168h"

#: Key read from ``kubeconfigSecret`` when it names none.
DEFAULT_KUBECONFIG_KEY: Final = "kubeconfig"
#: Key read from ``caBundleSecret`` when it names none.
DEFAULT_CA_BUNDLE_KEY: Final = "ca.crt"
#: Keys of the Secret named by ``cloudCredentialSecret`` (k8s-snap's names).
ACCESS_KEY_KEY: Final = "accesskey"
SECRET_KEY_KEY: Final = "secretkey"  # noqa: S105 - a key name, not a secret

#: A Go ``time.Duration`` string as ``time.ParseDuration`` accepts it, unsigned:
#: "0", or one or more <number><unit>, e.g. "720h", "168h0m0s", "1.5h", "300ms".
#: The CRD uses this very pattern for every ``ttl``.
DURATION_PATTERN: Final = r"^(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$"
