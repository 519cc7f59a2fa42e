"""One mapping of Kubernetes Status to k8ssnap errors, for HTTP answers and watch ERROR events alike."""

from __future__ import annotations

import orjson
import pytest

from k8ssnap import errors
from k8ssnap.kube.errormap import from_response
from k8ssnap.runtime.source import error_from_status


@pytest.mark.parametrize(
    ("code", "reason", "expected"),
    [
        (401, "Unauthorized", errors.Unauthorized),
        (403, "Forbidden", errors.Forbidden),
        (404, "NotFound", errors.NotFound),
        (409, "AlreadyExists", errors.AlreadyExists),
        (409, "Conflict", errors.Conflict),  # the two mappings once disagreed here (Invalid vs Conflict)
        (410, "Expired", errors.Gone),
        (422, "Invalid", errors.Invalid),
        (429, "TooManyRequests", errors.ApiRetriable),
        (503, "ServiceUnavailable", errors.ApiRetriable),
    ],
)
def test_an_http_answer_and_a_watch_error_map_alike(
    code: int, reason: str, expected: type[Exception]
) -> None:
    status = {"kind": "Status", "code": code, "reason": reason, "message": "what the server said"}
    from_http = from_response(status=code, body=orjson.dumps(status), what="GET /x")
    from_watch = error_from_status(status)
    assert type(from_http) is expected
    assert type(from_watch) is expected


def test_a_body_that_is_not_json_keeps_its_text() -> None:
    error = from_response(status=404, body=b"404 page not found\n", what="GET /x")
    assert isinstance(error, errors.NotFound)
    assert error.reason == "404 page not found"
