"""RFC 3339 timestamps, the one place they are parsed and formatted.

Reading accepts what the CRDs' ``format: date-time`` admits: a date, ``T``
(or ``t`` or a space), a time with any number of fractional digits (cut to
microseconds, all a datetime holds) and ``Z`` or an offset. Writing is what
``metav1.Time`` does: UTC, whole seconds, a trailing ``Z``. Every datetime
here is timezone-aware; a naive one is a programming error.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class NotATime(ValueError):
    """Text that is not shaped like an RFC 3339 date and time."""


class ImpossibleTime(ValueError):
    """RFC 3339-shaped text naming no real moment (February 30th, hour 25)."""


def parse_time(text: str) -> datetime:
    """An aware UTC datetime from RFC 3339 ``text``; :class:`NotATime` or :class:`ImpossibleTime`
    (both ValueErrors) for anything else."""
    match = _RFC3339.match(text)
    if match is None:
        raise NotATime(f"invalid time {text!r}: expected RFC 3339 like 2019-05-20T03:45:08Z")
    date, clock, fraction, offset = match.groups()
    fraction = (fraction or "")[:7]  # "." plus at most 6 digits: datetime holds microseconds
    offset = "+00:00" if offset in ("Z", "z") else offset
    try:
        return datetime.fromisoformat(f"{date}T{clock}{fraction}{offset}").astimezone(UTC)
    except (ValueError, OverflowError) as error:  # OverflowError: out of years 1-9999 in UTC
        raise ImpossibleTime(f"invalid time {text!r}: {error}") from None


def format_time(moment: datetime) -> str:
    """``moment`` as ``metav1.Time`` writes it: UTC, whole seconds, ``Z``."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: k8ssnap times must be timezone-aware")
    return moment.astimezone(UTC).strftime(_FORMAT)


def format_optional(moment: datetime | None) -> str | None:
    """:func:`format_time`, passing None through (it becomes JSON null)."""
    return None if moment is None else format_time(moment)
