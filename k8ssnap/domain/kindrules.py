"""KindRule: ``includeKinds`` / ``excludeKinds`` entries, written ``resource.group``.

The format is Velero's ``includedResources`` without discovery, so it is
decided from the archive alone, whatever version an object was archived at:

* ``deployments.apps``, ``widgets.example.com``: that resource of that group;
* ``configmaps`` (no dot): that resource of the **core** group;
* ``*.example.com``: every resource of a group; ``*``: everything;
* the resource part may also be the kind, in any case (``Deployment.apps``,
  ``ConfigMap``), because people write kinds.

Matching is case-insensitive. Entries are trimmed; empty entries are ignored
by the preference parser.
"""

from __future__ import annotations

from dataclasses import dataclass

from k8ssnap.domain.paths import ObjectRef

_ANY = "*"


@dataclass(frozen=True, slots=True)
class KindRule:
    """One parsed entry: a resource (or kind, or ``*``) and a group (``""`` is core)."""

    resource: str
    group: str | None  # None: any group (the entry was "*")

    @classmethod
    def parse(cls, entry: str) -> KindRule:
        """Parse ``resource.group``, ``resource`` (core), ``*.group`` or ``*``."""
        lowered = entry.strip().lower()
        if lowered == _ANY:
            return cls(_ANY, None)
        resource, _, group = lowered.partition(".")
        return cls(resource, group)

    def matches(self, ref: ObjectRef, *, kind: str = "") -> bool:
        """Whether the object at ``ref`` (of ``kind``, if known) is named by this rule."""
        if self.group is not None and self.group != ref.group.lower():
            return False
        if self.resource in (_ANY, ref.resource.lower()):
            return True
        return bool(kind) and self.resource == kind.lower()

    def __str__(self) -> str:
        if self.group is None:
            return _ANY
        return f"{self.resource}.{self.group}" if self.group else self.resource
