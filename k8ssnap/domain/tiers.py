"""Restore tiers and the first, per-object classification of archived objects.

A restore creates objects tier by tier so that what an object needs exists
before it: namespaces before anything namespaced, CRDs before custom
resources, storage before claims' users, identities and configuration
before workloads, and the workloads themselves (``restoreAppApiPathes``)
last so their pods start against a complete namespace. Objects inside one
tier do not depend on each other and may be created concurrently.

:func:`classify` looks at one object alone, so it runs in the streaming
pass over the archive. Cross-object rules come later (``exclusion``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from k8ssnap.domain import kinds
from k8ssnap.domain.paths import GroupResource, ObjectRef, parse_path
from k8ssnap.domain.preference import Preference


class Tier(enum.IntEnum):
    """Restore order, first to last."""

    NAMESPACES = 1
    CRDS = 2
    STORAGE = 3
    IDENTITY = 4
    GENERAL = 5
    APPS = 6


FIXED_TIERS: Mapping[GroupResource, Tier] = {
    kinds.NAMESPACES: Tier.NAMESPACES,
    kinds.CRDS: Tier.CRDS,
    kinds.STORAGE_CLASSES: Tier.STORAGE,
    kinds.PERSISTENT_VOLUMES: Tier.STORAGE,
    kinds.PERSISTENT_VOLUME_CLAIMS: Tier.STORAGE,
    kinds.ROLES: Tier.IDENTITY,
    kinds.CLUSTER_ROLES: Tier.IDENTITY,
    kinds.ROLE_BINDINGS: Tier.IDENTITY,
    kinds.CLUSTER_ROLE_BINDINGS: Tier.IDENTITY,
    kinds.SERVICE_ACCOUNTS: Tier.IDENTITY,
    kinds.SECRETS: Tier.IDENTITY,
    kinds.CONFIG_MAPS: Tier.IDENTITY,
}


@dataclass(frozen=True, slots=True)
class Tiered:
    """An object the preference lets through, with the tier to restore it in."""

    path: str
    ref: ObjectRef
    obj: Mapping[str, Any]
    tier: Tier


@dataclass(frozen=True, slots=True)
class PreferenceExcluded:
    """An object the preference rules out; ``rule`` names the rule.

    The object is kept because some facts are about the snapshot as a whole
    (a Service with a selector still owns its Endpoints even if the Service
    itself is not restored).
    """

    path: str
    ref: ObjectRef
    obj: Mapping[str, Any]
    rule: str


Classified = Tiered | PreferenceExcluded


def tier_of(ref: ObjectRef, preference: Preference) -> Tier:
    """The tier of an object; the fixed kinds win over ``restoreAppApiPathes``."""
    fixed = FIXED_TIERS.get(ref.group_resource)
    if fixed is not None:
        return fixed
    return Tier.APPS if preference.is_app(ref.path) else Tier.GENERAL


def classify(path: str, obj: Mapping[str, Any], preference: Preference) -> Classified:
    """Apply the preference to one archived object and give it a tier.

    Raises ValueError if ``path`` is not an object path.
    """
    ref = parse_path(path)
    rule = preference.object_exclusion(ref, obj)
    if rule is not None:
        return PreferenceExcluded(path, ref, obj, rule)
    return Tiered(path, ref, obj, tier_of(ref, preference))
