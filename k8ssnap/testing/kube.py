"""An in-memory :class:`~k8ssnap.kube.api.KubeApi`, in the style of client-go's fake clientset.

:class:`FakeKube` records every call (``get``, ``create``, ``replace``,
``merge_patch``, ``delete``, ``request``) as a :class:`Call`; ``get``
answers from :attr:`FakeKube.objects` (path -> object) or raises
:class:`~k8ssnap.errors.NotFound`; :meth:`FakeKube.fail` makes a path raise
a given error. Merge patches and deletes honour a ``resourceVersion``
precondition as the API server does (:class:`~k8ssnap.errors.Conflict`).
Events posted through it are read with :meth:`FakeKube.events`;
:meth:`FakeKube.writes` is every other write.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from k8ssnap import errors

EVENTS_SUFFIX = "/events"
_WRITES = ("create", "replace", "merge_patch", "delete")


@dataclass(frozen=True, slots=True)
class Call:
    """One call on the fake client: ``method`` is the KubeClient method's name."""

    method: str
    path: str
    body: Any = None


class FakeKube:
    """A KubeApi in memory; see the module docstring."""

    host = "https://fake-apiserver"

    def __init__(self, objects: Mapping[str, dict[str, Any]] | None = None) -> None:
        self.objects: dict[str, dict[str, Any]] = dict(objects or {})
        self.calls: list[Call] = []
        self._errors: dict[tuple[str | None, str], Exception] = {}
        self.intercept: Callable[[Call], Exception | None] | None = None
        """Asked about every call once it is recorded; an exception it returns is raised
        (for faults that depend on the call, such as "the next two outcome writes")."""

    def fail(self, path: str, error: Exception, *, method: str | None = None) -> None:
        """Make every ``method`` call (any method if None) on ``path`` raise ``error``."""
        self._errors[(method, path)] = error

    def _call(self, method: str, path: str, body: Any = None) -> None:
        call = Call(method, path, copy.deepcopy(body))
        self.calls.append(call)
        error = self._errors.get((method, path)) or self._errors.get((None, path))
        if error is None and self.intercept is not None:
            error = self.intercept(call)
        if error is not None:
            raise error

    # -- the KubeClient surface ------------------------------------------------

    async def get(self, path: str, query: Mapping[str, str | int] | None = None) -> dict[str, Any]:
        self._call("get", path)
        if path not in self.objects:
            raise errors.NotFound(f"GET {path}: not found")
        return copy.deepcopy(self.objects[path])

    async def create(self, collection: str, obj: Mapping[str, Any] | bytes) -> dict[str, Any]:
        obj = _parsed(obj)
        self._call("create", collection, obj)
        path = f"{collection}/{obj['metadata']['name']}"
        if path in self.objects:
            raise errors.AlreadyExists(f"POST {collection}: {obj['metadata']['name']} already exists")
        self.objects[path] = copy.deepcopy(dict(obj))
        return copy.deepcopy(dict(obj))

    async def replace(self, path: str, obj: Mapping[str, Any] | bytes) -> dict[str, Any]:
        obj = _parsed(obj)
        self._call("replace", path, obj)
        self.objects[path] = copy.deepcopy(dict(obj))
        return copy.deepcopy(dict(obj))

    async def merge_patch(self, path: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        self._call("merge_patch", path, patch)
        target = path.removesuffix("/status")
        if target in self.objects:
            self._precondition(target, (patch.get("metadata") or {}).get("resourceVersion"))
            self.objects[target] = merged(self.objects[target], patch)
            self._bump(target)
            return copy.deepcopy(self.objects[target])
        return {}

    async def delete(
        self, path: str, *, propagation: str = "Background", resource_version: str | None = None
    ) -> None:
        self._call(
            "delete", path, None if resource_version is None else {"resourceVersion": resource_version}
        )
        if path in self.objects:
            self._precondition(path, resource_version)
        self.objects.pop(path, None)

    def _precondition(self, path: str, resource_version: str | None) -> None:
        """The API server's optimistic concurrency for objects the fake holds."""
        current = self.objects[path]["metadata"].get("resourceVersion")
        if resource_version is not None and resource_version != current:
            raise errors.Conflict(
                f"{path}: the object has been modified (at {current}, not {resource_version})"
            )

    def _bump(self, path: str) -> None:
        meta = self.objects[path]["metadata"]
        meta["resourceVersion"] = str(int(meta.get("resourceVersion") or 0) + 1)

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | int] | None = None,
        body: bytes | None = None,
        content_type: str = "application/json",
        timeout: float = 120.0,
    ) -> bytes:
        self._call(f"request {method}", path, body)
        return b"{}"

    def watch(
        self, path: str, query: Mapping[str, str | int], *, timeout_seconds: int
    ) -> AsyncIterator[dict[str, Any]]:
        raise AssertionError("FakeKube does not watch: fill informers by hand")

    async def close(self) -> None:
        return None

    # -- what tests read ---------------------------------------------------------

    def writes(self) -> list[Call]:
        """Every create, replace, merge patch and delete but the Events, in order."""
        return [
            call for call in self.calls if call.method in _WRITES and not call.path.endswith(EVENTS_SUFFIX)
        ]

    def events(self) -> list[tuple[str, str, str]]:
        """``(type, reason, message)`` of every Event posted, in order."""
        return [
            (call.body["type"], call.body["reason"], call.body["message"])
            for call in self.calls
            if call.method == "create" and call.path.endswith(EVENTS_SUFFIX)
        ]

    def event_bodies(self) -> list[dict[str, Any]]:
        return [c.body for c in self.calls if c.method == "create" and c.path.endswith(EVENTS_SUFFIX)]

    def reasons(self) -> list[str]:
        return [reason for _, reason, _ in self.events()]


def merged(target: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """RFC 7386 JSON merge patch of ``target`` with ``patch`` (a new dict)."""
    out = copy.deepcopy(dict(target))
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _parsed(obj: Mapping[str, Any] | bytes) -> dict[str, Any]:
    if isinstance(obj, bytes):
        parsed: dict[str, Any] = orjson.loads(obj)
        return parsed
    return dict(obj)
