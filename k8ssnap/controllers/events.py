"""Kubernetes Events on our resources, so ``kubectl describe`` tells the story.

Best effort: an Event that cannot be posted is logged and forgotten; it
never fails a reconcile. Messages are built by reconcilers from reasons,
which never contain credentials.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Any

from k8ssnap import errors
from k8ssnap.api import constants
from k8ssnap.domain import timestamps
from k8ssnap.kube.api import KubeApi

log = logging.getLogger(__name__)

_COMPONENT = "k8ssnap-controller"


class EventRecorder:
    """Posts core/v1 Events about objects in one namespace."""

    def __init__(self, client: KubeApi, *, namespace: str, host: str = "") -> None:
        self._client = client
        self._namespace = namespace
        self._host = host

    async def record(
        self,
        obj: dict[str, Any],
        *,
        kind: constants.ResourceKind,
        reason: str,
        message: str,
        warning: bool = False,
    ) -> None:
        """Post one Event about ``obj`` (a raw custom resource)."""
        meta = obj.get("metadata", {})
        now = timestamps.format_time(dt.datetime.now(dt.UTC))
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{meta.get('name')}.{secrets.token_hex(8)}",
                "namespace": self._namespace,
            },
            "involvedObject": {
                "apiVersion": constants.API_VERSION,
                "kind": kind.kind,
                "name": meta.get("name"),
                "namespace": self._namespace,
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": message[:1024],
            "type": "Warning" if warning else "Normal",
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "source": {"component": _COMPONENT, "host": self._host},
            "reportingComponent": _COMPONENT,
        }
        try:
            await self._client.create(f"/api/v1/namespaces/{self._namespace}/events", event)
        except errors.K8sSnapError as exc:
            log.warning("could not post event %s on %s: %s", reason, meta.get("name"), exc.reason)
