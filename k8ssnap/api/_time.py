"""Timestamps in custom resources: :mod:`k8ssnap.domain.timestamps`, with field-named errors.

Private to :mod:`k8ssnap.api`. Parsing and formatting themselves live in
:mod:`k8ssnap.domain.timestamps` only; this turns a bad value into a
:class:`~k8ssnap.errors.ConfigError` that names the field.
"""

from __future__ import annotations

from datetime import datetime

from k8ssnap.domain import timestamps
from k8ssnap.domain.timestamps import format_optional, format_time
from k8ssnap.errors import ConfigError

__all__ = ["format_optional", "format_timestamp", "parse_timestamp"]

format_timestamp = format_time
_SHAPE = "{field} must be a date and time like 2020-07-01T02:03:04Z, not {value!r}"


def parse_timestamp(value: object, *, field: str) -> datetime | None:
    """An aware UTC datetime from an RFC 3339 string; None for null or "".

    Raises ConfigError naming ``field`` for anything else.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(_SHAPE.format(field=field, value=value))
    try:
        return timestamps.parse_time(value)
    except timestamps.ImpossibleTime:
        raise ConfigError(f"{field} is not a valid date and time: {value!r}") from None
    except timestamps.NotATime:
        raise ConfigError(_SHAPE.format(field=field, value=value)) from None
