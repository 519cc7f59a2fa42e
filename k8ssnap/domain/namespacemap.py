"""NamespaceMapping: ``RestorePreference.namespaceMapping``, restoring namespace ``from`` as ``to``.

Mapping happens last, on the body :func:`~k8ssnap.domain.transform.transform`
made, after every decision of the plan. Preference rules, the label
selector, exclusion reasons and PV/PVC rebinding all see the **archived**
namespaces, so ``includeNamespaces: [shop]`` with ``shop: shop-staging``
restores the archived ``shop`` into ``shop-staging``.

Every reference to a mapped namespace is rewritten (``docs/restore-rules.md``
lists the same):

* ``metadata.namespace`` of namespaced objects;
* the Namespace object itself (``metadata.name`` and its
  ``kubernetes.io/metadata.name`` label);
* ServiceAccount subjects of RoleBindings and ClusterRoleBindings;
* a PersistentVolume's ``spec.claimRef.namespace``, so a static volume is
  pre-bound to the mapped claim;
* a claim's ``spec.dataSourceRef.namespace``;
* in Pods and in pod templates (workloads, CronJobs): the ``namespaces``
  lists of pod (anti-)affinity terms, and their ``namespaceSelector``;
* NetworkPolicy peers' ``namespaceSelector``;
* ``targetRef.namespace`` of Endpoints and EndpointSlice endpoints;
* the Service a webhook, APIService or CRD conversion webhook calls
  (``service.namespace``).

A ``namespaceSelector`` is rewritten where it names namespaces by the
``kubernetes.io/metadata.name`` label (``matchLabels``, or ``In``/``NotIn``
values). Free text that happens to contain a namespace (DNS names such as
``db.shop.svc`` in ConfigMaps or env vars, ExternalName Services) is data
and is left alone. Cluster-scoped objects keep their names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from k8ssnap.domain import kinds
from k8ssnap.domain.paths import GroupResource, ObjectRef

NAME_LABEL = "kubernetes.io/metadata.name"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")

Json = dict[str, Any]

_WEBHOOK_CONFIGURATIONS = frozenset(
    {
        GroupResource("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
        GroupResource("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
    }
)
_NETWORK_POLICIES = GroupResource("networking.k8s.io", "networkpolicies")


@dataclass(frozen=True, slots=True)
class NamespaceMapping:
    """Source namespace to destination namespace; unmapped namespaces stay as they are."""

    pairs: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def parse(cls, value: object, *, field: str = "namespaceMapping") -> NamespaceMapping:
        """Parse ``{from: to}``; ValueError unless both sides are namespace names."""
        if value is None:
            return cls()
        if not isinstance(value, Mapping):
            raise ValueError(f"{field} must be an object mapping namespace names to namespace names")  # noqa: TRY004 -- bad manifest content
        for source, destination in value.items():
            for name in (source, destination):
                if not isinstance(name, str) or not _DNS_LABEL.match(name):
                    raise ValueError(f"{field}: {name!r} is not a namespace name (a DNS-1123 label)")
        return cls(MappingProxyType({str(k): str(v) for k, v in value.items() if k != v}))

    def __bool__(self) -> bool:
        return bool(self.pairs)

    def namespace(self, name: str) -> str:
        """Where objects of namespace ``name`` go."""
        return self.pairs.get(name, name)

    def ref(self, ref: ObjectRef) -> ObjectRef:
        """The destination identity of the object at ``ref``."""
        if ref.group_resource == kinds.NAMESPACES:
            return replace(ref, name=self.namespace(ref.name))
        if ref.namespace is None:
            return ref
        return replace(ref, namespace=self.namespace(ref.namespace))

    def apply(self, ref: ObjectRef, body: Json) -> None:
        """Rewrite, in place, every namespace reference in ``body`` (the object at archived ``ref``)."""
        if not self.pairs:
            return
        metadata = _child(body, "metadata")
        if metadata is not None:
            if ref.group_resource == kinds.NAMESPACES:
                self._map_key(metadata, "name")
                labels = _child(metadata, "labels")
                if labels is not None:
                    self._map_key(labels, NAME_LABEL)
            elif ref.namespace is not None:
                metadata["namespace"] = self.namespace(ref.namespace)
        rule = _RULES.get(ref.group_resource)
        if rule is not None:
            rule(self, body)
        for pod_spec in _pod_specs(body):
            self._pod_spec(pod_spec)

    def _map_key(self, parent: Json, key: str) -> None:
        value = parent.get(key)
        if isinstance(value, str):
            parent[key] = self.namespace(value)

    def _subjects(self, body: Json) -> None:
        for subject in _dicts(body.get("subjects")):
            if subject.get("kind") == "ServiceAccount":
                self._map_key(subject, "namespace")

    def _claim_ref(self, body: Json) -> None:
        self._map_key(_child(_child(body, "spec"), "claimRef") or {}, "namespace")

    def _data_source(self, body: Json) -> None:
        self._map_key(_child(_child(body, "spec"), "dataSourceRef") or {}, "namespace")

    def _endpoints(self, body: Json) -> None:
        for subset in _dicts(body.get("subsets")):
            for address in (*_dicts(subset.get("addresses")), *_dicts(subset.get("notReadyAddresses"))):
                self._map_key(_child(address, "targetRef") or {}, "namespace")

    def _endpoint_slice(self, body: Json) -> None:
        for endpoint in _dicts(body.get("endpoints")):
            self._map_key(_child(endpoint, "targetRef") or {}, "namespace")

    def _api_service(self, body: Json) -> None:
        self._map_key(_child(_child(body, "spec"), "service") or {}, "namespace")

    def _webhooks(self, body: Json) -> None:
        for webhook in _dicts(body.get("webhooks")):
            self._map_key(_child(_child(webhook, "clientConfig"), "service") or {}, "namespace")

    def _crd(self, body: Json) -> None:
        webhook = _child(_child(_child(body, "spec"), "conversion"), "webhook")
        self._map_key(_child(_child(webhook, "clientConfig"), "service") or {}, "namespace")

    def _network_policy(self, body: Json) -> None:
        spec = _child(body, "spec") or {}
        for rule, peers in (("ingress", "from"), ("egress", "to")):
            for entry in _dicts(spec.get(rule)):
                for peer in _dicts(entry.get(peers)):
                    self._selector(_child(peer, "namespaceSelector"))

    def _pod_spec(self, pod_spec: Json) -> None:
        affinity = _child(pod_spec, "affinity") or {}
        for kind in ("podAffinity", "podAntiAffinity"):
            terms = _child(affinity, kind) or {}
            required = _dicts(terms.get("requiredDuringSchedulingIgnoredDuringExecution"))
            preferred = [
                _child(weighted, "podAffinityTerm") or {}
                for weighted in _dicts(terms.get("preferredDuringSchedulingIgnoredDuringExecution"))
            ]
            for term in (*required, *preferred):
                names = term.get("namespaces")
                if isinstance(names, list):
                    term["namespaces"] = [self.namespace(n) if isinstance(n, str) else n for n in names]
                self._selector(_child(term, "namespaceSelector"))

    def _selector(self, selector: Json | None) -> None:
        """Rewrite a namespaceSelector that names namespaces by ``kubernetes.io/metadata.name``."""
        if selector is None:
            return
        self._map_key(_child(selector, "matchLabels") or {}, NAME_LABEL)
        for expression in _dicts(selector.get("matchExpressions")):
            values = expression.get("values")
            if expression.get("key") == NAME_LABEL and isinstance(values, list):
                expression["values"] = [self.namespace(v) if isinstance(v, str) else v for v in values]


def _child(parent: Json | None, key: str) -> Json | None:
    value = parent.get(key) if parent is not None else None
    return value if isinstance(value, dict) else None


def _dicts(value: object) -> list[Json]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _pod_specs(body: Json) -> Iterator[Json]:
    """The pod specs an object carries: a Pod's own, a template's, a CronJob's job template's."""
    spec = _child(body, "spec")
    if spec is None:
        return
    if body.get("kind") == "Pod":
        yield spec
    template = _child(_child(spec, "template"), "spec")
    if template is not None:
        yield template
    job_template = _child(_child(_child(_child(spec, "jobTemplate"), "spec"), "template"), "spec")
    if job_template is not None:
        yield job_template


_RULES: Mapping[GroupResource, Callable[[NamespaceMapping, Json], None]] = {
    kinds.ROLE_BINDINGS: NamespaceMapping._subjects,
    kinds.CLUSTER_ROLE_BINDINGS: NamespaceMapping._subjects,
    kinds.PERSISTENT_VOLUMES: NamespaceMapping._claim_ref,
    kinds.PERSISTENT_VOLUME_CLAIMS: NamespaceMapping._data_source,
    kinds.ENDPOINTS: NamespaceMapping._endpoints,
    kinds.ENDPOINT_SLICES: NamespaceMapping._endpoint_slice,
    kinds.API_SERVICES: NamespaceMapping._api_service,
    kinds.CRDS: NamespaceMapping._crd,
    _NETWORK_POLICIES: NamespaceMapping._network_policy,
    **dict.fromkeys(_WEBHOOK_CONFIGURATIONS, NamespaceMapping._webhooks),
}
