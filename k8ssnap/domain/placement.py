"""Placement: where an archived object goes on the destination, and the body it is sent as.

This is the last, pure step of a restore plan, after every exclusion
decision (which all see the *archived* object):

1. :func:`~k8ssnap.domain.transform.transform` strips what the source's
   server set;
2. :class:`~k8ssnap.domain.namespacemap.NamespaceMapping` moves the object,
   and every namespace reference in it, to its destination namespace;
3. :func:`convert` moves it to another served version of the same group and
   kind when the destination does not serve the archived one.

Result lists (``created``, ``alreadyExisted``...) carry the destination
path, so a mapped or converted object is reported where it now lives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from k8ssnap.domain.fields import text
from k8ssnap.domain.paths import ApiResource, ObjectRef, parse_path
from k8ssnap.domain.preference import Preference
from k8ssnap.domain.selection import DiscoveredGroup, version_priority
from k8ssnap.domain.transform import Json, transform


@dataclass(frozen=True, slots=True)
class Placement:
    """The destination identity (at the archived version) and the body to send."""

    ref: ObjectRef
    body: Json
    kind: str


def place(path: str, obj: Mapping[str, Any], preference: Preference) -> Placement:
    """Transform and map the archived ``obj`` at ``path``; never changes ``obj``."""
    ref = parse_path(path)
    body = transform(path, obj)
    mapping = preference.namespace_mapping
    mapping.apply(ref, body)
    return Placement(mapping.ref(ref), body, text(obj.get("kind")))


def counterpart(
    groups: Iterable[DiscoveredGroup], *, group: str, resource: str, kind: str
) -> ApiResource | None:
    """The destination's version of ``group``'s ``kind`` (or ``resource``), or None.

    The group's preferred version wins when it serves the kind; otherwise the
    highest-priority version that does (GA > beta > alpha). The kind decides
    when it is known, because a kind keeps its name across versions; the
    resource name is the fallback for objects without a ``kind``.
    """
    found: dict[str, ApiResource] = {}
    preferred = ""
    for served_group in groups:
        if served_group.name != group:
            continue
        preferred = served_group.preferred_version
        for served in served_group.versions:
            for candidate in served.resources:
                if (candidate.kind == kind) if kind else (candidate.resource == resource):
                    found[served.version] = candidate
    if not found:
        return None
    if preferred in found:
        return found[preferred]
    return found[min(found, key=version_priority)]


def convert(placement: Placement, resource: ApiResource) -> tuple[Placement, str]:
    """``placement`` sent as ``resource``'s group-version; the note says from what to what.

    The body is re-labelled (``apiVersion``), not rewritten: Kubernetes keeps
    one schema per kind across served versions in most cases, and where it
    does not, the server refuses the object and that object fails with the
    server's reason.
    """
    ref = placement.ref
    before = ref.group_version
    body = dict(placement.body)
    body["apiVersion"] = resource.group_version
    moved = replace(ref, version=resource.version, resource=resource.resource)
    note = f"converted from {before} to {resource.group_version}"
    return Placement(moved, body, placement.kind), note
