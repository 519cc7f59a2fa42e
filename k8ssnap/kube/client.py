"""A raw-JSON client for one kube-apiserver.

Two ways in. The controller's own cluster (``--kubeconfig`` or in-cluster
config) goes through kubernetes-asyncio's full loader, which does what it
is good at: files, exec plugins, token refresh. A kubeconfig from a custom
resource goes through :mod:`k8ssnap.kube.kubeconfig` instead, which
accepts inline data only. Either way :mod:`k8ssnap.kube.transport` opens
the aiohttp session that carries our requests. Bodies go out as
orjson bytes and come back as bytes or orjson-parsed dicts; no generated
model class is ever built on a hot path.

Answers are asked for gzipped (as client-go asks) and inflated here, not by
aiohttp: aiohttp inflates every network chunk in the event loop with zlib,
which was a fifth of a snapshot's event-loop time; here a large answer is
inflated whole with ISA-L's inflate (about twice zlib's speed) on a worker
thread, off the event loop (inflate releases the GIL), and never beyond
:data:`k8ssnap.limits.MAX_API_ANSWER`.

Connection failures and non-2xx answers are mapped once, here, into
:mod:`k8ssnap.errors`. Kubeconfig text is never logged and never put into
an error message.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, cast
from urllib.parse import urlencode

import aiohttp
import orjson
from isal import isal_zlib
from kubernetes_asyncio.client.configuration import Configuration
from kubernetes_asyncio.config import incluster_config, kube_config
from kubernetes_asyncio.config.config_exception import ConfigException

from k8ssnap import errors, limits
from k8ssnap.kube import errormap, kubeconfig, transport

JsonObj = dict[str, Any]
AuthHeaders = Callable[[], Awaitable[Mapping[str, str]]]
"""The credential headers of the next request (a token may be refreshed between requests)."""

_RETRIABLE_IO = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, asyncio.TimeoutError)
_INFLATE_ERROR = cast("type[Exception]", isal_zlib.error)  # its stub declares an instance, not a class
_INLINE_INFLATE = 64 * 1024
"""Gzipped answers up to this size are inflated in the event loop (a thread hop costs more)."""


class KubeClient:
    """Raw-JSON requests to one API server over one pooled connection set.

    ``max_connections`` bounds concurrent requests; callers bound their own
    work as well. Use as an async context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        endpoint: transport.Endpoint,
        *,
        auth: AuthHeaders,
        max_connections: int,
        tls_verified: bool = True,
        max_answer: int = limits.MAX_API_ANSWER,
    ) -> None:
        self._auth = auth
        self._max_answer = max_answer
        self._transport = transport.open_transport(endpoint, max_connections=max_connections)
        self._session: aiohttp.ClientSession = self._transport.session
        self.host: str = endpoint.host
        self.tls_verified = tls_verified
        """False when the server's certificate is not checked (allowed only by an explicit flag)."""

    # -- construction ---------------------------------------------------------

    @classmethod
    async def from_kubeconfig_text(
        cls,
        text: str,
        *,
        max_connections: int = 64,
        allow_insecure_tls: bool = False,
        max_answer: int = limits.MAX_API_ANSWER,
    ) -> KubeClient:
        """Connect with an inline kubeconfig from a custom resource (``spec.kubeconfig`` or a
        Secret): inline data only, see :mod:`k8ssnap.kube.kubeconfig`. ``allow_insecure_tls``
        is ``--insecure-kubeconfig-tls``."""
        loaded = await kubeconfig.load(text, allow_insecure_tls=allow_insecure_tls)
        endpoint = transport.Endpoint(
            host=loaded.server,
            ssl_context=loaded.ssl_context,
            proxy_url=loaded.proxy_url,
            tls_server_name=loaded.tls_server_name,
        )
        headers = dict(loaded.headers)

        async def auth() -> Mapping[str, str]:
            return headers

        return cls(
            endpoint,
            auth=auth,
            max_connections=max_connections,
            tls_verified=loaded.tls_verified,
            max_answer=max_answer,
        )

    @classmethod
    async def from_kubeconfig_file(
        cls, path: str | None, *, master: str | None = None, max_connections: int = 64
    ) -> KubeClient:
        """Connect with the operator's kubeconfig file (kubernetes-asyncio's full loader: exec
        plugins, files), or in-cluster config when ``path`` is None."""
        configuration = Configuration()
        try:
            if path:
                await kube_config.load_kube_config(config_file=path, client_configuration=configuration)
            else:
                incluster_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except ConfigException as exc:
            raise errors.ConfigError(f"cannot load the controller's kubeconfig: {exc}") from None
        if master:
            configuration.host = master

        async def auth() -> Mapping[str, str]:
            settings = (await configuration.auth_settings()).values()
            return {
                str(s["key"]): str(s["value"]) for s in settings if s.get("in") == "header" and s.get("value")
            }

        endpoint = transport.endpoint_of(configuration)
        return cls(
            endpoint, auth=auth, max_connections=max_connections, tls_verified=bool(configuration.verify_ssl)
        )

    async def close(self) -> None:
        """Close the connection pool."""
        await self._session.close()

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- requests ---------------------------------------------------------------

    async def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": "application/json", "Accept-Encoding": "gzip"}
        if content_type:
            headers["Content-Type"] = content_type
        headers.update(await self._auth())
        return headers

    def _url(self, path: str, query: Mapping[str, str | int] | None) -> str:
        return f"{self.host}{path}?{urlencode(query)}" if query else f"{self.host}{path}"

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
        """Send one request; return the body of a 2xx answer or raise a mapped error."""
        headers = await self._headers(content_type if body is not None else None)
        what = f"{method} {path}"
        try:
            async with self._session.request(
                method,
                self._url(path, query),
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
                server_hostname=self._transport.server_hostname,
                proxy=self._transport.proxy,
                auto_decompress=False,
            ) as resp:
                data = await resp.read()
                status = resp.status
                encoding = resp.headers.get("Content-Encoding", "").strip().lower()
        except _RETRIABLE_IO as exc:
            raise errors.ApiRetriable(
                f"{what}: cannot reach the API server at {self.host}: {exc!r}"
            ) from None
        data = await _decoded(data, encoding, limit=self._max_answer, what=what)
        if status >= 300:
            raise errormap.from_response(status=status, body=data, what=what)
        return data

    async def get(self, path: str, query: Mapping[str, str | int] | None = None) -> JsonObj:
        """GET ``path`` and parse the JSON answer."""
        parsed: JsonObj = orjson.loads(await self.request("GET", path, query=query))
        return parsed

    async def create(self, collection: str, obj: Mapping[str, Any] | bytes) -> JsonObj:
        """POST ``obj`` to ``collection``."""
        body = obj if isinstance(obj, bytes) else orjson.dumps(obj)
        parsed: JsonObj = orjson.loads(await self.request("POST", collection, body=body))
        return parsed

    async def replace(self, path: str, obj: Mapping[str, Any] | bytes) -> JsonObj:
        """PUT ``obj`` at ``path`` (optimistic concurrency via its resourceVersion)."""
        body = obj if isinstance(obj, bytes) else orjson.dumps(obj)
        parsed: JsonObj = orjson.loads(await self.request("PUT", path, body=body))
        return parsed

    async def merge_patch(self, path: str, patch: Mapping[str, Any]) -> JsonObj:
        """Apply a JSON merge patch to ``path``."""
        body = orjson.dumps(patch)
        raw = await self.request("PATCH", path, body=body, content_type="application/merge-patch+json")
        parsed: JsonObj = orjson.loads(raw)
        return parsed

    async def delete(
        self, path: str, *, propagation: str = "Background", resource_version: str | None = None
    ) -> None:
        """DELETE ``path``; a missing object is not an error. With ``resource_version`` the
        delete is preconditioned on it: a newer object raises :class:`~k8ssnap.errors.Conflict`."""
        options: dict[str, Any] = {
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "propagationPolicy": propagation,
        }
        if resource_version is not None:
            options["preconditions"] = {"resourceVersion": resource_version}
        body = orjson.dumps(options)
        with contextlib.suppress(errors.NotFound):
            await self.request("DELETE", path, body=body)

    async def watch(
        self, path: str, query: Mapping[str, str | int], *, timeout_seconds: int
    ) -> AsyncIterator[JsonObj]:
        """Yield watch events (``{"type", "object"}``) of a collection until the server ends it."""
        query = {**query, "watch": "1", "timeoutSeconds": timeout_seconds}
        headers = await self._headers(None)
        what = f"WATCH {path}"
        try:
            async with self._session.get(
                self._url(path, query),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=None, sock_read=timeout_seconds + 30),
                server_hostname=self._transport.server_hostname,
                proxy=self._transport.proxy,
            ) as resp:
                if resp.status >= 300:
                    raise errormap.from_response(status=resp.status, body=await resp.read(), what=what)
                async for line in resp.content:
                    if line.strip():
                        event: JsonObj = orjson.loads(line)
                        yield event
        except _RETRIABLE_IO as exc:
            raise errors.ApiRetriable(f"{what}: connection lost: {exc!r}") from None


