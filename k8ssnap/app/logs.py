"""Logging setup: readable text by default, one JSON object per line on request.

Nothing in k8ssnap logs a kubeconfig, a token or an S3 secret: reasons are
built from error classes and API messages, and :class:`S3Settings` and
:class:`KubeconfigRef` have credential-free ``repr``s.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys

import orjson


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", ...}`` per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def setup(fmt: str = "text", level: int = logging.INFO) -> None:
    """Configure the root logger once."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiobotocore", "botocore", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
