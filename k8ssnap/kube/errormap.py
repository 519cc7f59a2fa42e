"""Non-2xx kube-apiserver answers as k8ssnap errors.

This module only reads the body; the mapping itself is
:func:`k8ssnap.runtime.source.error_from_status`, the one place a Kubernetes
``Status`` becomes an error (watch ``ERROR`` events use it too). The message
of the Status is kept (it is what a person needs, e.g. 'namespaces "x" not
found'), cut to a sane length. Credentials never appear in Status messages,
and the request is not echoed.
"""

from __future__ import annotations

from typing import Any

import orjson

from k8ssnap import errors
from k8ssnap.runtime.source import error_from_status

_MAX_MESSAGE = 500


def _status(body: bytes) -> dict[str, Any]:
    try:
        parsed: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {"message": body[:_MAX_MESSAGE].decode(errors="replace").strip()}
    return parsed if isinstance(parsed, dict) else {}


def from_response(*, status: int, body: bytes, what: str) -> errors.ApiError:
    """Map a non-2xx response for request ``what`` (e.g. 'GET /api/v1/...')."""
    return error_from_status(_status(body), code=status, what=what)