async def _decoded(data: bytes, encoding: str, *, limit: int, what: str) -> bytes:
    """The answer ``data`` with its ``Content-Encoding`` undone (gzip, or none)."""
    if encoding in ("", "identity"):
        return data
    if encoding != "gzip":
        raise errors.ApiRetriable(
            f"{what}: the API server answered in an encoding not asked for: {encoding!r}"
        )
    if len(data) <= _INLINE_INFLATE:
        return gunzip(data, limit=limit, what=what)
    return await asyncio.to_thread(gunzip, data, limit=limit, what=what)


def gunzip(data: bytes, *, limit: int, what: str) -> bytes:
    """Inflate one whole gzip answer, at most ``limit`` bytes of it (releases the GIL).

    A truncated or corrupt body is retriable (the connection broke); one that
    inflates beyond ``limit`` is refused for good.
    """
    inflater = isal_zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(data, limit + 1)
    except _INFLATE_ERROR as exc:
        raise errors.ApiRetriable(f"{what}: the gzipped answer is corrupt: {exc}") from None
    if len(out) > limit:
        raise errors.PermanentError(
            f"{what}: the answer inflates beyond {limit >> 20} MiB; refused (a gzip bomb, or far "
            "larger than any LIST page of real objects)"
        )
    if not inflater.eof:
        raise errors.ApiRetriable(f"{what}: the gzipped answer is truncated")
    return out
