"""What reconcilers and engines use of a Kubernetes client: the :class:`KubeApi` Protocol.

:class:`k8ssnap.kube.client.KubeClient` implements it against a real API
server; :mod:`k8ssnap.testing` implements it in memory. Everything above
``kube`` takes a ``KubeApi``; only the code that *builds* clients (the
controller's entry point, the cluster connector, the CLI) names ``KubeClient``.
Every method raises only :mod:`k8ssnap.errors`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

JsonObj = dict[str, Any]


class KubeApi(Protocol):
    """Raw-JSON requests to one API server (see :class:`~k8ssnap.kube.client.KubeClient`)."""

    @property
    def host(self) -> str: ...

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
        """One request; the body of a 2xx answer, else a mapped error."""
        ...

    async def get(self, path: str, query: Mapping[str, str | int] | None = None) -> JsonObj: ...

    async def create(self, collection: str, obj: Mapping[str, Any] | bytes) -> JsonObj: ...

    async def replace(self, path: str, obj: Mapping[str, Any] | bytes) -> JsonObj: ...

    async def merge_patch(self, path: str, patch: Mapping[str, Any]) -> JsonObj: ...

    async def delete(
        self, path: str, *, propagation: str = "Background", resource_version: str | None = None
    ) -> None:
        """DELETE; a missing object is not an error; ``resource_version`` preconditions it."""
        ...

    def watch(
        self, path: str, query: Mapping[str, str | int], *, timeout_seconds: int
    ) -> AsyncIterator[JsonObj]: ...
