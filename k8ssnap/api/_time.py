"""RFC 3339 timestamps as Kubernetes writes them (``metav1.Time``).

Private to :mod:`k8ssnap.api`: reading a timestamp a user or the apiserver
wrote, and writing one the way ``metav1.Time`` does -- UTC, whole seconds,
a trailing ``Z``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from k8ssnap.errors import ConfigError

# RFC 3339 date-time, which is also what the CRD's ``format: date-time`` admits.
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def parse_timestamp(value: object, *, field: str) -> datetime | None:
    """An aware UTC datetime from an RFC 3339 string; None for null or "".

    Raises ConfigError naming ``field`` for anything else.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ConfigError(f"{field} must be a date and time like 2020-07-01T02:03:04Z, not {value!r}")
    text = value.upper().replace(" ", "T")
    date, _, rest = text.partition("T")
    # datetime.fromisoformat takes at most 6 fractional digits; RFC 3339 allows more.
    match = re.match(r"^(\d{2}:\d{2}:\d{2})(\.\d+)?(.*)$", rest)
    if match is None:  # pragma: no cover - guarded by _RFC3339
        raise ConfigError(f"{field} is not a valid date and time: {value!r}")
    clock, fraction, zone = match.groups()
    fraction = (fraction or "")[:7]
    try:
        return datetime.fromisoformat(f"{date}T{clock}{fraction}{zone}").astimezone(UTC)
    except (ValueError, OverflowError):  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise ConfigError(f"{field} is not a valid date and time: {value!r}") from None


def format_timestamp(moment: datetime) -> str:
    """``moment`` as ``metav1.Time`` serialises it: UTC, seconds, ``Z``.

    ``moment`` must be timezone-aware; a naive datetime is a programming error.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_optional(moment: datetime | None) -> str | None:
    """:func:`format_timestamp`, passing None through (it becomes JSON null)."""
    return None if moment is None else format_timestamp(moment)
