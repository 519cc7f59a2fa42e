"""RestorePreference: which archived objects a restore may consider at all.

The spec fields and their formats are k8s-snap's (README table). Matching
is defined here once; ``docs/restore-rules.md`` describes it for users.

* Namespaces match **exactly**. k8s-snap matched substrings, so ``kube``
  also excluded ``kube-system`` and ``my-kube-app``; that flaw is fixed.
* CRDs match when the CRD's name **contains** the entry.
* API path rules are ``"prefix"`` or ``"prefix,contains"``. A contains-part
  of ``*`` or empty matches anything: k8s-snap's sample preference used
  ``/apis/apps,*`` and never matched, because ``*`` was taken literally.
* Include lists (k8s-snap's TODO) mean "only these" when non-empty, and
  every exclude wins over every include.
* Namespace objects are governed by the namespace lists and the exclude
  rules only, not by ``includeApiPathes`` or ``includeKinds``: a prefix rule
  cannot name a Namespace object without also naming everything inside it.
* ``includeKinds`` / ``excludeKinds`` name ``resource.group`` (see
  :mod:`k8ssnap.domain.kindrules`); ``labelSelector`` is a standard selector
  (:mod:`k8ssnap.domain.labelselector`). The selector applies to every object
  except Namespace objects, which are restored when something selected lives
  in them (decided later, by :class:`~k8ssnap.domain.facts.PlanFacts`).
* ``namespaceMapping`` (:mod:`k8ssnap.domain.namespacemap`) is applied after
  every rule here: the rules see the archived namespaces.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from k8ssnap.domain import kinds
from k8ssnap.domain.fields import labels_of, mapping, text
from k8ssnap.domain.kindrules import KindRule
from k8ssnap.domain.labelselector import LabelSelector
from k8ssnap.domain.namespacemap import NamespaceMapping
from k8ssnap.domain.paths import ObjectRef

DEFAULT_APP_API_PATHS = (
    "/apis/apps/,/deployments/",
    "/apis/apps/,/statefulsets/",
    "/apis/apps/,/daemonsets/",
    "/apis/apps/,/replicasets/",
    "/apis/batch/,/jobs/",
    "/apis/batch/,/cronjobs/",
)

_ANY = "*"

OVERWRITE_EXISTING = "overwriteExisting"
WHOLE_CLUSTER = "wholeCluster"


@dataclass(frozen=True, slots=True)
class ApiPathRule:
    """A ``"prefix"`` or ``"prefix,contains"`` rule on API paths."""

    prefix: str
    contains: str | None = None

    @classmethod
    def parse(cls, rule: str) -> ApiPathRule:
        """Parse the preference format; the first comma splits prefix from contains."""
        prefix, comma, contains = rule.partition(",")
        if not comma or contains in ("", _ANY):
            return cls(prefix.strip())
        return cls(prefix.strip(), contains.strip())

    def matches(self, path: str) -> bool:
        """Whether ``path`` starts with the prefix and contains the contains-part."""
        if not path.startswith(self.prefix):
            return False
        return self.contains is None or self.contains in path

    def __str__(self) -> str:
        return self.prefix if self.contains is None else f"{self.prefix},{self.contains}"


def match_api_path(rule: str, path: str) -> bool:
    """Whether ``path`` matches a rule written ``"prefix"`` or ``"prefix,contains"``."""
    return ApiPathRule.parse(rule).matches(path)


@dataclass(frozen=True, slots=True, kw_only=True)
class Preference:
    """A parsed RestorePreference spec. Construct with :meth:`from_spec` or :meth:`default`."""

    exclude_namespaces: frozenset[str] = frozenset()
    exclude_crds: tuple[str, ...] = ()
    exclude_api_paths: tuple[ApiPathRule, ...] = ()
    include_namespaces: frozenset[str] = frozenset()
    include_crds: tuple[str, ...] = ()
    include_api_paths: tuple[ApiPathRule, ...] = ()
    restore_app_api_paths: tuple[ApiPathRule, ...] = field(
        default_factory=lambda: tuple(ApiPathRule.parse(r) for r in DEFAULT_APP_API_PATHS)
    )
    restore_nfs_storage_classes: tuple[str, ...] = ()
    overwrite_existing: bool = False
    whole_cluster: bool = False
    include_kinds: tuple[KindRule, ...] = ()
    exclude_kinds: tuple[KindRule, ...] = ()
    label_selector: LabelSelector | None = None
    namespace_mapping: NamespaceMapping = field(default_factory=NamespaceMapping)

    @classmethod
    def default(cls) -> Preference:
        """No preference: nothing excluded, default app paths, no PV rebinding."""
        return cls()

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Preference:
        """Parse a RestorePreference ``spec``; unknown fields are ignored.

        ``restoreAppApiPathes`` falls back to :data:`DEFAULT_APP_API_PATHS`
        only when absent; an explicit empty list means "no app tier".
        Raises ValueError, naming the field, for a malformed
        ``labelSelector`` or ``namespaceMapping`` (the api layer checks
        both first and reports a ConfigError).
        """
        apps = spec.get("restoreAppApiPathes")
        selector = spec.get("labelSelector")
        return cls(
            exclude_namespaces=frozenset(_strings(spec.get("excludeNamespaces"))),
            exclude_crds=_strings(spec.get("excludeCRDs")),
            exclude_api_paths=_rules(spec.get("excludeApiPathes")),
            include_namespaces=frozenset(_strings(spec.get("includeNamespaces"))),
            include_crds=_strings(spec.get("includeCRDs")),
            include_api_paths=_rules(spec.get("includeApiPathes")),
            restore_app_api_paths=(_rules(DEFAULT_APP_API_PATHS) if apps is None else _rules(apps)),
            restore_nfs_storage_classes=_strings(spec.get("restoreNfsStorageClasses")),
            overwrite_existing=_option(spec.get("restoreOptions"), OVERWRITE_EXISTING),
            whole_cluster=_option(spec.get("restoreOptions"), WHOLE_CLUSTER),
            include_kinds=tuple(KindRule.parse(s) for s in _strings(spec.get("includeKinds"))),
            exclude_kinds=tuple(KindRule.parse(s) for s in _strings(spec.get("excludeKinds"))),
            label_selector=None if selector is None else LabelSelector.parse(selector),
            namespace_mapping=NamespaceMapping.parse(spec.get("namespaceMapping")),
        )

    def exclusion(self, ref: ObjectRef) -> str | None:
        """Why the preference rules out the object at ``ref``, or None to keep it.

        The answer names the rule (for logs and tests); a restore only counts
        these in ``numPreferenceExcluded``. Excludes are checked first, so
        they win over includes.
        """
        return self._excluded(ref) or self._not_included(ref)

    def object_exclusion(self, ref: ObjectRef, obj: Mapping[str, Any]) -> str | None:
        """:meth:`exclusion`, then the rules that read the object: kinds and the label selector.

        Namespace objects are exempt from ``includeKinds`` and the selector
        (see the module docstring); ``excludeKinds`` can name them.
        """
        rule = self.exclusion(ref)
        if rule is not None:
            return rule
        kind = text(obj.get("kind"))
        if any(k.matches(ref, kind=kind) for k in self.exclude_kinds):
            return "exclude-kinds"
        if ref.group_resource == kinds.NAMESPACES:
            return None
        if self.include_kinds and not any(k.matches(ref, kind=kind) for k in self.include_kinds):
            return "include-kinds"
        if not self.selects(obj):
            return "label-selector"
        return None

    def selects(self, obj: Mapping[str, Any]) -> bool:
        """Whether the label selector (if any) matches ``obj``'s labels."""
        return self.label_selector is None or self.label_selector.matches(labels_of(obj))

    def namespace_allowed(self, namespace: str) -> bool:
        """Whether the namespace lists (only) allow ``namespace``."""
        if namespace in self.exclude_namespaces:
            return False
        return not self.include_namespaces or namespace in self.include_namespaces

    def is_app(self, path: str) -> bool:
        """Whether ``path`` belongs to the last tier (``restoreAppApiPathes``)."""
        return any(rule.matches(path) for rule in self.restore_app_api_paths)

    def nfs_storage_class(self, name: str) -> bool:
        """Whether a storage class name starts with a ``restoreNfsStorageClasses`` entry."""
        return any(name.startswith(prefix) for prefix in self.restore_nfs_storage_classes)

    def _excluded(self, ref: ObjectRef) -> str | None:
        namespace = _namespace_of(ref)
        if namespace is not None and namespace in self.exclude_namespaces:
            return "exclude-namespaces"
        if ref.group_resource == kinds.CRDS and any(c in ref.name for c in self.exclude_crds):
            return "exclude-crds"
        path = ref.path
        if any(rule.matches(path) for rule in self.exclude_api_paths):
            return "exclude-api-pathes"
        is_class = ref.group_resource == kinds.STORAGE_CLASSES
        if is_class and not self.whole_cluster and not self.nfs_storage_class(ref.name):
            return "storageclass-not-nfs"
        return None

    def _not_included(self, ref: ObjectRef) -> str | None:
        namespace = _namespace_of(ref)
        if self.include_namespaces and namespace not in (None, *self.include_namespaces):
            return "include-namespaces"
        is_crd = ref.group_resource == kinds.CRDS
        if is_crd and self.include_crds and not any(c in ref.name for c in self.include_crds):
            return "include-crds"
        rules = self.include_api_paths
        if rules and ref.group_resource != kinds.NAMESPACES:
            path = ref.path
            if not any(rule.matches(path) for rule in rules):
                return "include-api-pathes"
        return None


def _namespace_of(ref: ObjectRef) -> str | None:
    """The namespace an object lives in, or is (for Namespace objects)."""
    if ref.group_resource == kinds.NAMESPACES:
        return ref.name
    return ref.namespace


def _option(options: object, name: str) -> bool:
    """``restoreOptions.<name>``; k8s-snap's list-of-names form is accepted too."""
    if isinstance(options, list | tuple):
        return name in options
    return mapping(options).get(name) is True


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        return ()
    return tuple(s for s in (text(v).strip() for v in value) if s)


def _rules(value: object) -> tuple[ApiPathRule, ...]:
    return tuple(ApiPathRule.parse(s) for s in _strings(value))
