"""PlanFacts: the few cross-object facts a restore plan needs, gathered in one pass.

An archive can hold 100k objects, so the restore never keeps them all.
It streams the archive once through :func:`~k8ssnap.domain.tiers.classify`
and :meth:`PlanFacts.observe`, which remembers only small facts:

* which Services have a selector (of every archived Service, restored or not:
  a Service with a selector owns its Endpoints either way);
* which Namespaces are restored; with a label selector, a Namespace is
  restored when it matches the selector itself or a selected object lives
  in it (so a selector never leaves an empty namespace behind);
* each restored ClusterRoleBinding's ServiceAccount namespaces, whether it
  has User or Group subjects (kept with ``wholeCluster``), and its roleRef,
  and which ClusterRoles restored RoleBindings refer to;
* which volumes restored claims use, and which volumes are archived.

Contract: observe everything first, then query. The first query seals the
facts (derived sets are computed once); observing after that raises
RuntimeError rather than answering from stale derived data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from k8ssnap.domain import kinds, volumes
from k8ssnap.domain.fields import at, has_spec, items, mapping, name, namespace, spec, text
from k8ssnap.domain.intrinsic import intrinsic_reason
from k8ssnap.domain.preference import Preference
from k8ssnap.domain.tiers import Classified, Tiered

_CLUSTER_ROLE = "ClusterRole"
_SERVICE_ACCOUNT = "ServiceAccount"
_PEOPLE = frozenset({"User", "Group"})


@dataclass(frozen=True, slots=True)
class _Binding:
    namespace: str  # "" for a ClusterRoleBinding
    service_account_namespaces: frozenset[str]
    cluster_role: str  # "" when roleRef is not a ClusterRole
    people: bool = False  # has User or Group subjects


@dataclass(frozen=True, slots=True)
class _Derived:
    namespaces: frozenset[str]
    cluster_role_bindings: frozenset[str]
    cluster_roles: frozenset[str]
    claimed_volumes: frozenset[str]


class PlanFacts:
    """Accumulates facts from classified objects; answers the exclusion rules' questions."""

    __slots__ = (
        "_claims",
        "_cluster_bindings",
        "_derived",
        "_namespaces",
        "_populated",
        "_preference",
        "_role_bindings",
        "_selector_services",
        "_volumes",
    )

    def __init__(self, *, preference: Preference) -> None:
        self._preference = preference
        self._selector_services: set[tuple[str, str]] = set()
        self._namespaces: dict[str, bool] = {}  # restored Namespace -> matches the selector
        self._populated: set[str] = set()  # namespaces holding a tiered object
        self._cluster_bindings: dict[str, _Binding] = {}
        self._role_bindings: list[_Binding] = []
        self._claims: dict[str, list[str | None]] = {}
        self._volumes: dict[str, bool] = {}
        self._derived: _Derived | None = None

    def observe(self, item: Classified) -> None:
        """Record what ``item`` contributes. Call for every classified object."""
        if self._derived is not None:
            raise RuntimeError("PlanFacts is sealed: observe every object before querying")
        resource, obj = item.ref.group_resource, item.obj
        if resource == kinds.SERVICES and mapping(spec(obj).get("selector")):
            self._selector_services.add((namespace(obj), name(obj)))
        if not isinstance(item, Tiered) or intrinsic_reason(item.ref, obj) is not None:
            return
        if resource == kinds.NAMESPACES:
            self._namespaces[item.ref.name] = self._preference.selects(obj)
            return
        if item.ref.namespace is not None:
            self._populated.add(item.ref.namespace)
        if resource in (kinds.CLUSTER_ROLE_BINDINGS, kinds.ROLE_BINDINGS):
            self._observe_binding(item)
        elif resource == kinds.PERSISTENT_VOLUME_CLAIMS:
            problem = volumes.claim_problem(obj, self._preference)
            self._claims.setdefault(volumes.claim_volume(obj), []).append(problem)
        elif resource == kinds.PERSISTENT_VOLUMES:
            self._volumes[item.ref.name] = has_spec(obj)

    @property
    def whole_cluster(self) -> bool:
        """Whether the preference asks for whole-cluster recovery (``restoreOptions: [wholeCluster]``)."""
        return self._preference.whole_cluster

    def service_has_selector(self, namespace: str, name: str) -> bool:
        """Whether the archive holds Service ``namespace/name`` with a selector."""
        self._sealed()
        return (namespace, name) in self._selector_services

    def namespace_restored(self, name: str) -> bool:
        """Whether Namespace ``name`` is restored (in the archive, not excluded, selected)."""
        return name in self._sealed().namespaces

    def cluster_role_binding_kept(self, name: str) -> bool:
        """Whether a ServiceAccount subject lives in a restored namespace.

        With ``wholeCluster``, a binding with User or Group subjects is kept too.
        """
        return name in self._sealed().cluster_role_bindings

    def cluster_role_kept(self, name: str) -> bool:
        """Whether a kept ClusterRoleBinding, or a RoleBinding in a restored namespace, uses it."""
        return name in self._sealed().cluster_roles

    def claim_reason(self, claim: Mapping[str, Any]) -> str | None:
        """Why a claim is not restored (its own checks, then its volume's), or None."""
        self._sealed()
        problem = volumes.claim_problem(claim, self._preference)
        return problem or self._volume_problem(volumes.claim_volume(claim))

    def volume_reason(self, name: str) -> str | None:
        """Why the volume ``name`` is not restored, or None when it is."""
        sealed = self._sealed()
        if not self._volumes.get(name, True):
            return volumes.NO_PV_SPEC
        return None if name in sealed.claimed_volumes else volumes.PVC_NOT_RESTORED

    def _observe_binding(self, item: Tiered) -> None:
        obj = item.obj
        role = at(obj, "roleRef")
        cluster_role = text(role.get("name")) if role.get("kind") == _CLUSTER_ROLE else ""
        subjects = [mapping(s) for s in items(obj.get("subjects"))]
        accounts = frozenset(text(s.get("namespace")) for s in subjects if s.get("kind") == _SERVICE_ACCOUNT)
        people = any(s.get("kind") in _PEOPLE for s in subjects)
        binding = _Binding(item.ref.namespace or "", accounts, cluster_role, people)
        if item.ref.group_resource == kinds.CLUSTER_ROLE_BINDINGS:
            self._cluster_bindings[item.ref.name] = binding
        elif cluster_role:
            self._role_bindings.append(binding)

    def _sealed(self) -> _Derived:
        if self._derived is None:
            self._derived = self._derive()
        return self._derived

    def _derive(self) -> _Derived:
        selecting = self._preference.label_selector is not None
        namespaces = frozenset(
            name
            for name, selected in self._namespaces.items()
            if not selecting or selected or name in self._populated
        )
        people = self._preference.whole_cluster
        kept_bindings = {
            binding_name: binding
            for binding_name, binding in self._cluster_bindings.items()
            if binding.service_account_namespaces & namespaces or (people and binding.people)
        }
        roles = {b.cluster_role for b in kept_bindings.values()} | {
            b.cluster_role for b in self._role_bindings if b.namespace in namespaces
        }
        claimed = {
            volume
            for volume, problems in self._claims.items()
            if None in problems and self._volume_problem(volume) is None
        }
        return _Derived(
            namespaces=namespaces,
            cluster_role_bindings=frozenset(kept_bindings),
            cluster_roles=frozenset(roles - {""}),
            claimed_volumes=frozenset(claimed),
        )

    def _volume_problem(self, volume: str) -> str | None:
        if volume not in self._volumes:
            return volumes.PV_NOT_FOUND
        return None if self._volumes[volume] else volumes.NO_PV_SPEC
