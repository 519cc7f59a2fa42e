"""Where informers get objects from: the :class:`ListWatcher` Protocol and its vocabulary.

The runtime never talks to a Kubernetes client directly. A reflector needs
two calls on one resource (one kind, optionally one namespace or selector,
fixed when the adapter is built):

* ``await list(limit=, continue_token=, resource_version=)`` -- one page of
  a LIST. ``limit=0`` means "no limit"; ``continue_token=""`` means the
  first page; ``resource_version`` is sent as given (``"0"``: any version,
  from the watch cache; ``""``: a quorum read; otherwise "at least as fresh
  as"). Continuation pages are requested with ``resource_version=""``, as
  the API server requires.
* ``watch(resource_version=, timeout_seconds=)`` -- an async iterator of
  :class:`WatchEvent` starting *after* ``resource_version``, with
  ``allowWatchBookmarks=true`` always on. It ends when the server closes
  the stream (normally after ``timeout_seconds``).

Both raise only :mod:`k8ssnap.errors`: :class:`~k8ssnap.errors.Gone` for
410 (the version was compacted), :class:`~k8ssnap.errors.RetriableError`
subclasses for lost connections, 5xx and 429, other
:class:`~k8ssnap.errors.PermanentError` subclasses otherwise. A watch may
also deliver a 410 as an ``ERROR`` event whose object is a ``Status``;
:func:`error_from_status` maps that object to the same classes.

Objects are raw JSON dicts exactly as the API returned them. They are
shared by reference between the cache and every handler: never modify one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from k8ssnap import errors

ADDED: Final = "ADDED"
MODIFIED: Final = "MODIFIED"
DELETED: Final = "DELETED"
BOOKMARK: Final = "BOOKMARK"
ERROR: Final = "ERROR"
EVENT_TYPES: Final = frozenset({ADDED, MODIFIED, DELETED, BOOKMARK, ERROR})


@dataclass(frozen=True, slots=True)
class ListPage:
    """One page of a LIST: the items, the list's resourceVersion and the continue token."""

    items: list[dict[str, Any]]
    resource_version: str
    continue_token: str = ""


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One watch event: ``type`` is one of :data:`EVENT_TYPES`."""

    type: str
    object: dict[str, Any] = field(default_factory=dict)


class ListWatcher(Protocol):
    """LIST and WATCH of one resource; see the module docstring for the contract."""

    async def list(self, *, limit: int, continue_token: str, resource_version: str) -> ListPage:
        """One page of a LIST."""
        ...

    def watch(self, *, resource_version: str, timeout_seconds: int) -> AsyncIterator[WatchEvent]:
        """Events after ``resource_version``, with bookmarks, until the server ends the stream."""
        ...


@dataclass(frozen=True, slots=True, order=True)
class ObjectKey:
    """Identity of an object within one kind: namespace (``""`` if cluster-scoped) and name.

    The UID is deliberately not part of the key: a deleted and re-created
    object is the same key, which is what level-based reconciling wants.
    """

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


def key_of(obj: dict[str, Any]) -> ObjectKey:
    """The :class:`ObjectKey` of a raw object (from its metadata)."""
    meta = obj.get("metadata") or {}
    return ObjectKey(namespace=str(meta.get("namespace") or ""), name=str(meta.get("name") or ""))


def resource_version_of(obj: dict[str, Any]) -> str:
    """``metadata.resourceVersion`` of a raw object, or ``""``."""
    meta = obj.get("metadata") or {}
    return str(meta.get("resourceVersion") or "")


def error_from_status(status: dict[str, Any]) -> errors.K8sSnapError:
    """The :mod:`k8ssnap.errors` exception for a ``Status`` object (a watch ERROR event)."""
    code = status.get("code")
    reason = str(status.get("message") or status.get("reason") or "watch error")
    if code == 410 or status.get("reason") in ("Expired", "Gone"):
        return errors.Gone(reason)
    if isinstance(code, int) and (code == 429 or code >= 500):
        return errors.ApiRetriable(reason)
    by_code: dict[int, type[errors.ApiError]] = {
        401: errors.Unauthorized,
        403: errors.Forbidden,
        404: errors.NotFound,
    }
    if isinstance(code, int) and code in by_code:
        return by_code[code](reason)
    return errors.Invalid(reason)
