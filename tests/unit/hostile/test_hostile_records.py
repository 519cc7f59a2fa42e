"""Hostile stored records: start-up's recreate-from-bucket survives any one record.

Issue 11, fault 4: a stored record whose ``snapshotTimestamp`` is
``9999-12-31T23:00Z`` made start-up's recreate-from-bucket raise
OverflowError and exit the process, on every restart. One bad record must
cost only itself: logged, an Event posted, skipped.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest

from k8ssnap.api import constants
from k8ssnap.archive.index import RecordedSpec, StoredRecord
from k8ssnap.controllers.housekeeping import RECORD_SKIPPED, Housekeeper
from k8ssnap.domain import expiry, timestamps
from k8ssnap.store import layout
from k8ssnap.testing.adapters import FakeStores
from tests.unit.controllers.fakes import (
    NS,
    World,
    archive_index,
    objectstore_config,
    utcnow,
    world,
)

YEAR_9999 = dt.datetime(9999, 12, 31, 23, 0, tzinfo=dt.UTC)


def record(name: str, *, taken: dt.datetime, ttl: str | None = "720h") -> bytes:
    return StoredRecord(
        index=archive_index(name, taken=taken),
        sha256="ef" * 32,
        size=10,
        spec=RecordedSpec(cluster_name="c1", ttl=ttl, available_until=None, objectstore_config="store"),
    ).to_json()


def bucket(
    store: FakeStores, records: dict[str, bytes], *, sizes: dict[str, int] | None = None
) -> tuple[World, Housekeeper]:
    w = world(stores=store)
    w.put(constants.OBJECTSTORE_CONFIG, objectstore_config("store"))
    for name, body in records.items():
        size = (sizes or {}).get(name)
        store.bucket.add(f"team/{name}.tgz", b"x" * 10, metadata=layout.archive_metadata(name), size=size)
        store.bucket.add(f"team/{name}.tgz.record.json", body)
    return w, Housekeeper(w.ctx)


def created(w: World) -> list[str]:
    return [c.body["metadata"]["name"] for c in w.kube.writes() if c.method == "create"]


def status_of(w: World, name: str) -> dict[str, Any]:
    path = constants.SNAPSHOT.path(NS, name, status=True)
    [body] = [c.body["status"] for c in w.kube.writes() if c.path == path]
    return dict(body)


@pytest.mark.parametrize("ttl", ["720h", "2562047h", None])
async def test_fault_4_a_record_taken_in_year_9999_does_not_stop_start_up(
    store: FakeStores, ttl: str | None
) -> None:
    w, hk = bucket(
        store,
        {
            "a-good": record("a-good", taken=utcnow()),
            "b-future": record("b-future", taken=YEAR_9999, ttl=ttl),
        },
    )

    assert await hk.restore_snapshots() == 2

    assert sorted(created(w)) == ["a-good", "b-future"]
    assert status_of(w, "b-future")["availableUntil"] == timestamps.format_time(expiry.LATEST)


def test_fault_4_expiry_arithmetic_past_year_9999_is_held_at_the_end() -> None:
    assert expiry.snapshot_expiry(taken_at=YEAR_9999, ttl="720h", available_until=None) == expiry.LATEST
    assert expiry.restore_expiry(taken_at=YEAR_9999, ttl=None, available_until=None) == expiry.LATEST


async def test_fault_4_any_error_about_one_record_costs_only_that_record(store: FakeStores) -> None:
    """A bug met by one record is logged, posted on the ObjectstoreConfig and skipped; nothing half-made."""
    # the bucket reports a size no status can hold: building "b"'s status raises (a ValueError)
    w, hk = bucket(store, {name: record(name, taken=utcnow()) for name in "abc"}, sizes={"b": -1})

    assert await hk.restore_snapshots() == 2

    assert sorted(created(w)) == ["a", "c"]  # "b" is not left half-made, without a status
    [(kind, _, message)] = [e for e in w.kube.events() if e[1] == RECORD_SKIPPED]
    assert kind == "Warning"
    assert message.startswith("Snapshot b not recreated from the bucket: internal error: ValueError: ")
    [event] = [b for b in w.kube.event_bodies() if b["reason"] == RECORD_SKIPPED]
    assert event["involvedObject"]["kind"] == "ObjectstoreConfig"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"[]", id="not-an-object"),
        pytest.param(orjson.dumps({"format": "k8ssnap-record", "version": 1}), id="fields-missing"),
        pytest.param(
            record("b", taken=utcnow()).replace(b'"size":10', b'"size":18446744073709551616'),
            id="size-too-big",
        ),
        pytest.param(record("b", taken=utcnow(), ttl="9999999h"), id="ttl-out-of-range"),
    ],
)
async def test_fault_4_an_unreadable_record_is_skipped(store: FakeStores, body: bytes) -> None:
    w, hk = bucket(store, {"a": record("a", taken=utcnow()), "b": body})

    assert await hk.restore_snapshots() == 1

    assert created(w) == ["a"]
