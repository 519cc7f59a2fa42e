"""Connecting to the cluster a Snapshot or Restore names.

Inline kubeconfig text (k8s-snap's ``spec.kubeconfig``), a key of a Secret
in the controller's namespace (``spec.kubeconfigSecret``), or neither,
which means the controller's own cluster. The kubeconfig is never logged
and never put into a status or an archive. It may carry inline data only
(:mod:`k8ssnap.kube.kubeconfig`); skipping TLS verification needs
``--insecure-kubeconfig-tls`` and is reported on every use
(:mod:`k8ssnap.controllers.insecure`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from k8ssnap import errors
from k8ssnap.api.meta import KubeconfigRef
from k8ssnap.controllers import insecure
from k8ssnap.controllers.context import Context, Subject
from k8ssnap.domain import names
from k8ssnap.kube.api import KubeApi
from k8ssnap.kube.client import KubeClient


async def secret_value(ctx: Context, *, name: str, key: str, what: str) -> str:
    """One key of a Secret in the controller's namespace, decoded; ConfigError if missing.

    ``name`` comes from a custom resource, so it is checked against the API server's
    own name rule before it goes into a path: "../../kube-system/secrets/x" must not
    make the controller read a Secret of another namespace."""
    if not names.is_object_name(name):
        raise errors.ConfigError(f"{what}: {name!r} is not a Secret name")
    try:
        secret = await ctx.kube.get(f"/api/v1/namespaces/{ctx.settings.namespace}/secrets/{name}")
    except errors.NotFound:
        raise errors.ConfigError(
            f"{what}: Secret {name!r} not found in namespace {ctx.settings.namespace!r}"
        ) from None
    data = secret.get("data") or {}
    if key not in data:
        raise errors.ConfigError(f"{what}: Secret {name!r} has no key {key!r}")
    try:
        return base64.b64decode(data[key], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise errors.ConfigError(f"{what}: Secret {name!r} key {key!r} is not valid base64 text") from None


class KubeconfigConnector:
    """The production :class:`~k8ssnap.controllers.context.ClusterConnector`."""

    def __init__(self, *, max_connections: int = 32) -> None:
        self._max_connections = max_connections

    @asynccontextmanager
    async def __call__(self, ctx: Context, ref: KubeconfigRef, *, subject: Subject) -> AsyncIterator[KubeApi]:
        """A client for the cluster ``ref`` names, for work on ``subject``; closed on exit unless
        it is our own."""
        if ref.in_cluster:
            yield ctx.kube
            return
        if ref.inline is not None:
            text = ref.inline
        else:
            assert ref.secret is not None
            text = await secret_value(ctx, name=ref.secret.name, key=ref.secret.key, what="kubeconfig")
        client = await KubeClient.from_kubeconfig_text(
            text,
            max_connections=self._max_connections,
            allow_insecure_tls=ctx.settings.insecure_kubeconfig_tls,
        )
        try:
            if not client.tls_verified:
                await insecure.report(ctx, subject, insecure.CLUSTER)
            yield client
        finally:
            await client.close()
