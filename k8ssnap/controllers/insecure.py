"""Every use of unverified TLS is said out loud: a warning in the log and a Warning Event.

Two flags allow it, both documented as unsafe: ``--insecure`` (the object
store's certificate is not checked) and ``--insecure-kubeconfig-tls`` (a
kubeconfig from a custom resource may skip the API server's certificate
check or name a plain http:// server). An EtcdSnapshot naming a plain http://
etcd endpoint is reported the same way. Each use is reported, on the
resource the work is for, so ``kubectl describe`` shows it every time and
nobody runs that way by accident for long.
"""

from __future__ import annotations

import logging

from k8ssnap.controllers.context import Context, Subject

__all__ = ["CLUSTER", "ETCD", "REASON", "STORE", "Subject", "report"]

log = logging.getLogger(__name__)

REASON = "InsecureTLS"
STORE = "TLS verification of the object store is off (--insecure)"
CLUSTER = (
    "TLS verification of the cluster's API server is off: its kubeconfig skips it or names an"
    " http:// server, allowed by --insecure-kubeconfig-tls"
)

ETCD = (
    "etcd endpoint {endpoints} is plain http: the database (every Secret of the cluster) crosses"
    " the network unencrypted and the server is not authenticated; use https with spec.tlsSecret"
)


async def report(ctx: Context, subject: Subject, message: str) -> None:
    """Log ``message`` as a warning and post it as a Warning Event ``InsecureTLS`` on ``subject``."""
    log.warning("%s %s: %s", subject.kind.kind, subject.name, message)
    await ctx.events.record(subject.obj, kind=subject.kind, reason=REASON, message=message, warning=True)
