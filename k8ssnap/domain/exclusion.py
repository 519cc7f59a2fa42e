"""Per-object exclusion reasons, applied after the streaming pass.

:func:`exclusion_reason` answers, for an object the preference let through,
why the restore must still skip it. The reasons are k8s-snap's strings and
end up in ``status.excluded`` as ``"<path>,(<reason>)"``. First match wins:

1. ``owner-ref``, ``token-secret``, ``system-managed``, ``backup-job`` (object-local, see
   :mod:`k8ssnap.domain.intrinsic`).
2. ``service-exists``: Endpoints, or an EndpointSlice labelled
   ``kubernetes.io/service-name``, whose same-name Service has a selector.
   The endpoints controller regenerates them from the selector. Endpoints
   of selectorless Services are user data and are restored.
3. ``not-binded-to-ns``: a ClusterRoleBinding none of whose ServiceAccount
   subjects lives in a restored namespace, and a ClusterRole that no kept
   ClusterRoleBinding and no RoleBinding in a restored namespace refers to.
   Aggregated ClusterRoles (labelled ``rbac.authorization.k8s.io/aggregate-to-*``)
   are kept: they extend ``admin``/``edit``/``view`` as used by namespaces.
   With ``restoreOptions: [wholeCluster]``, ClusterRoleBindings with User or
   Group subjects are kept too, and every ClusterRole is kept.
4. PV/PVC rebinding reasons, see :mod:`k8ssnap.domain.volumes`.
5. ``no-selected-objects``: with a ``labelSelector``, a Namespace that does not
   match it and holds no selected object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from k8ssnap.domain import kinds
from k8ssnap.domain.facts import PlanFacts
from k8ssnap.domain.fields import labels_of, text
from k8ssnap.domain.intrinsic import BACKUP_JOB, OWNER_REF, SYSTEM_MANAGED, TOKEN_SECRET, intrinsic_reason
from k8ssnap.domain.paths import ObjectRef, parse_path

__all__ = [
    "BACKUP_JOB",
    "NOT_BINDED_TO_NS",
    "NO_SELECTED_OBJECTS",
    "OWNER_REF",
    "SERVICE_EXISTS",
    "SYSTEM_MANAGED",
    "TOKEN_SECRET",
    "exclusion_reason",
]

SERVICE_EXISTS = "service-exists"
NOT_BINDED_TO_NS = "not-binded-to-ns"
NO_SELECTED_OBJECTS = "no-selected-objects"

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
AGGREGATE_LABEL_PREFIX = "rbac.authorization.k8s.io/aggregate-to-"


def exclusion_reason(path: str, obj: Mapping[str, Any], facts: PlanFacts) -> str | None:
    """Why the restore skips the object at ``path``, or None to restore it.

    ``facts`` must have observed every object of the archive first.
    """
    ref = parse_path(path)
    return (
        intrinsic_reason(ref, obj)
        or _service_reason(ref, obj, facts)
        or _binding_reason(ref, obj, facts)
        or _volume_reason(ref, obj, facts)
        or _namespace_reason(ref, facts)
    )


def _namespace_reason(ref: ObjectRef, facts: PlanFacts) -> str | None:
    if ref.group_resource != kinds.NAMESPACES or facts.namespace_restored(ref.name):
        return None
    return NO_SELECTED_OBJECTS


def _service_reason(ref: ObjectRef, obj: Mapping[str, Any], facts: PlanFacts) -> str | None:
    if ref.group_resource == kinds.ENDPOINTS:
        service = ref.name
    elif ref.group_resource == kinds.ENDPOINT_SLICES:
        service = text(labels_of(obj).get(SERVICE_NAME_LABEL))
    else:
        return None
    if service and facts.service_has_selector(ref.namespace or "", service):
        return SERVICE_EXISTS
    return None


def _binding_reason(ref: ObjectRef, obj: Mapping[str, Any], facts: PlanFacts) -> str | None:
    if ref.group_resource == kinds.CLUSTER_ROLE_BINDINGS:
        kept = facts.cluster_role_binding_kept(ref.name)
    elif ref.group_resource == kinds.CLUSTER_ROLES:
        kept = facts.cluster_role_kept(ref.name) or _aggregated(obj) or facts.whole_cluster
    else:
        return None
    return None if kept else NOT_BINDED_TO_NS


def _volume_reason(ref: ObjectRef, obj: Mapping[str, Any], facts: PlanFacts) -> str | None:
    if ref.group_resource == kinds.PERSISTENT_VOLUME_CLAIMS:
        return facts.claim_reason(obj)
    if ref.group_resource == kinds.PERSISTENT_VOLUMES:
        return facts.volume_reason(ref.name)
    return None


def _aggregated(obj: Mapping[str, Any]) -> bool:
    return any(
        str(key).startswith(AGGREGATE_LABEL_PREFIX) and value == "true"
        for key, value in labels_of(obj).items()
    )
