"""JSON logs are one object per line."""

from __future__ import annotations

import json
import logging

from k8ssnap.app.logs import JsonFormatter


def test_json_formatter_writes_one_object() -> None:
    record = logging.LogRecord("k8ssnap.x", logging.WARNING, __file__, 1, "snapshot %s failed", ("s1",), None)
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert (
        entry["level"] == "warning"
        and entry["logger"] == "k8ssnap.x"
        and entry["msg"] == "snapshot s1 failed"
    )
    assert "\n" not in line
