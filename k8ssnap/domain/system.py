"""Objects the destination cluster's control plane owns: never restore them.

Each rule names an object that Kubernetes itself creates and keeps up to
date on every cluster. Restoring the source cluster's copy can only fail
with AlreadyExists, or worse, succeed and carry the source cluster's
identity (its CA, its API endpoints, its node heartbeats) into the
destination. ``docs/restore-rules.md`` lists the same rules for users.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from k8ssnap.domain import kinds
from k8ssnap.domain.fields import annotations_of, labels_of, spec, text
from k8ssnap.domain.paths import ObjectRef

Rule = Callable[[ObjectRef, Mapping[str, Any]], bool]

_CONTROLLER_SLICE_MANAGERS = frozenset(
    {"endpointslice-controller.k8s.io", "endpointslicemirroring-controller.k8s.io"}
)
_APISERVER_CONFIGMAPS = frozenset(
    {("kube-system", "extension-apiserver-authentication")}  # written by every apiserver
)
_IP_ALLOCATOR = "ipallocator.k8s.io"
_DEFAULT_SERVICE_CIDR = "kubernetes"
_SYSTEM_PRIORITY_CLASSES = frozenset({"system-cluster-critical", "system-node-critical"})
_LEASE_NAMESPACES = frozenset({"kube-node-lease", "kube-system"})
_RBAC = frozenset({kinds.ROLES, kinds.CLUSTER_ROLES, kinds.ROLE_BINDINGS, kinds.CLUSTER_ROLE_BINDINGS})
_KUBERNETES_SERVICE = frozenset({kinds.SERVICES, kinds.ENDPOINTS, kinds.ENDPOINT_SLICES})


def _root_ca(ref: ObjectRef, obj: Mapping[str, Any]) -> bool:
    """``kube-root-ca.crt``: the root-ca-cert-publisher puts the cluster CA in every namespace."""
    return ref.group_resource == kinds.CONFIG_MAPS and ref.name == "kube-root-ca.crt"


def _apiserver_config(ref: ObjectRef, obj: Mapping[str, Any]) -> bool:
    """ConfigMaps every kube-apiserver rewrites at start-up."""
    return ref.group_resource == kinds.CONFIG_MAPS and (ref.namespace, ref.name) in (_APISERVER_CONFIGMAPS)


def _kubernetes_service(ref: ObjectRef, obj: Mapping[str, Any]) -> bool:
    """``default/kubernetes`` Service, Endpoints and EndpointSlice: the apiserver's own address."""
    return (
        ref.group_resource in _KUBERNETES_SERVICE and ref.namespace == "default" and ref.name == "kubernetes"
    )


def _bootstrap_rbac(ref: ObjectRef, obj: Mapping[str, Any]) -> bool:
    """Bootstrap RBAC (``system:*`` cluster roles and bindings, ``admin``/``edit``/``view``...).

    The apiserver reconciles these at every start-up, and every one of them
    carries the label ``kubernetes.io/bootstrapping: rbac-defaults`` (the
    bootstrap policy adds it). The label is the mark, never the name: an
    addon's or a person's ``system:coredns`` or ``system:my-team`` is not
    built into the destination and is restored like any other role.
    """
    if ref.group_resource not in _RBAC:
        return False
    return labels_of(obj).get("kubernetes.io/bootstrapping") == "rbac-defaults"


def _local_api_service(ref: ObjectRef, obj: Mapping[str, Any]) -> bool:
    """APIServices served by the apiserver itself (no ``spec.service``) or auto-managed."""
    if ref.group_resource != kinds.API_SERVICES:
        return False
    automanaged = "kube-aggregator.kubernetes.io/automanaged" in labels_of(obj)
    return automanaged or not spec(obj).get("service")


def _apf_defaults(ref: ObjectRef, obj: Mapping[str, Any]) -> bool:
    """API priority-and-fairness objects the apiserver keeps up to date itself."""
    if ref.group_resource not in (kinds.FLOW_SCHEMAS, kinds.PRIORITY_LEVELS):
        return False
    return annotations_of(obj).get("apf.kubernetes.io/autoupdate-spec") == "true"


def _control_plane_lease(ref: ObjectRef, obj: Mapping[str, Any]) -> bool:
    """Node heartbeats and control-plane leader/identity leases: runtime state of the source."""
    return ref.group_resource == kinds.LEASES and ref.namespace in _LEASE_NAMESPACES


def _controller_endpoint_slice(ref: ObjectRef, obj: Mapping[str, Any]) -> bool:
    """EndpointSlices written by the endpointslice (or mirroring) controller."""
    if ref.group_resource != kinds.ENDPOINT_SLICES:
        return False
    manager = text(labels_of(obj).get("endpointslice.kubernetes.io/managed-by"))
    return manager in _CONTROLLER_SLICE_MANAGERS


def _allocated_ip_address(ref: ObjectRef, obj: Mapping[str, Any]) -> bool:
    """IPAddresses the apiserver's ClusterIP allocator made for a Service (``ipallocator.k8s.io``).

    The destination allocates its own when the Service is created; the source's
    copy would reserve an address for a Service that does not hold it.
    """
    if ref.group_resource != kinds.IP_ADDRESSES:
        return False
    return text(labels_of(obj).get("ipaddress.kubernetes.io/managed-by")) == _IP_ALLOCATOR


def _default_service_cidr(ref: ObjectRef, obj: Mapping[str, Any]) -> bool:
    """The ServiceCIDR ``kubernetes``, made by the apiserver from its ``--service-cluster-ip-range``."""
    return ref.group_resource == kinds.SERVICE_CIDRS and ref.name == _DEFAULT_SERVICE_CIDR


def _system_priority_class(ref: ObjectRef, obj: Mapping[str, Any]) -> bool:
    """``system-cluster-critical`` and ``system-node-critical``, made by every apiserver."""
    return ref.group_resource == kinds.PRIORITY_CLASSES and ref.name in _SYSTEM_PRIORITY_CLASSES


RULES: tuple[Rule, ...] = (
    _root_ca,
    _apiserver_config,
    _kubernetes_service,
    _bootstrap_rbac,
    _local_api_service,
    _apf_defaults,
    _control_plane_lease,
    _controller_endpoint_slice,
    _allocated_ip_address,
    _default_service_cidr,
    _system_priority_class,
)


def is_system_managed(ref: ObjectRef, obj: Mapping[str, Any]) -> bool:
    """Whether the destination's control plane creates and owns this object."""
    return any(rule(ref, obj) for rule in RULES)
