"""The one exception hierarchy of k8ssnap.

Every error that crosses a layer is one of these. Adapters (``kube``,
``store``) map their library's exceptions into it exactly once, at the
boundary; everything above decides what to do from the class alone:

* :class:`RetriableError` -- the same call may succeed later (a 5xx, a
  429, a dropped connection, a timeout). Callers back off and try again
  within their retry budget.
* :class:`PermanentError` -- trying again cannot help (bad credentials,
  a missing bucket, an invalid object). Callers fail at once and put
  :attr:`K8sSnapError.reason` in the resource's status.

``reason`` is always written for a person: short, no stack, and never
containing a credential.
"""

from __future__ import annotations


class K8sSnapError(Exception):
    """Base class. ``reason`` is the text that goes into a status."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RetriableError(K8sSnapError):
    """A transient failure; the operation may be retried."""


class PermanentError(K8sSnapError):
    """A failure that retrying cannot fix."""


# --- Kubernetes API -------------------------------------------------------


class ApiError(K8sSnapError):
    """Mixin-style base for errors that came from a kube-apiserver response."""

    status: int = 0


class ApiRetriable(ApiError, RetriableError):
    """5xx, 429, connection loss, timeout."""


class Unauthorized(ApiError, PermanentError):
    """401: the credentials were refused."""

    status = 401


class Forbidden(ApiError, PermanentError):
    """403: RBAC denies the request."""

    status = 403


class NotFound(ApiError, PermanentError):
    """404: the object or the API path does not exist."""

    status = 404


class AlreadyExists(ApiError, PermanentError):
    """409 with reason AlreadyExists."""

    status = 409


class Conflict(ApiError, RetriableError):
    """409 optimistic-concurrency conflict: re-read and try again."""

    status = 409


class Gone(ApiError, PermanentError):
    """410: the requested resourceVersion is too old (compacted)."""

    status = 410


class Invalid(ApiError, PermanentError):
    """400/422 and other 4xx: the request itself is wrong."""


class ConfigError(PermanentError):
    """A kubeconfig, flag or custom resource that cannot be used as given."""


# --- Object store ---------------------------------------------------------


class StoreError(K8sSnapError):
    """Base for object-store failures."""


class StoreRetriable(StoreError, RetriableError):
    """A transient object-store failure."""


class StorePermanent(StoreError, PermanentError):
    """Bad keys, signature mismatch, missing bucket, access denied."""


class ObjectMissing(StorePermanent):
    """The key does not exist in the bucket."""


class BucketMissing(StorePermanent):
    """The bucket does not exist (``--createbucket`` may create it)."""


class ArchiveMissing(ObjectMissing):
    """A snapshot's archive is not in its store."""


class RecordMissing(ObjectMissing):
    """A snapshot's record is not in its store (k8s-snap's own archives have none)."""


# --- Archives -------------------------------------------------------------


class ArchiveError(PermanentError):
    """An archive that is corrupt, truncated, or of an unknown format."""


# --- etcd -----------------------------------------------------------------


class EtcdError(K8sSnapError):
    """Base for failures talking to etcd or reading its snapshot stream."""


class EtcdRetriable(EtcdError, RetriableError):
    """etcd unreachable or busy; the snapshot may be taken again later."""


class EtcdPermanent(EtcdError, PermanentError):
    """TLS refused, permission denied, or a snapshot stream that is not whole."""


class SnapshotIntegrityError(EtcdPermanent):
    """etcd's snapshot stream was truncated or its SHA-256 did not match."""


class HostPathRefused(ConfigError):
    """A custom resource named a host path outside what the operator allowed."""
