"""Hostile custom resources: values the CRD pattern admits but arithmetic refuses fail at parse time.

Issue 11, fault 6: ``ttl: 9999999h`` passed the CRD and the parser, then
raised ValueError after the engine had finished, so the snapshot was taken
again on every retry. Dates whose offset carries them out of years 1-9999 in
UTC raised OverflowError, which no reconciler expects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from k8ssnap.api import constants
from k8ssnap.api.resources import parse_restore, parse_snapshot
from k8ssnap.domain import expiry
from k8ssnap.errors import ConfigError
from tests.unit.controllers.fakes import restore, snapshot

CRD = Path(__file__).resolve().parents[3] / "artifacts" / "crd.yaml"
PARSERS = {"snapshot": (snapshot, parse_snapshot), "restore": (restore, parse_restore)}


def _raw(kind: str, **spec: Any) -> Any:
    make, _ = PARSERS[kind]
    base = {"clusterName": "c1"} if kind == "snapshot" else {"snapshotName": "snap"}
    return make(spec={**base, **spec})


@pytest.mark.parametrize("kind", PARSERS)
@pytest.mark.parametrize("ttl", ["9999999h", "2562048h", "9223372036854775808ns", "99999999999999999999s"])
def test_fault_6_a_ttl_beyond_go_range_is_refused_by_the_parser(kind: str, ttl: str) -> None:
    _, parse = PARSERS[kind]
    with pytest.raises(ConfigError, match=r"spec\.ttl .* is out of range"):
        parse(_raw(kind, ttl=ttl))


@pytest.mark.parametrize("kind", PARSERS)
@pytest.mark.parametrize("ttl", ["2562047h", "720h", "0", "1.5h"])
def test_fault_6_a_ttl_within_go_range_is_accepted(kind: str, ttl: str) -> None:
    _, parse = PARSERS[kind]
    assert parse(_raw(kind, ttl=ttl)).spec.ttl == ttl


@pytest.mark.parametrize("kind", PARSERS)
@pytest.mark.parametrize("until", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_fault_6_a_date_outside_the_calendar_in_utc_is_refused(kind: str, until: str) -> None:
    _, parse = PARSERS[kind]
    with pytest.raises(ConfigError, match=r"spec\.availableUntil"):
        parse(_raw(kind, availableUntil=until))


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_fault_6_the_domain_time_parser_refuses_it_with_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="invalid time"):
        expiry.parse_time(text)


def test_fault_6_the_crd_refuses_a_ttl_out_of_go_range() -> None:
    """A CEL rule evaluates the ttl as a Go duration, which fails (and rejects) out of range."""
    docs = {d["spec"]["names"]["kind"]: d for d in yaml.safe_load_all(CRD.read_text()) if d}
    for kind in (constants.SNAPSHOT.kind, constants.RESTORE.kind):
        schema = docs[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        ttl = schema["properties"]["spec"]["properties"]["ttl"]
        assert ttl["maxLength"] == 64
        assert [rule["rule"] for rule in ttl["x-kubernetes-validations"]] == [
            "duration(self) >= duration('0s')"
        ]
