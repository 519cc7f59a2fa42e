"""A minimal raw client for one kube-apiserver: aiohttp, the kubeconfig's client certificate, bytes.

This is the floor the benchmark compares k8ssnap with, so it does as
little as a client can: one pooled aiohttp session (HTTP/1.1, the same
library and protocol as k8ssnap's :class:`~k8ssnap.kube.client.KubeClient`),
TLS with the cluster's CA and the admin client certificate, bodies as
bytes, no retries, no models, no per-request auth lookups.
"""

from __future__ import annotations

import base64
import shutil
import ssl
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
import yaml


class ApiError(Exception):
    """A non-2xx answer."""

    def __init__(self, status: int, what: str, body: bytes) -> None:
        super().__init__(f"{what}: HTTP {status}: {body[:300]!r}")
        self.status = status


def _ssl_context(kubeconfig: Path) -> tuple[str, ssl.SSLContext]:
    config: dict[str, Any] = yaml.safe_load(kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    user = config["users"][0]["user"]
    context = ssl.create_default_context(
        cadata=base64.b64decode(cluster["certificate-authority-data"]).decode()
    )
    folder = Path(tempfile.mkdtemp(prefix="bench-cert-"))
    try:
        cert, key = folder / "cert.pem", folder / "key.pem"
        cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
        key.write_bytes(base64.b64decode(user["client-key-data"]))
        context.load_cert_chain(cert, key)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return str(cluster["server"]).rstrip("/"), context


class RawClient:
    """At most ``connections`` requests on the wire; use ``async with``."""

    def __init__(self, kubeconfig: Path, *, connections: int) -> None:
        self.server, self._ssl = _ssl_context(kubeconfig)
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> RawClient:
        connector = aiohttp.TCPConnector(limit=self._connections, ssl=self._ssl)
        self._session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=300))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "use RawClient as an async context manager"
        return self._session

    def url(self, path: str, query: dict[str, str | int] | None = None) -> str:
        return f"{self.server}{path}?{urlencode(query)}" if query else f"{self.server}{path}"

    async def get(self, path: str, query: dict[str, str | int] | None = None) -> bytes:
        """GET; the body of a 2xx answer, else :class:`ApiError`."""
        async with self.session.get(self.url(path, query), headers={"Accept": "application/json"}) as resp:
            body = await resp.read()
            if resp.status >= 300:
                raise ApiError(resp.status, f"GET {path}", body)
            return body

    async def get_json(self, path: str, query: dict[str, str | int] | None = None) -> dict[str, Any]:
        parsed: dict[str, Any] = orjson.loads(await self.get(path, query))
        return parsed

    async def post(self, path: str, body: bytes) -> int:
        """POST ``body``; the status of a 2xx or 409 answer, else :class:`ApiError`."""
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        async with self.session.post(self.url(path), data=body, headers=headers) as resp:
            answer = await resp.read()
            if resp.status >= 300 and resp.status != 409:
                raise ApiError(resp.status, f"POST {path}", answer)
            return resp.status
