"""Go durations, RFC 3339 times and expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from k8ssnap.domain.expiry import (
    effective_ttl,
    format_duration,
    is_expired,
    parse_duration,
    restore_expiry,
    seconds_until,
    snapshot_expiry,
)
from k8ssnap.domain.timestamps import format_time, parse_time

T0 = datetime(2019, 5, 20, 3, 45, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("720h", timedelta(hours=720)),
        ("168h0m0s", timedelta(hours=168)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("30s", timedelta(seconds=30)),
        ("1.5h", timedelta(minutes=90)),
        ("500ms", timedelta(milliseconds=500)),
        ("0", timedelta(0)),
        ("0s", timedelta(0)),
        ("+5m", timedelta(minutes=5)),
        ("1m30s250ms", timedelta(minutes=1, seconds=30, milliseconds=250)),
        (".5s", timedelta(milliseconds=500)),
        ("1.s", timedelta(seconds=1)),
        ("10us", timedelta(microseconds=10)),
        ("10\u00b5s", timedelta(microseconds=10)),
        ("1500ns", timedelta(microseconds=1)),  # below a microsecond is truncated
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected a Go duration"),
        ("-1h", "negative"),
        ("10", "expected a Go duration"),  # no unit
        ("1d", "expected a Go duration"),  # no days in Go
        ("h", "expected a Go duration"),
        ("1h 30m", "expected a Go duration"),
        ("1.2.3s", "expected a Go duration"),
        (".s", "expected a Go duration"),
        ("3000000h", "out of range"),
    ],
)
def test_parse_duration_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(text)


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        (timedelta(hours=720), "720h0m0s"),
        (timedelta(hours=1, minutes=30), "1h30m0s"),
        (timedelta(minutes=1, seconds=30), "1m30s"),
        (timedelta(seconds=30), "30s"),
        (timedelta(seconds=1, milliseconds=500), "1.5s"),
        (timedelta(milliseconds=500), "500ms"),
        (timedelta(microseconds=1500), "1.5ms"),
        (timedelta(microseconds=10), "10\u00b5s"),
        (timedelta(0), "0s"),
        (timedelta(hours=1, microseconds=1), "1h0m0.000001s"),
    ],
)
def test_format_duration_and_round_trip(duration: timedelta, expected: str) -> None:
    assert format_duration(duration) == expected
    assert parse_duration(expected) == duration


def test_format_duration_rejects_negative() -> None:
    with pytest.raises(ValueError):
        format_duration(timedelta(seconds=-1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019-05-20T03:45:08Z", T0),
        ("2019-05-20T12:45:08+09:00", T0),
        ("2019-05-20t03:45:08z", T0),
        ("2019-05-20T03:45:08.123456789Z", T0.replace(microsecond=123456)),
    ],
)
def test_parse_time(text: str, expected: datetime) -> None:
    parsed = parse_time(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text", ["2019-05-20", "2019-05-20T03:45:08", "2019-13-20T03:45:08Z", "yesterday", ""]
)
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time(text)


def test_format_time() -> None:
    assert format_time(T0.replace(microsecond=999)) == "2019-05-20T03:45:08Z"
    assert format_time(T0.astimezone(timezone(timedelta(hours=9)))) == "2019-05-20T03:45:08Z"
    with pytest.raises(ValueError, match="naive"):
        format_time(datetime(2019, 5, 20))


@pytest.mark.parametrize(
    ("ttl", "until", "expected"),
    [
        (None, None, T0 + timedelta(hours=720)),
        ("", None, T0 + timedelta(hours=720)),
        ("1h", None, T0 + timedelta(hours=1)),
        ("1h", T0 + timedelta(days=2), T0 + timedelta(days=2)),  # explicit until wins
    ],
)
def test_snapshot_expiry(ttl: str | None, until: datetime | None, expected: datetime) -> None:
    assert snapshot_expiry(taken_at=T0, ttl=ttl, available_until=until) == expected


def test_restore_expiry_defaults_to_a_week() -> None:
    assert restore_expiry(taken_at=T0, ttl=None, available_until=None) == T0 + timedelta(days=7)
    assert restore_expiry(taken_at=T0, ttl="2h", available_until=None) == T0 + timedelta(hours=2)


def test_expiry_rejects_bad_ttl() -> None:
    with pytest.raises(ValueError):
        snapshot_expiry(taken_at=T0, ttl="forever", available_until=None)


def test_effective_ttl() -> None:
    assert effective_ttl(taken_at=T0, until=T0 + timedelta(hours=2)) == "2h0m0s"
    assert effective_ttl(taken_at=T0, until=T0 - timedelta(hours=2)) == "0s"


@pytest.mark.parametrize(
    ("now", "expired", "seconds"),
    [
        (T0 - timedelta(seconds=90), False, 90.0),
        (T0, True, 0.0),
        (T0 + timedelta(seconds=1), True, 0.0),
    ],
)
def test_is_expired_and_seconds_until(now: datetime, expired: bool, seconds: float) -> None:
    assert is_expired(T0, now) is expired
    assert seconds_until(T0, now) == seconds


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        is_expired(T0, datetime(2020, 1, 1))
