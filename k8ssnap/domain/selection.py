"""What to snapshot: discovery results in, one ApiResource per resource out.

Rules, each fixing or keeping a k8s-snap behaviour:

* A resource is kept only when its verbs include ``list``, ``get``,
  ``create`` and ``delete`` (as k8s-snap): what cannot be listed cannot be
  snapshotted and what cannot be created cannot be restored. This already
  drops ``componentstatuses``, ``bindings``, the ``*reviews`` and the
  ``metrics.k8s.io`` read-only views.
* Subresources (``pods/log``, ``deployments/scale``) are dropped.
* :data:`NEVER_RESTORABLE` resources are dropped even though their verbs
  qualify, because a restore must never recreate them (see its comment).
* k8ssnap's own work orders are dropped: every resource of
  ``clustersnapshot.rywt.io`` except :data:`K8SSNAP_CONFIGURATION`
  (ObjectstoreConfigs and RestorePreferences). A Snapshot or Restore may
  carry a whole kubeconfig inline (``spec.kubeconfig``): archiving it would
  put another cluster's credentials in the bucket, and a restore skips
  them anyway (``backup-job``). Kinds added to the group later are left
  out unless listed here, so a new kind never leaks a kubeconfig by default.
* k8s-snap archived every served version of a resource, so one object
  appeared several times. We take exactly one version per (group,
  resource): the group's preferred version when it serves the resource,
  else the highest other version in Kubernetes version priority.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from k8ssnap.domain import kinds
from k8ssnap.domain.paths import ApiResource, GroupResource

REQUIRED_VERBS = frozenset({"list", "get", "create", "delete"})

NEVER_RESTORABLE: frozenset[GroupResource] = frozenset(
    {
        kinds.NODES,  # registered by each kubelet; a node cannot be recreated from JSON
        kinds.CORE_EVENTS,  # history, not state; expires after an hour anyway
        kinds.EVENTS,  # the same events served by events.k8s.io
        kinds.CSI_NODES,  # one per node, written by the kubelet's CSI plugin manager
        kinds.VOLUME_ATTACHMENTS,  # attach requests for the source's nodes; would re-attach
    }
)

K8SSNAP_CONFIGURATION: frozenset[GroupResource] = frozenset(
    {GroupResource(kinds.K8SSNAP, "objectstoreconfigs"), GroupResource(kinds.K8SSNAP, "restorepreferences")}
)
"""The only resources of k8ssnap's own group that snapshots archive: configuration, no credentials."""

_KUBE_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")
_STAGE_RANK = {None: 0, "beta": 1, "alpha": 2}
_DISCOVERY_ERROR_LIMIT = 300


@dataclass(frozen=True, slots=True)
class DiscoveredVersion:
    """The resources one group-version serves."""

    version: str
    resources: tuple[ApiResource, ...]


@dataclass(frozen=True, slots=True)
class DiscoveredGroup:
    """One API group as discovery reports it; ``name`` is ``""`` for core."""

    name: str
    preferred_version: str
    versions: tuple[DiscoveredVersion, ...]


def version_priority(version: str) -> tuple[int, int, int, str]:
    """A sort key: the highest-priority version sorts first.

    Kubernetes order: GA before beta before alpha; within a stage the
    higher major, then the higher minor wins (v2 > v1 > v1beta2 > v1beta1 >
    v1alpha1). Versions not of that form come last, in string order.
    """
    match = _KUBE_VERSION.match(version)
    if match is None:
        return (3, 0, 0, version)
    major, stage, minor = match.group(1), match.group(2), match.group(3)
    return (_STAGE_RANK[stage], -int(major), -int(minor or 0), "")


def is_snapshottable(resource: ApiResource) -> bool:
    """Whether a discovered resource may go into a snapshot at all."""
    return (
        "/" not in resource.resource
        and resource.verbs >= REQUIRED_VERBS
        and resource.group_resource not in NEVER_RESTORABLE
        and (resource.group != kinds.K8SSNAP or resource.group_resource in K8SSNAP_CONFIGURATION)
    )


def select_resources(groups: Iterable[DiscoveredGroup]) -> tuple[ApiResource, ...]:
    """The resources to snapshot, one version each, sorted by group and resource."""
    chosen: list[ApiResource] = []
    for group in groups:
        chosen.extend(_choose_versions(group))
    return tuple(sorted(chosen, key=lambda r: (r.group, r.resource)))


def discovery_failures(failed: Mapping[str, str]) -> tuple[str, ...]:
    """Reason strings for group-versions whose discovery failed, sorted.

    Each reads ``discovery of <group-version> failed: <error>`` with the
    error cut to 300 characters, ready for a status ``reason``.
    """
    return tuple(
        f"discovery of {gv} failed: {_one_line(error)[:_DISCOVERY_ERROR_LIMIT]}"
        for gv, error in sorted(failed.items())
    )


def _choose_versions(group: DiscoveredGroup) -> list[ApiResource]:
    by_resource: dict[str, dict[str, ApiResource]] = {}
    for served in group.versions:
        for resource in served.resources:
            if is_snapshottable(resource):
                by_resource.setdefault(resource.resource, {})[served.version] = resource
    return [_pick(versions, preferred=group.preferred_version) for versions in by_resource.values()]


def _pick(versions: Mapping[str, ApiResource], *, preferred: str) -> ApiResource:
    if preferred in versions:
        return versions[preferred]
    return versions[min(versions, key=version_priority)]


def _one_line(text: str) -> str:
    return " ".join(text.split())
