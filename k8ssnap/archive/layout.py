"""Entry names inside an archive, for format version 1 and for k8s-snap's.

Every entry lives under ``<snapshot name>/``. Version 1 writes::

    <snap>/k8ssnap-format.json     first: {"format": "k8ssnap-archive", "version": 1}
    <snap><api path>.json          one per object, e.g. <snap>/api/v1/namespaces/foo.json
    <snap>/index.json              last: the ArchiveIndex

k8s-snap wrote objects at ``<snap><api path>.json`` too, except Namespaces
at ``<snap>/namespaces/<n>.json`` and CRDs at ``<snap>/crds/<n>.json``, and
ended with ``<snap>/snapshot.json`` (its Snapshot resource, kubeconfig
included). :func:`object_path` maps both forms to API paths; the reader
skips ``snapshot.json`` so the kubeconfig never leaves the archive.
"""

from __future__ import annotations

from typing import Final

import orjson

from k8ssnap.domain import names
from k8ssnap.domain.paths import parse_path
from k8ssnap.errors import ArchiveError

FORMAT_NAME: Final = "k8ssnap-archive"
FORMAT_VERSION: Final = 1
LEGACY_VERSION: Final = 0  # a k8s-snap archive: no marker, no index

MARKER: Final = "k8ssnap-format.json"
INDEX: Final = "index.json"
LEGACY_SNAPSHOT: Final = "snapshot.json"
SUFFIX: Final = ".json"

_LEGACY_NAMESPACES = "namespaces/"
_LEGACY_CRDS = "crds/"
_CRD_GROUP = "apiextensions.k8s.io"


def check_snapshot_name(name: str) -> str:
    """``name`` if it is a valid Kubernetes object name (DNS subdomain), else ValueError."""
    if not names.is_object_name(name):
        raise ValueError(f"invalid snapshot name {name!r}")
    return name


def entry_name(snapshot: str, path: str) -> str:
    """The tar entry name of the object at API ``path``."""
    return f"{snapshot}{path}{SUFFIX}"


def marker_name(snapshot: str) -> str:
    """The name of the format marker entry."""
    return f"{snapshot}/{MARKER}"


def index_name(snapshot: str) -> str:
    """The name of the index entry."""
    return f"{snapshot}/{INDEX}"


def split_entry(name: str) -> tuple[str, str]:
    """``(snapshot name, rest)`` of an entry name; ArchiveError if it has no prefix."""
    snapshot, slash, rest = name.partition("/")
    if not snapshot or not slash or not rest:
        raise ArchiveError(f"archive entry {name!r} is not under a snapshot directory")
    return snapshot, rest


def object_path(rest: str, body: bytes) -> str:
    """The API path of an object entry, given its name below ``<snap>/``.

    Accepts both layouts; ``body`` is read only for a legacy ``crds/`` entry,
    whose version is in the object's ``apiVersion``. Raises ArchiveError for
    a name that is no object entry.
    """
    if not rest.endswith(SUFFIX):
        raise ArchiveError(f"unexpected archive entry {rest!r}")
    stem = rest[: -len(SUFFIX)]
    if stem.startswith(_LEGACY_NAMESPACES):
        path = f"/api/v1/namespaces/{stem[len(_LEGACY_NAMESPACES) :]}"
    elif stem.startswith(_LEGACY_CRDS):
        version = _crd_version(body, rest)
        path = f"/apis/{_CRD_GROUP}/{version}/customresourcedefinitions/{stem[len(_LEGACY_CRDS) :]}"
    else:
        path = f"/{stem}"
    try:
        parse_path(path)
    except ValueError as error:
        raise ArchiveError(f"archive entry {rest!r} is not an object path: {error}") from None
    return path


def _crd_version(body: bytes, rest: str) -> str:
    try:
        api_version = orjson.loads(body).get("apiVersion")
    except (orjson.JSONDecodeError, AttributeError):
        api_version = None
    group, slash, version = str(api_version).partition("/")
    if group != _CRD_GROUP or not slash or not version:
        raise ArchiveError(f"archive entry {rest!r} is not a CustomResourceDefinition")
    return version
