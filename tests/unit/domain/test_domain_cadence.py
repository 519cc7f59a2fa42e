"""spec.schedule and spec.timeZone: parsing, next and most recent times, across DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from k8ssnap.domain import cadence

UTC_ZONE = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def u(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(
    ("expression", "cron", "every"),
    [
        ("0 * * * *", "0 * * * *", None),
        ("  */5   1-3 * * MON-FRI ", "*/5 1-3 * * MON-FRI", None),
        ("@hourly", "0 * * * *", None),
        ("@daily", "0 0 * * *", None),
        ("@midnight", "0 0 * * *", None),
        ("@weekly", "0 0 * * 0", None),
        ("@monthly", "0 0 1 * *", None),
        ("@yearly", "0 0 1 1 *", None),
        ("@annually", "0 0 1 1 *", None),
        ("@every 10s", None, timedelta(seconds=10)),
        ("@every 1h30m", None, timedelta(minutes=90)),
    ],
)
def test_parse_accepts_what_cronjob_and_velero_accept(
    expression: str, cron: str | None, every: timedelta | None
) -> None:
    parsed = cadence.parse(expression)
    assert (parsed.cron, parsed.every) == (cron, every)


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("", "empty"),
        ("* * * *", "five fields"),
        ("0 0 * * * *", "five fields"),  # seconds: cronsim would take them, CronJob does not
        ("61 * * * *", "not a valid cron expression"),
        ("0 0 30 2 *", "not a valid cron expression"),
        ("@reboot", "unknown macro"),
        ("@every", "Go duration"),
        ("@every 10", "Go duration"),
        ("@every 500ms", "at least 1s"),
        ("@every 1.5s", "whole seconds"),
        ("0 0 * * * ; rm -rf /", "five fields"),
    ],
)
def test_parse_refuses_with_a_reason(expression: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        cadence.parse(expression)


@pytest.mark.parametrize("name", ["", None, "UTC", "Europe/Berlin", "America/New_York"])
def test_time_zone_known(name: str | None) -> None:
    assert cadence.time_zone(name).key == (name or "UTC")


@pytest.mark.parametrize("name", ["Mars/Olympus", "../../etc/passwd", "Europe/"])
def test_time_zone_unknown(name: str) -> None:
    with pytest.raises(ValueError, match="IANA"):
        cadence.time_zone(name)


@pytest.mark.parametrize(
    ("expression", "zone", "after", "expected"),
    [
        # 02:30 daily in Berlin: the day the clocks go forward 02:30 does not exist -> 03:00 CEST
        ("30 2 * * *", BERLIN, "2026-03-28T12:00:00+01:00", "2026-03-29T03:00:00+02:00"),
        ("30 2 * * *", BERLIN, "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"),
        # the day they go back 02:30 happens twice: one run, at the first
        ("30 2 * * *", BERLIN, "2026-10-24T12:00:00+02:00", "2026-10-25T02:30:00+02:00"),
        ("30 2 * * *", BERLIN, "2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"),
        # hourly runs through both 02:00s of the long night
        ("0 * * * *", BERLIN, "2026-10-25T01:30:00+02:00", "2026-10-25T02:00:00+02:00"),
        ("0 * * * *", BERLIN, "2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00"),
        ("0 * * * *", BERLIN, "2026-10-25T02:00:00+01:00", "2026-10-25T03:00:00+01:00"),
        # 09:00 in New York is 14:00 UTC in winter, 13:00 UTC in summer
        ("0 9 * * *", NEW_YORK, "2026-03-07T12:00:00+00:00", "2026-03-07T14:00:00+00:00"),
        ("0 9 * * *", NEW_YORK, "2026-03-08T12:00:00+00:00", "2026-03-08T13:00:00+00:00"),
        ("0 9 * * *", UTC_ZONE, "2026-03-08T12:00:00+00:00", "2026-03-09T09:00:00+00:00"),
        ("@daily", UTC_ZONE, "2026-12-31T23:59:59+00:00", "2027-01-01T00:00:00+00:00"),
    ],
)
def test_next_cron_time_in_a_time_zone(expression: str, zone: ZoneInfo, after: str, expected: str) -> None:
    found = cadence.next_time(cadence.parse(expression), after=u(after), anchor=T0, zone=zone)
    assert found == u(expected)
    assert found.tzinfo is UTC


@pytest.mark.parametrize(
    ("anchor", "after", "expected"),
    [
        ("2026-01-01T00:00:00", "2026-01-01T00:00:00", "2026-01-01T00:00:10"),
        ("2026-01-01T00:00:00", "2026-01-01T00:00:09", "2026-01-01T00:00:10"),
        ("2026-01-01T00:00:00", "2026-01-01T00:00:10", "2026-01-01T00:00:20"),
        ("2026-01-01T00:00:00", "2026-01-01T00:01:03", "2026-01-01T00:01:10"),
        ("2026-01-01T00:00:05", "2025-12-31T00:00:00", "2026-01-01T00:00:15"),
        ("2026-01-01T00:00:00.700", "2026-01-01T00:00:00.800", "2026-01-01T00:00:10"),
    ],
)
def test_next_every_time_keeps_the_period_from_the_anchor(anchor: str, after: str, expected: str) -> None:
    found = cadence.next_time(
        cadence.parse("@every 10s"), after=u(after + "+00:00"),
        anchor=u(anchor + "+00:00"), zone=BERLIN,
    )  # fmt: skip
    assert found == u(expected + "+00:00")


@pytest.mark.parametrize(
    ("expression", "after", "until", "latest", "count"),
    [
        ("@every 10s", "00:00:00", "00:00:09", None, 0),
        ("@every 10s", "00:00:00", "00:00:10", "00:00:10", 1),
        ("@every 10s", "00:00:00", "00:00:35", "00:00:30", 3),
        ("@every 10s", "00:00:30", "00:00:30", None, 0),
        ("*/15 * * * *", "00:00:00", "00:14:59", None, 0),
        ("*/15 * * * *", "00:00:00", "00:15:00", "00:15:00", 1),
        ("*/15 * * * *", "00:00:00", "02:07:00", "02:00:00", 8),
        ("*/15 * * * *", "00:15:00", "00:15:00", None, 0),
    ],
)
def test_latest_time_and_count(
    expression: str, after: str, until: str, latest: str | None, count: int
) -> None:
    day = "2026-05-01T"
    found = cadence.latest_time(
        cadence.parse(expression), after=u(f"{day}{after}+00:00"), until=u(f"{day}{until}+00:00"),
        anchor=u(f"{day}{after}+00:00"), zone=UTC_ZONE,
    )  # fmt: skip
    assert found == (None if latest is None else u(f"{day}{latest}+00:00"), count)


def test_latest_cron_time_after_a_long_outage_is_found_quickly() -> None:
    minutely = cadence.parse("* * * * *")
    after, until = u("2020-01-01T00:00:00+00:00"), u("2026-01-01T00:00:30+00:00")
    latest, count = cadence.latest_time(minutely, after=after, until=until, anchor=after, zone=UTC_ZONE)
    assert latest == u("2026-01-01T00:00:00+00:00")
    assert count == cadence.MAX_COUNTED


@pytest.mark.parametrize(
    ("expression", "until", "latest"),
    [
        # every minute of March only: found at the end of March, months later, without stepping
        ("* * * 3 *", "2026-09-01T00:00:00+00:00", "2026-03-31T23:59:00+02:00"),
        ("0 0 29 2 *", "2031-01-01T00:00:00+00:00", "2028-02-29T00:00:00+01:00"),
        ("30 2 * * *", "2026-03-29T02:59:00+02:00", "2026-03-28T02:30:00+01:00"),
        ("30 2 * * *", "2026-03-29T03:00:00+02:00", "2026-03-29T03:00:00+02:00"),
    ],
)
def test_latest_cron_time_in_sparse_and_dst_cases(expression: str, until: str, latest: str) -> None:
    after = u("2025-06-01T00:00:00+00:00")
    found, _ = cadence.latest_time(
        cadence.parse(expression), after=after, until=u(until), anchor=after, zone=BERLIN
    )
    assert found == u(latest)


def test_latest_yearly_time_over_a_year_back() -> None:
    yearly = cadence.parse("@yearly")
    after, until = u("2024-06-01T00:00:00+00:00"), u("2026-03-01T00:00:00+00:00")
    assert cadence.latest_time(yearly, after=after, until=until, anchor=after, zone=UTC_ZONE)[0] == u(
        "2026-01-01T00:00:00+00:00"
    )


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        cadence.next_time(cadence.parse("@hourly"), after=datetime(2026, 1, 1), anchor=T0, zone=UTC_ZONE)
