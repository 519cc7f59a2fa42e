"""Target: what the destination cluster serves, looked up per archived object.

Objects are created at the collection the *destination's* discovery
reports for the archived group, version and resource. k8s-snap failed the
whole restore when the destination did not serve a kind; here only that
kind's objects fail, each with a reason naming what is missing.

An archived group-version the destination no longer (or not yet) serves
is sent at the destination's version of the same group and kind
(:func:`~k8ssnap.domain.placement.counterpart`); the restore records the
conversion. Only a kind missing from the group altogether fails.

Discovery is read once before the first tier and again after the CRD tier
(custom resources become servable then); lookups go through a dict, so
they cost nothing per object.
"""

from __future__ import annotations

from collections.abc import Iterable

from k8ssnap.domain.paths import ApiResource, ObjectRef, object_path
from k8ssnap.domain.placement import Placement, convert, counterpart
from k8ssnap.kube.discovery import Discovery

_Key = tuple[str, str, str]


class Unserved(Exception):
    """The destination cannot take this object; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Target:
    """A lookup table over one discovery of the destination cluster."""

    __slots__ = ("_discovery", "_resources")

    def __init__(self, discovery: Discovery) -> None:
        self._discovery = discovery
        self._resources: dict[_Key, ApiResource] = {
            (resource.group, resource.version, resource.resource): resource
            for group in discovery.groups
            for served in group.versions
            for resource in served.resources
        }

    def serves(self, keys: Iterable[_Key]) -> bool:
        """Whether every ``(group, version, resource)`` in ``keys`` is served."""
        return all(key in self._resources for key in keys)

    def resource(self, ref: ObjectRef) -> ApiResource:
        """The served resource for ``ref``; :class:`Unserved` if there is none or its scope differs."""
        found = self._resources.get((ref.group, ref.version, ref.resource))
        if found is None:
            raise Unserved(f"the cluster does not serve {ref.group_resource}/{ref.version}")
        if found.namespaced != (ref.namespace is not None):
            scope = "namespaced" if found.namespaced else "cluster-scoped"
            raise Unserved(f"the cluster serves {ref.group_resource}/{ref.version} as {scope}")
        return found

    def resolve(self, placement: Placement) -> tuple[Placement, str | None]:
        """``placement`` at a version the destination serves, and a ``converted from`` note if moved.

        Unchanged when the archived group-version is served, or when no other
        version of the kind is (:meth:`resource` then reports it unserved).
        """
        ref = placement.ref
        if (ref.group, ref.version, ref.resource) in self._resources:
            return placement, None
        other = counterpart(
            self._discovery.groups, group=ref.group, resource=ref.resource, kind=placement.kind
        )
        if other is None or other.version == ref.version:
            return placement, None
        return convert(placement, other)

    def path(self, ref: ObjectRef) -> tuple[ApiResource, str]:
        """The served resource and the object's path on the destination."""
        resource = self.resource(ref)
        try:
            return resource, object_path(resource, namespace=ref.namespace, name=ref.name)
        except ValueError as error:
            raise Unserved(str(error)) from None
