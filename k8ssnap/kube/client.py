"""A raw-JSON client for one kube-apiserver.

kubernetes-asyncio does what it is good at -- reading kubeconfigs (inline,
file, in-cluster), client certificates, tokens and exec plugins -- and
:mod:`k8ssnap.kube.transport` turns its configuration into the aiohttp
session that carries our requests. Bodies go out as
orjson bytes and come back as bytes or orjson-parsed dicts; no generated
model class is ever built on a hot path.

Connection failures and non-2xx answers are mapped once, here, into
:mod:`k8ssnap.errors`. Kubeconfig text is never logged and never put into
an error message.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
import yaml
from kubernetes_asyncio.client.configuration import Configuration
from kubernetes_asyncio.config import incluster_config, kube_config
from kubernetes_asyncio.config.config_exception import ConfigException

from k8ssnap import errors, tempdirs
from k8ssnap.kube import errormap, transport

JsonObj = dict[str, Any]

_RETRIABLE_IO = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, asyncio.TimeoutError)


class KubeClient:
    """Raw-JSON requests to one API server over one pooled connection set.

    ``max_connections`` bounds concurrent requests; callers bound their own
    work as well. Use as an async context manager, or call :meth:`close`.
    """

    def __init__(self, configuration: Configuration, *, max_connections: int, tmpdir: Path | None) -> None:
        self._configuration = configuration
        self._transport = transport.open_transport(configuration, max_connections=max_connections)
        self._session: aiohttp.ClientSession = self._transport.session
        self._tmpdir = tmpdir
        self.host: str = str(configuration.host or "").rstrip("/")

    # -- construction ---------------------------------------------------------

    @classmethod
    async def from_kubeconfig_text(cls, text: str, *, max_connections: int = 64) -> KubeClient:
        """Connect with an inline kubeconfig (as in a Snapshot's ``spec.kubeconfig``)."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            raise errors.ConfigError("the kubeconfig is not valid YAML") from None
        if not isinstance(data, dict):
            raise errors.ConfigError("the kubeconfig is not a YAML mapping")
        tmpdir = Path(tempfile.mkdtemp(prefix=tempdirs.prefix("kc")))
        configuration = Configuration()
        try:
            await kube_config.load_kube_config_from_dict(
                data, client_configuration=configuration, temp_file_path=str(tmpdir)
            )
        except (ConfigException, KeyError, TypeError, ValueError) as exc:
            shutil.rmtree(tmpdir, ignore_errors=True)
            raise errors.ConfigError(f"the kubeconfig cannot be used: {type(exc).__name__}") from None
        return cls(configuration, max_connections=max_connections, tmpdir=tmpdir)

    @classmethod
    async def from_kubeconfig_file(
        cls, path: str | None, *, master: str | None = None, max_connections: int = 64
    ) -> KubeClient:
        """Connect with a kubeconfig file, or in-cluster config when ``path`` is None."""
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
        return cls(configuration, max_connections=max_connections, tmpdir=None)

    async def close(self) -> None:
        """Close the connection pool and remove any credential temp files."""
        await self._session.close()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- requests ---------------------------------------------------------------

    async def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        for setting in (await self._configuration.auth_settings()).values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[str(setting["key"])] = str(setting["value"])
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
            ) as resp:
                data = await resp.read()
                status = resp.status
        except _RETRIABLE_IO as exc:
            raise errors.ApiRetriable(
                f"{what}: cannot reach the API server at {self.host}: {exc!r}"
            ) from None
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
