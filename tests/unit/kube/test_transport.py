"""The transport's proxy choice and TLS context, decided once per client (no I/O)."""

from __future__ import annotations

import ssl

import pytest
from kubernetes_asyncio.client.configuration import Configuration

from k8ssnap.kube import transport

SERVER = "https://10.0.0.1:6443"
PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("env", "configured", "expected"),
    [
        ({}, None, None),
        ({}, "http://kubeconfig-proxy:3128", "http://kubeconfig-proxy:3128"),
        ({"HTTPS_PROXY": "http://corp:3128"}, None, "http://corp:3128"),
        ({"HTTPS_PROXY": "http://corp:3128"}, "http://kubeconfig-proxy:3128", "http://kubeconfig-proxy:3128"),
        ({"HTTPS_PROXY": "http://corp:3128", "NO_PROXY": "10.0.0.1"}, None, None),
        ({"https_proxy": "http://corp:3128", "no_proxy": ".cluster.local,10.0.0.0/8"}, None, None),  # as Go
        ({"https_proxy": "http://corp:3128", "no_proxy": "192.168.0.0/16,junk/x"}, None, "http://corp:3128"),
        ({"HTTPS_PROXY": "http://corp:3128", "NO_PROXY": "*"}, None, None),
        ({"HTTP_PROXY": "http://plain:3128"}, None, None),  # an https server uses HTTPS_PROXY only
    ],
)
def test_the_proxy_is_the_kubeconfigs_else_the_environments(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], configured: str | None, expected: str | None
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert transport.proxy_for(SERVER, configured) == expected


@pytest.mark.parametrize(
    ("verify", "mode", "check_hostname"), [(True, ssl.CERT_REQUIRED, True), (False, ssl.CERT_NONE, False)]
)
def test_tls_verification_follows_the_kubeconfig(
    verify: bool, mode: ssl.VerifyMode, check_hostname: bool
) -> None:
    configuration = Configuration()
    configuration.verify_ssl = verify
    context = transport.tls_context(configuration)
    assert (context.verify_mode, context.check_hostname) == (mode, check_hostname)


async def test_the_session_never_reads_the_environment_per_request() -> None:
    configuration = Configuration()
    configuration.host = SERVER
    opened = transport.open_transport(transport.endpoint_of(configuration), max_connections=7)
    try:
        assert opened.session.trust_env is False
        assert opened.session.connector is not None and opened.session.connector.limit == 7
    finally:
        await opened.session.close()
