"""The group-resources the domain rules name, in one place.

Rules match on group and resource, never on version, so a rule written
for ``rbac.authorization.k8s.io`` holds whichever version a cluster serves.
"""

from __future__ import annotations

from k8ssnap.domain.paths import GroupResource

RBAC = "rbac.authorization.k8s.io"

NAMESPACES = GroupResource("", "namespaces")
CRDS = GroupResource("apiextensions.k8s.io", "customresourcedefinitions")

STORAGE_CLASSES = GroupResource("storage.k8s.io", "storageclasses")
PERSISTENT_VOLUMES = GroupResource("", "persistentvolumes")
PERSISTENT_VOLUME_CLAIMS = GroupResource("", "persistentvolumeclaims")

ROLES = GroupResource(RBAC, "roles")
CLUSTER_ROLES = GroupResource(RBAC, "clusterroles")
ROLE_BINDINGS = GroupResource(RBAC, "rolebindings")
CLUSTER_ROLE_BINDINGS = GroupResource(RBAC, "clusterrolebindings")
SERVICE_ACCOUNTS = GroupResource("", "serviceaccounts")
SECRETS = GroupResource("", "secrets")
CONFIG_MAPS = GroupResource("", "configmaps")

SERVICES = GroupResource("", "services")
ENDPOINTS = GroupResource("", "endpoints")
ENDPOINT_SLICES = GroupResource("discovery.k8s.io", "endpointslices")
PODS = GroupResource("", "pods")
JOBS = GroupResource("batch", "jobs")
API_SERVICES = GroupResource("apiregistration.k8s.io", "apiservices")
LEASES = GroupResource("coordination.k8s.io", "leases")
IP_ADDRESSES = GroupResource("networking.k8s.io", "ipaddresses")
SERVICE_CIDRS = GroupResource("networking.k8s.io", "servicecidrs")
PRIORITY_CLASSES = GroupResource("scheduling.k8s.io", "priorityclasses")
FLOW_SCHEMAS = GroupResource("flowcontrol.apiserver.k8s.io", "flowschemas")
PRIORITY_LEVELS = GroupResource("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations")

K8SSNAP = "clustersnapshot.rywt.io"
SNAPSHOTS = GroupResource(K8SSNAP, "snapshots")
RESTORES = GroupResource(K8SSNAP, "restores")

NODES = GroupResource("", "nodes")
CORE_EVENTS = GroupResource("", "events")
EVENTS = GroupResource("events.k8s.io", "events")
CSI_NODES = GroupResource("storage.k8s.io", "csinodes")
VOLUME_ATTACHMENTS = GroupResource("storage.k8s.io", "volumeattachments")
