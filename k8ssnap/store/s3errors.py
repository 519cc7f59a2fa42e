"""The one place that maps aiobotocore/botocore failures into k8ssnap store errors.

Reasons are plain words a person can act on ('the S3 secret key is wrong')
followed by the store's own code; keys and secrets are never included.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import aiohttp
from botocore import exceptions as boto

from k8ssnap import errors

_PERMANENT = {
    "SignatureDoesNotMatch": "the S3 secret key is wrong (SignatureDoesNotMatch)",
    "InvalidAccessKeyId": "the S3 access key is not known to the store (InvalidAccessKeyId)",
    "AccessDenied": "the S3 credentials are not allowed to do this (AccessDenied)",
    "InvalidBucketName": "the bucket name is not valid (InvalidBucketName)",
    "AuthorizationHeaderMalformed": "the S3 region or credentials are malformed",
}
_RETRIABLE = {
    "SlowDown",
    "RequestTimeout",
    "InternalError",
    "ServiceUnavailable",
    "RequestTimeTooSkewed",
}


def _client_error(exc: boto.ClientError, *, what: str, bucket: str) -> errors.StoreError:
    response: Any = exc.response
    error = response.get("Error", {})
    code = str(error.get("Code", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    if code in _PERMANENT:
        return errors.StorePermanent(f"{_PERMANENT[code]} during {what}")
    if code == "NoSuchBucket" or (code == "404" and what.startswith("HEAD bucket")):
        return errors.BucketMissing(f"bucket {bucket!r} does not exist (NoSuchBucket)")
    if code in ("NoSuchKey", "404", "NotFound"):
        return errors.ObjectMissing(f"{what}: no such object")
    if code == "403":
        return errors.StorePermanent(f"access denied by the object store during {what} (403)")
    if code in _RETRIABLE or status >= 500 or status == 429:
        return errors.StoreRetriable(f"{what}: object store error {code or status}")
    message = str(error.get("Message", "")) or code
    return errors.StorePermanent(f"{what}: object store refused the request: {message}")


def map_error(exc: BaseException, *, what: str, bucket: str) -> errors.StoreError | None:
    """A store error for ``exc``, or None if ``exc`` is not an I/O failure we know."""
    if isinstance(exc, errors.StoreError):
        return exc
    if isinstance(exc, boto.ClientError):
        return _client_error(exc, what=what, bucket=bucket)
    if isinstance(exc, boto.NoCredentialsError | boto.PartialCredentialsError):
        return errors.StorePermanent("no S3 credentials were given")
    if isinstance(exc, boto.SSLError | ssl.SSLError):
        return errors.StorePermanent(f"TLS to the object store failed during {what}: {exc}")
    if isinstance(exc, boto.ParamValidationError):
        return errors.StorePermanent(f"invalid S3 request during {what}: {exc}")
    if isinstance(
        exc,
        boto.EndpointConnectionError
        | boto.ConnectionClosedError
        | boto.ReadTimeoutError
        | boto.ConnectTimeoutError
        | aiohttp.ClientError
        | asyncio.TimeoutError
        | ConnectionError,
    ):
        return errors.StoreRetriable(f"cannot reach the object store during {what}: {type(exc).__name__}")
    return None
