"""Exclusion reasons an object carries on its own, whatever else is archived.

These rules look at one object only, so :class:`~k8ssnap.domain.facts.PlanFacts`
can apply them while it streams (a binding that is itself excluded must not
keep a ClusterRole alive). First match wins:

* ``owner-ref``: the object has ownerReferences. Its owner is restored and
  its controller recreates the object (ReplicaSets, Pods, controller-made
  EndpointSlices...); a restored copy would fight the controller and point
  at the source's owner uid.
* ``token-secret``: a Secret of type ``kubernetes.io/service-account-token``.
  Its token was signed by the source cluster's key and is useless (and a
  leak) on the destination; the token controller issues new ones.
* ``system-managed``: see :mod:`k8ssnap.domain.system`.
* ``backup-job``: k8ssnap's own Snapshots and Restores. They are work orders
  of the source's controller: on the destination a Snapshot would take a new
  snapshot under the same name (overwriting the source's archive in a shared
  bucket) and a Restore would run again. Snapshots come back from the bucket
  instead (housekeeping's ``--restoresnapshots``); ObjectstoreConfigs and
  RestorePreferences are configuration and are restored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from k8ssnap.domain import kinds
from k8ssnap.domain.fields import items, metadata, text
from k8ssnap.domain.paths import ObjectRef
from k8ssnap.domain.system import is_system_managed

OWNER_REF = "owner-ref"
TOKEN_SECRET = "token-secret"  # noqa: S105 -- a reason, not a secret
SYSTEM_MANAGED = "system-managed"
BACKUP_JOB = "backup-job"
_JOBS = frozenset({kinds.SNAPSHOTS, kinds.RESTORES})

SERVICE_ACCOUNT_TOKEN = "kubernetes.io/service-account-token"  # noqa: S105 -- a type name


def intrinsic_reason(ref: ObjectRef, obj: Mapping[str, Any]) -> str | None:
    """The first object-local exclusion reason that applies, or None."""
    if items(metadata(obj).get("ownerReferences")):
        return OWNER_REF
    if ref.group_resource == kinds.SECRETS and text(obj.get("type")) == SERVICE_ACCOUNT_TOKEN:
        return TOKEN_SECRET
    if is_system_managed(ref, obj):
        return SYSTEM_MANAGED
    if ref.group_resource in _JOBS:
        return BACKUP_JOB
    return None
