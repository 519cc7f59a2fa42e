"""A local HTTPS server that plays a kube-apiserver's ``/version``, and kubeconfigs for it.

Its certificates come from the devenv's PKI (the openssl command): a CA, a
serving certificate for 127.0.0.1, and an admin client certificate. The
server asks for a client certificate (optional, so token users work too)
and records what each request carried.
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from k8ssnap.devenv.pki import ClusterPki, make_cluster_pki


@dataclass
class Seen:
    """One request as the server saw it."""

    authorization: str | None
    client_cert: bool


@dataclass
class ApiServer:
    url: str
    pki: ClusterPki
    seen: list[Seen] = field(default_factory=list)

    def kubeconfig(self, *, user: dict[str, object] | None = None, **cluster: object) -> str:
        """An inline kubeconfig for this server; ``user`` defaults to the admin client certificate."""
        if user is None:
            user = {
                "client-certificate-data": b64(self.pki.admin_cert),
                "client-key-data": b64(self.pki.admin_key),
            }
        cluster_fields = {"server": self.url, "certificate-authority-data": b64(self.pki.ca_cert), **cluster}
        return kubeconfig_text(cluster=cluster_fields, user=user)


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def kubeconfig_text(*, cluster: dict[str, object], user: dict[str, object]) -> str:
    """A one-context kubeconfig as JSON (which is YAML)."""
    import json

    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "c", "cluster": cluster}],
            "users": [{"name": "u", "user": user}],
            "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "ctx",
        }
    )


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> ClusterPki:
    return make_cluster_pki(tmp_path_factory.mktemp("pki"), cluster="hostile")


@pytest.fixture
async def apiserver(pki: ClusterPki) -> AsyncIterator[ApiServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca_cert))
    context.load_cert_chain(str(pki.serving_cert), str(pki.serving_key))
    context.verify_mode = ssl.CERT_OPTIONAL
    server = ApiServer(url="", pki=pki)

    async def version(request: web.Request) -> web.Response:
        transport = request.transport
        peer = transport.get_extra_info("peercert") if transport is not None else None
        server.seen.append(Seen(authorization=request.headers.get("Authorization"), client_cert=bool(peer)))
        return web.json_response({"major": "1", "minor": "36"})

    app = web.Application()
    app.router.add_get("/version", version)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.url = f"https://127.0.0.1:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()
