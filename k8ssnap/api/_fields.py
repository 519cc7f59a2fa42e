"""Typed reads from raw JSON, failing with a reason a person can act on.

Private to :mod:`k8ssnap.api`. The CRD schema already rejects most bad
input at admission, but objects can also come from an older CRD, from a
snapshot archive, or from a test, so every read is checked again here. Each
helper takes the dotted path of the field (``spec.ttl``) to name it in the
:class:`~k8ssnap.errors.ConfigError`'s reason.

Go marshals unset strings as ``""`` and unset lists and times as ``null``;
k8s-snap's objects are full of both, so both read as "not set".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from k8ssnap.api._time import parse_timestamp
from k8ssnap.api.constants import DURATION_PATTERN, PHASES, STORE_PHASES, Phase, StorePhase
from k8ssnap.domain.expiry import parse_duration
from k8ssnap.errors import ConfigError

_JSON_TYPE_NAMES = {
    bool: "true/false",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "an object",
}


def describe(value: object) -> str:
    """The JSON type of ``value`` in plain words."""
    if value is None:
        return "null"
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def mapping(value: object, *, field: str) -> Mapping[str, Any]:
    """``value`` as an object; null or absent reads as an empty one."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{field} must be an object, not {describe(value)}")
    return value


def string(obj: Mapping[str, Any], key: str, *, field: str) -> str | None:
    """A string field; absent, null and "" all read as None."""
    value = obj.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{field} must be a string, not {describe(value)}")
    return value


def required_string(obj: Mapping[str, Any], key: str, *, field: str) -> str:
    """A string field that must be present and non-empty."""
    value = string(obj, key, field=field)
    if value is None:
        raise ConfigError(f"{field} is required")
    return value


def boolean(obj: Mapping[str, Any], key: str, *, field: str) -> bool | None:
    """A true/false field; absent or null reads as None."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ConfigError(f"{field} must be true or false, not {describe(value)}")
    return value


def count(obj: Mapping[str, Any], key: str, *, field: str) -> int:
    """A non-negative whole number; absent or null reads as 0."""
    value = obj.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{field} must be a whole number, not {describe(value)}")
    if value < 0:
        raise ConfigError(f"{field} must not be negative, not {value}")
    return value


def strings(obj: Mapping[str, Any], key: str, *, field: str) -> tuple[str, ...] | None:
    """A list of strings; absent or null reads as None (Go's nil slice)."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise ConfigError(f"{field} must be a list of strings, not {describe(value)}")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise ConfigError(f"{field}[{index}] must be a string, not {describe(item)}")
    return tuple(value)


def matching(
    obj: Mapping[str, Any], key: str, pattern: re.Pattern[str], *, field: str, example: str
) -> str | None:
    """A string field that, when set, must match ``pattern``."""
    value = string(obj, key, field=field)
    if value is not None and not pattern.match(value):
        raise ConfigError(f"{field} must look like {example}, not {value!r}")
    return value


# --- fields every status has ---------------------------------------------

_DURATION = re.compile(DURATION_PATTERN)
_PHASE_BY_NAME: dict[str, Phase] = {phase: phase for phase in PHASES}
_STORE_PHASE_BY_NAME: dict[str, StorePhase] = {phase: phase for phase in STORE_PHASES}


def duration(obj: Mapping[str, Any], key: str, *, field: str) -> str | None:
    """A Go duration string such as "720h"; absent, null and "" read as None.

    Checked in full here, range included (Go's ``time.Duration`` holds at most
    2562047h), so that a value the pattern admits but arithmetic refuses fails
    the resource at once instead of after its work is done.
    """
    value = matching(obj, key, _DURATION, field=field, example='a duration such as "720h" or "1h30m"')
    if value is not None:
        try:
            parse_duration(value)
        except ValueError:
            raise ConfigError(
                f"{field} {value!r} is out of range: a Go duration is at most 2562047h (about 292 years)"
            ) from None
    return value


def timestamp(obj: Mapping[str, Any], key: str, *, field: str) -> datetime | None:
    """An RFC 3339 time as an aware UTC datetime; absent, null and "" read as None."""
    return parse_timestamp(obj.get(key), field=field)


def phase(status: Mapping[str, Any]) -> Phase:
    """``status.phase`` of a Snapshot or Restore; absent reads as ""."""
    value = status.get("phase") or ""
    found = _PHASE_BY_NAME.get(value) if isinstance(value, str) else None
    if found is None:
        raise ConfigError(f"status.phase {value!r} is not one of: {', '.join(PHASES[1:])}")
    return found


def store_phase(status: Mapping[str, Any]) -> StorePhase:
    """``status.phase`` of an ObjectstoreConfig; absent reads as ""."""
    value = status.get("phase") or ""
    found = _STORE_PHASE_BY_NAME.get(value) if isinstance(value, str) else None
    if found is None:
        raise ConfigError(f"status.phase {value!r} is not one of: {', '.join(STORE_PHASES[1:])}")
    return found


def observed_generation(status: Mapping[str, Any]) -> int:
    """``status.observedGeneration``; 0 when absent."""
    return count(status, "observedGeneration", field="status.observedGeneration")
