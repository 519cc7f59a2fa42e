"""The one place that turns kube-apiserver responses into k8ssnap errors.

The message of a Kubernetes ``Status`` body is kept (it is what a person
needs, e.g. 'namespaces "x" not found'), cut to a sane length. Credentials
never appear in Status messages, and the request is not echoed.
"""

from __future__ import annotations

from typing import Any

import orjson

from k8ssnap import errors

_MAX_MESSAGE = 500


def _status(body: bytes) -> tuple[str, str]:
    try:
        parsed: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "", body[:_MAX_MESSAGE].decode(errors="replace").strip()
    if not isinstance(parsed, dict):
        return "", ""
    return str(parsed.get("reason") or ""), str(parsed.get("message") or "")[:_MAX_MESSAGE]


def from_response(*, status: int, body: bytes, what: str) -> errors.ApiError:
    """Map a non-2xx response for request ``what`` (e.g. 'GET /api/v1/...')."""
    reason, message = _status(body)
    text = message or reason or f"HTTP {status}"
    if status == 401:
        return errors.Unauthorized(f"Unauthorized: the API server refused the credentials ({what})")
    if status == 403:
        return errors.Forbidden(f"Forbidden: {text}")
    if status == 404:
        return errors.NotFound(text)
    if status == 409:
        if reason == "AlreadyExists":
            return errors.AlreadyExists(text)
        return errors.Conflict(text)
    if status == 410:
        return errors.Gone(text)
    if status == 429 or status >= 500:
        return errors.ApiRetriable(f"{what}: HTTP {status}: {text}")
    return errors.Invalid(text)
