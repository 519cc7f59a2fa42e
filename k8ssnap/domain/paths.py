"""Object identity: API resources and the API paths of objects.

An object's API path is its identity everywhere in k8ssnap: in the archive,
in ``status.contents``, in the restore result lists and in preference rules.
The layout is k8s-snap's (and the kube-apiserver's)::

    /api/v1[/namespaces/<ns>]/<resource>/<name>                 core group
    /apis/<group>/<version>[/namespaces/<ns>]/<resource>/<name> named groups

so a Namespace object is ``/api/v1/namespaces/<n>``. Paths hold raw,
unescaped names: object names can never contain ``/`` or ``%`` and never
are ``.`` or ``..`` (apimachinery's path-segment rule), so a path splits
unambiguously on ``/``. Names may contain ``:`` (``system:node``); the kube
adapter URL-quotes whatever its HTTP client needs.
"""

from __future__ import annotations

from dataclasses import dataclass

CORE_PREFIX = "/api"
GROUP_PREFIX = "/apis"
NAMESPACES = "namespaces"


@dataclass(frozen=True, slots=True)
class GroupResource:
    """A resource independent of its version, e.g. ``deployments.apps``."""

    group: str
    resource: str

    def __str__(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource


@dataclass(frozen=True, slots=True)
class ApiResource:
    """One resource served at one group-version, as discovery reports it.

    ``resource`` is the plural (``deployments``); ``verbs`` are the
    discovery verbs. Subresources (``pods/log``) are not ApiResources.
    """

    group: str
    version: str
    resource: str
    kind: str
    namespaced: bool
    verbs: frozenset[str] = frozenset()

    @property
    def group_version(self) -> str:
        """``v1`` for the core group, else ``<group>/<version>``."""
        return group_version(self.group, self.version)

    @property
    def api_prefix(self) -> str:
        """``/api/v1`` for the core group, else ``/apis/<group>/<version>``."""
        return api_prefix(self.group, self.version)

    @property
    def group_resource(self) -> GroupResource:
        """The version-independent identity of this resource."""
        return GroupResource(self.group, self.resource)


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """A parsed object path. ``namespace`` is None for cluster-scoped objects."""

    group: str
    version: str
    resource: str
    namespace: str | None
    name: str

    @property
    def group_version(self) -> str:
        """``v1`` or ``<group>/<version>``."""
        return group_version(self.group, self.version)

    @property
    def group_resource(self) -> GroupResource:
        """The version-independent identity of the object's resource."""
        return GroupResource(self.group, self.resource)

    @property
    def path(self) -> str:
        """The API path this reference was parsed from."""
        return _join(api_prefix(self.group, self.version), self.namespace, self.resource, self.name)


def group_version(group: str, version: str) -> str:
    """``v1`` for the core group, else ``<group>/<version>``."""
    return f"{group}/{version}" if group else version


def api_prefix(group: str, version: str) -> str:
    """The URL prefix a group-version is served under."""
    return f"{GROUP_PREFIX}/{group}/{version}" if group else f"{CORE_PREFIX}/{version}"


def object_path(resource: ApiResource, *, namespace: str | None, name: str) -> str:
    """The API path of one object of ``resource``.

    Raises ValueError when the namespace does not fit the resource's scope
    or a segment is not a valid path segment, because such a path would
    silently name a different object.
    """
    if resource.namespaced != bool(namespace):
        scope = "namespaced" if resource.namespaced else "cluster-scoped"
        raise ValueError(f"{resource.group_resource} is {scope}; namespace={namespace!r}")
    _check_segment(name, "name")
    return _join(resource.api_prefix, namespace, resource.resource, name)


def collection_path(resource: ApiResource, namespace: str | None = None) -> str:
    """The path to LIST ``resource``: in one namespace, or across all of them."""
    if namespace is not None and not resource.namespaced:
        raise ValueError(f"{resource.group_resource} is cluster-scoped; namespace={namespace!r}")
    prefix = resource.api_prefix
    if namespace:
        _check_segment(namespace, "namespace")
        return f"{prefix}/{NAMESPACES}/{namespace}/{resource.resource}"
    return f"{prefix}/{resource.resource}"


def parse_path(path: str) -> ObjectRef:
    """Parse an object path; raise ValueError for anything else.

    Collection paths, subresource paths (``.../pods/x/status``) and paths
    with empty or ``.``/``..`` segments are rejected.
    """
    parts = path.split("/")
    if len(parts) < 2 or parts[0] != "":
        raise ValueError(f"not an API path: {path!r}")
    if parts[1] == "api" and len(parts) >= 3:
        group, version, rest = "", parts[2], parts[3:]
    elif parts[1] == "apis" and len(parts) >= 4:
        group, version, rest = parts[2], parts[3], parts[4:]
    else:
        raise ValueError(f"not an API path: {path!r}")
    for segment in (group or "core", version, *rest):
        _check_segment(segment, "segment", path=path)
    if len(rest) == 2:
        return ObjectRef(group, version, rest[0], None, rest[1])
    if len(rest) == 4 and rest[0] == NAMESPACES:
        return ObjectRef(group, version, rest[2], rest[1], rest[3])
    raise ValueError(f"not an object path: {path!r}")


def _join(prefix: str, namespace: str | None, resource: str, name: str) -> str:
    if namespace:
        return f"{prefix}/{NAMESPACES}/{namespace}/{resource}/{name}"
    return f"{prefix}/{resource}/{name}"


def _check_segment(segment: str, what: str, *, path: str | None = None) -> None:
    if segment in ("", ".", "..") or "/" in segment or "%" in segment:
        where = f" in {path!r}" if path is not None else ""
        raise ValueError(f"invalid {what} {segment!r}{where}")
