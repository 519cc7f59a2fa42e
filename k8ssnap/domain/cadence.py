"""When a SnapshotSchedule's runs are due: cron expressions, ``@every``, time zones.

A cadence is what ``spec.schedule`` says, as CronJob accepts it -- five cron
fields (minute hour day-of-month month day-of-week) or one of the macros
``@yearly @annually @monthly @weekly @daily @midnight @hourly`` -- or, as
Velero accepts it, ``@every <Go duration>`` (whole seconds, at least 1 s).

Cron fields are evaluated by ``cronsim`` (a maintained, dependency-free
evaluator that matches Debian cron, written for healthchecks.io) in the
schedule's IANA time zone, so "every day at 02:30 Europe/Berlin" is 02:30
on the wall clock there, summer and winter. Across a DST change cronsim
does what cron does: a wall-clock time that does not exist (spring
forward) runs once at the first minute that does; a time that occurs
twice (fall back) runs once, at its first occurrence, for fixed-hour
expressions, while "every 15 minutes" runs through both hours. The
macros are expanded here to their five fields (robfig/cron's table), since
cronsim has none; nothing else is parsed here.

``@every`` times are ``anchor + k * period``: the anchor is the schedule's
last run (or its creation), so the period is kept from run to run as in
Velero. All times returned are aware UTC datetimes with whole seconds.
Nothing here reads a clock.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import cronsim

from k8ssnap.domain import expiry

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
EVERY = "@every"
DEFAULT_TIME_ZONE = "UTC"
#: :func:`latest_time` counts missed cron times up to this many.
MAX_COUNTED = 1000
_SECOND = timedelta(seconds=1)
#: An IANA zone name as the CRD admits it: at most 64 characters of names joined by "/".
_ZONE_NAME = re.compile(r"(?=.{1,64}$)[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*")
_FIELD = re.compile(r"^[0-9A-Za-z*/,?LW#-]+$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Cadence:
    """A parsed ``spec.schedule``: exactly one of ``cron`` (five fields) and ``every``."""

    expression: str
    cron: str | None = None
    every: timedelta | None = None


def parse(expression: str) -> Cadence:
    """``spec.schedule`` as a :class:`Cadence`; ValueError with a reason a person can act on."""
    text = " ".join(expression.split())
    if not text:
        raise ValueError("spec.schedule is empty; write a cron expression such as '0 * * * *'")
    if text.startswith(EVERY):
        return Cadence(expression=expression, every=_period(text.removeprefix(EVERY).strip(), expression))
    cron = MACROS.get(text.lower(), text)
    if cron.startswith("@"):
        raise ValueError(
            f"spec.schedule {expression!r}: unknown macro; use one of {', '.join(MACROS)} or '@every 1h'"
        )
    fields = cron.split(" ")
    if len(fields) != 5 or not all(_FIELD.match(part) for part in fields):
        raise ValueError(
            f"spec.schedule {expression!r} must have five fields (minute hour day-of-month month"
            " day-of-week), as a CronJob's"
        )
    try:
        cronsim.CronSim(cron, datetime(2000, 1, 1, tzinfo=UTC))
    except cronsim.CronSimError as exc:
        raise ValueError(f"spec.schedule {expression!r} is not a valid cron expression: {exc}") from None
    return Cadence(expression=expression, cron=cron)


def time_zone(name: str | None) -> zoneinfo.ZoneInfo:
    """The IANA zone ``name`` (UTC when unset); ValueError if the system does not know it."""
    wanted = name or DEFAULT_TIME_ZONE
    if not _ZONE_NAME.fullmatch(wanted):  # also keeps paths and odd lengths away from the file lookup
        raise ValueError(
            f"spec.timeZone {wanted[:80]!r} is not an IANA time zone such as 'Europe/Berlin' or 'UTC'"
        )
    try:
        return zoneinfo.ZoneInfo(wanted)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"spec.timeZone {wanted!r} is not an IANA time zone such as 'Europe/Berlin' or 'UTC'"
        ) from None


def next_time(cadence: Cadence, *, after: datetime, anchor: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    """The first scheduled time strictly after ``after``."""
    _aware(after, anchor)
    if cadence.every is not None:
        base = _whole(anchor)
        return base + max((after - base) // cadence.every + 1, 1) * cadence.every
    return next(_cron_times(cadence, start=after, zone=zone))


def latest_time(
    cadence: Cadence, *, after: datetime, until: datetime, anchor: datetime, zone: zoneinfo.ZoneInfo
) -> tuple[datetime | None, int]:
    """The most recent scheduled time in ``(after, until]`` and how many there were.

    The count is exact for ``@every`` and capped at :data:`MAX_COUNTED` for cron (it only
    says how many missed runs were dropped). ``(None, 0)`` when nothing was due. For
    cron, the most recent time is found by bisecting on "is there a time in ``(s, until]``"
    (one cronsim step per probe), so a long outage costs ~30 probes, however frequent the
    expression, rather than one step per missed time.
    """
    _aware(after, until, anchor)
    if until <= after:
        return None, 0
    if cadence.every is not None:
        period = cadence.every
        base = _whole(anchor)
        last_k = (until - base) // period
        first_k = max((after - base) // period + 1, 1)
        if last_k < first_k:
            return None, 0
        return base + last_k * period, last_k - first_k + 1
    first = _next_cron(cadence, after=after, zone=zone)
    if first > until:
        return None, 0
    low, high = first - _SECOND, until  # a time is in (low, until]; none is in (high, until]
    while high - low > _SECOND:
        middle = low + (high - low) // 2
        if _next_cron(cadence, after=middle, zone=zone) <= until:
            low = middle
        else:
            high = middle
    return _next_cron(cadence, after=low, zone=zone), _count(cadence, first=first, until=until, zone=zone)


def _next_cron(cadence: Cadence, *, after: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    return next(_cron_times(cadence, start=after, zone=zone))


def _count(cadence: Cadence, *, first: datetime, until: datetime, zone: zoneinfo.ZoneInfo) -> int:
    found = 1
    for moment in _cron_times(cadence, start=first, zone=zone):
        if moment > until or found >= MAX_COUNTED:
            break
        found += 1
    return found


def _cron_times(cadence: Cadence, *, start: datetime, zone: zoneinfo.ZoneInfo) -> Iterator[datetime]:
    assert cadence.cron is not None
    local = start.astimezone(zone).replace(microsecond=0)
    for moment in cronsim.CronSim(cadence.cron, local):
        yield moment.astimezone(UTC)


def _period(text: str, expression: str) -> timedelta:
    try:
        period = expiry.parse_duration(text)
    except ValueError:
        raise ValueError(
            f"spec.schedule {expression!r}: '@every' takes a Go duration such as '@every 1h30m'"
        ) from None
    if period < timedelta(seconds=1) or period.microseconds:
        raise ValueError(f"spec.schedule {expression!r}: '@every' needs whole seconds, at least 1s")
    return period


def _whole(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def _aware(*moments: datetime) -> None:
    for moment in moments:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"naive datetime {moment!r}: k8ssnap times must be timezone-aware")
