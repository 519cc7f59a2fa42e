"""Durations, timestamps and expiry of Snapshots and Restores.

The CRs carry Go ``time.Duration`` strings (``ttl: 720h``) and RFC 3339
UTC timestamps (``2019-05-20T03:45:08Z``); this module is the only place
that reads or writes either. Times inside k8ssnap are always timezone-aware
UTC ``datetime``; a naive datetime is a bug and is refused with ValueError.
Nothing here reads a clock: callers pass ``now``.

Expiry follows k8s-snap: ``availableUntil`` is the time the snapshot was
taken plus ``ttl`` (default 720h for Snapshots, 168h for Restores), and an
explicit ``spec.availableUntil`` wins over ``ttl``. Expiry arithmetic never
overflows: a sum past year 9999 is held at :data:`LATEST`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from fractions import Fraction

DEFAULT_SNAPSHOT_TTL = "720h0m0s"
DEFAULT_RESTORE_TTL = "168h0m0s"

_NANOS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign, as Go prints it
    "\u03bcs": 1_000,  # greek mu, which Go also accepts
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_MAX_NANOS = 2**63 - 1  # Go's time.Duration range
_COMPONENT = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")


def parse_duration(text: str) -> timedelta:
    """Parse a Go duration string such as ``720h``, ``1h30m``, ``1.5h`` or ``500ms``.

    Negative durations are refused (a negative ttl means nothing), as is
    anything Go's ``time.ParseDuration`` would refuse. Precision below a
    microsecond is truncated.
    """
    body = text[1:] if text.startswith("+") else text
    if text.startswith("-"):
        raise ValueError(f"invalid duration {text!r}: negative durations are not allowed")
    if body == "0":
        return timedelta(0)
    if not body or _COMPONENT.sub("", body):
        raise ValueError(f"invalid duration {text!r}: expected a Go duration like '720h', '1h30m' or '500ms'")
    nanos = sum(
        (Fraction(number) * _NANOS[unit] for number, unit in _COMPONENT.findall(body)),
        Fraction(0),
    )
    if nanos > _MAX_NANOS:
        raise ValueError(f"invalid duration {text!r}: out of range")
    return timedelta(microseconds=int(nanos) // 1_000)


def format_duration(duration: timedelta) -> str:
    """Format like Go's ``Duration.String``: ``720h0m0s``, ``1m30s``, ``1.5s``, ``500ms``."""
    micros = _whole_micros(duration)
    if micros < 0:
        raise ValueError(f"negative duration {duration!r}")
    if micros == 0:
        return "0s"
    if micros < 1_000:
        return f"{micros}\u00b5s"
    if micros < 1_000_000:
        return f"{_decimal(micros, 1_000)}ms"
    hours, rest = divmod(micros, 3_600_000_000)
    minutes, seconds = divmod(rest, 60_000_000)
    text = f"{_decimal(seconds, 1_000_000)}s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return text


def snapshot_expiry(*, taken_at: datetime, ttl: str | None, available_until: datetime | None) -> datetime:
    """When a Snapshot expires: ``available_until`` if set, else ``taken_at + ttl`` (720h)."""
    return _expiry(taken_at, ttl or DEFAULT_SNAPSHOT_TTL, available_until)


def restore_expiry(*, taken_at: datetime, ttl: str | None, available_until: datetime | None) -> datetime:
    """When a Restore expires: ``available_until`` if set, else ``taken_at + ttl`` (168h)."""
    return _expiry(taken_at, ttl or DEFAULT_RESTORE_TTL, available_until)


def effective_ttl(*, taken_at: datetime, until: datetime) -> str:
    """The ttl an explicit ``availableUntil`` amounts to (k8s-snap's ``status.ttl``).

    Zero when ``until`` is already past, since a ttl is never negative.
    """
    _require_aware(taken_at)
    _require_aware(until)
    return format_duration(max(until - taken_at, timedelta(0)))


FAILED_GRACE = timedelta(hours=1)
"""A Failed object stays at least this long after creation, even if already expired,
so that a person can read why (e.g. an availableUntil in the past)."""


def deletion_time(until: datetime, *, failed: bool, created: datetime | None) -> datetime:
    """When an object whose life ends at ``until`` is deleted: a Failed one keeps
    :data:`FAILED_GRACE` after its creation for its reason to be read."""
    if failed and created is not None:
        return max(until, created + FAILED_GRACE)
    return until


def is_expired(until: datetime, now: datetime) -> bool:
    """Whether ``until`` has been reached at ``now``."""
    _require_aware(until)
    _require_aware(now)
    return now >= until


def seconds_until(until: datetime, now: datetime) -> float:
    """Seconds from ``now`` to ``until``, never negative: a work queue's add_after delay."""
    _require_aware(until)
    _require_aware(now)
    return max((until - now).total_seconds(), 0.0)


LATEST = datetime.max.replace(microsecond=0, tzinfo=UTC)
"""The latest time k8ssnap writes: an expiry past it is held here (9999-12-31T23:59:59Z)."""


def _expiry(taken_at: datetime, ttl: str, available_until: datetime | None) -> datetime:
    _require_aware(taken_at)
    if available_until is not None:
        _require_aware(available_until)
        return available_until.astimezone(UTC)
    try:
        return taken_at.astimezone(UTC) + parse_duration(ttl)
    except OverflowError:  # taken in year 9999 (a hostile stored record): keep it to the last moment
        return LATEST


def _whole_micros(duration: timedelta) -> int:
    return (duration.days * 86_400 + duration.seconds) * 1_000_000 + duration.microseconds


def _decimal(value: int, unit: int) -> str:
    whole, fraction = divmod(value, unit)
    if not fraction:
        return str(whole)
    digits = str(fraction).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: k8ssnap times must be timezone-aware")
