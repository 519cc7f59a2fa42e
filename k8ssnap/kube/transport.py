"""The HTTP transport to one kube-apiserver: TLS, a bounded connection pool, the proxy.

Why not kubernetes-asyncio's ``RESTClientObject``: it opens its aiohttp
session with ``trust_env=True``, and aiohttp then looks up ``~/.netrc`` and
the proxy variables *on every request*, each in a thread-pool hop. The
benchmark measured a restore at N taking 78 s that way and 47 s without
(docs/performance.md). Here the same configuration (kubeconfig CA, client
certificate, ``insecure-skip-tls-verify``, ``tls-server-name``) builds the
TLS context, and the proxy is decided once: the kubeconfig's ``proxy-url``,
else ``HTTPS_PROXY``/``HTTP_PROXY`` unless ``NO_PROXY`` covers the host --
what client-go does. netrc is not consulted; API servers authenticate with
certificates and tokens.
"""

from __future__ import annotations

import contextlib
import ipaddress
import ssl
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from kubernetes_asyncio.client.configuration import Configuration

READ_BUFFER = 2**21
"""aiohttp's read buffer: a watch event of a large object may exceed the default (etcd allows 1.5 MiB)."""


@dataclass(frozen=True, slots=True, repr=False)
class Endpoint:
    """Where one API server is and how to speak TLS to it: what :func:`open_transport` needs.

    Built by :func:`endpoint_of` from kubernetes-asyncio's configuration (the
    controller's own kubeconfig or in-cluster config), or from an inline
    kubeconfig of a custom resource (:mod:`k8ssnap.kube.kubeconfig`).
    """

    host: str
    ssl_context: ssl.SSLContext
    proxy_url: str | None = None
    tls_server_name: str | None = None

    def __repr__(self) -> str:
        return f"Endpoint(host={self.host!r})"


@dataclass(frozen=True, slots=True)
class Transport:
    """An open session and what every request to the server needs."""

    session: aiohttp.ClientSession
    proxy: str | None
    server_hostname: str | None


def tls_context(configuration: Configuration) -> ssl.SSLContext:
    """The TLS context kubernetes-asyncio's configuration asks for (files its loader wrote)."""
    context = ssl.create_default_context(cafile=configuration.ssl_ca_cert)
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, keyfile=configuration.key_file)
    if not configuration.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if getattr(configuration, "disable_strict_ssl_verification", False):
        context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    return context


def proxy_for(host_url: str, configured: str | None) -> str | None:
    """The proxy for ``host_url``: the kubeconfig's, else the environment's (honouring NO_PROXY)."""
    if configured:
        return configured
    parts = urlsplit(host_url)
    if not parts.hostname or _bypassed(parts.hostname, parts.netloc):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(parts.scheme or "https") or None


def _bypassed(hostname: str, netloc: str) -> bool:
    """NO_PROXY as Python reads it (names, domains, ``*``), plus CIDR ranges as Go reads them."""
    if urllib.request.proxy_bypass(netloc):
        return True
    try:
        address = ipaddress.ip_address(hostname)
    except ValueError:
        return False
    no_proxy = urllib.request.getproxies().get("no", "")
    for entry in (e.strip() for e in no_proxy.split(",")):
        with contextlib.suppress(ValueError):
            if "/" in entry and address in ipaddress.ip_network(entry, strict=False):
                return True
    return False


def endpoint_of(configuration: Configuration) -> Endpoint:
    """The endpoint kubernetes-asyncio's full loader configured (the controller's own cluster)."""
    return Endpoint(
        host=str(configuration.host or "").rstrip("/"),
        ssl_context=tls_context(configuration),
        proxy_url=configuration.proxy,
        tls_server_name=configuration.tls_server_name,
    )


def open_transport(endpoint: Endpoint, *, max_connections: int) -> Transport:
    """A session of at most ``max_connections`` connections (call inside a running loop)."""
    connector = aiohttp.TCPConnector(limit=max_connections, ssl=endpoint.ssl_context)
    session = aiohttp.ClientSession(connector=connector, trust_env=False, read_bufsize=READ_BUFFER)
    return Transport(
        session=session,
        proxy=proxy_for(endpoint.host, endpoint.proxy_url),
        server_hostname=endpoint.tls_server_name,
    )
