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

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from k8ssnap import errors

ADDED: Final = "ADDED"
MODIFIED: Final = "MODIFIED"
DELETED: Final = "DELETED"
BOOKMARK: Final = "BOOKMARK"
ERROR: Final = "ERROR"
EVENT_TYPES: Final = frozenset({ADDED, MODIFIED, DELETED, BOOKMARK, ERROR})
_MAX_MESSAGE = 500


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


def error_from_status(
    status: Mapping[str, Any], *, code: int | None = None, what: str = ""
) -> errors.ApiError:
    """The one mapping of a Kubernetes ``Status`` to :mod:`k8ssnap.errors`.

    Used for watch ``ERROR`` events (``status`` alone) and, through
    :mod:`k8ssnap.kube.errormap`, for every non-2xx answer (``code`` is the
    HTTP status; ``what`` names the request, e.g. ``"GET /api/v1/..."``).
    A 409 is :class:`~k8ssnap.errors.AlreadyExists` when the Status reason
    says so, else an optimistic-concurrency :class:`~k8ssnap.errors.Conflict`.
    """
    raw_code = status.get("code") if code is None else code
    number = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else 0
    reason = str(status.get("reason") or "")
    message = str(status.get("message") or "")[:_MAX_MESSAGE]
    text = message or reason or (f"HTTP {number}" if number else "watch error")
    if number == 410 or reason in ("Expired", "Gone"):
        return errors.Gone(text)
    if number == 401:
        return errors.Unauthorized(f"Unauthorized: the API server refused the credentials ({what or text})")
    if number == 403:
        return errors.Forbidden(f"Forbidden: {text}")
    if number == 404:
        return errors.NotFound(text)
    if number == 409:
        return errors.AlreadyExists(text) if reason == "AlreadyExists" else errors.Conflict(text)
    if number == 429 or number >= 500:
        return errors.ApiRetriable(f"{what}: HTTP {number}: {text}" if what else text)
    return errors.Invalid(text)
