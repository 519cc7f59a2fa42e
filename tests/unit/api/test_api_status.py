"""Status builders: every k8s-snap field, always, in k8s-snap's form."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from k8ssnap.api import status
from k8ssnap.api.resources import parse_objectstore_config, parse_restore, parse_snapshot
from k8ssnap.api.status import RestoreOutcome
from k8ssnap.domain.entries import ResultCounts
from tests.unit.api import api_reference_examples as ref

T0 = datetime(2019, 5, 20, 3, 45, 8, 123456, tzinfo=UTC)
UNTIL = datetime(2019, 6, 19, 3, 45, 8, tzinfo=UTC)

SNAPSHOT_FIELDS = set(ref.README_SNAPSHOT_COMPLETED_STATUS)
RESTORE_FIELDS = set(ref.README_RESTORE_COMPLETED_STATUS)
SNAPSHOT_EXTRAS = {"storedSha256", "skippedApis", "observedGeneration"}
RESTORE_EXTRAS = {"observedGeneration", "converted", "numConverted"}


def completed_snapshot(**overrides: Any) -> Mapping[str, Any]:
    arguments: dict[str, Any] = {
        "contents": ["/api/v1/namespaces/b/configmaps/x", "/api/v1/namespaces/a/configmaps/y"],
        "resource_version": "4521912",
        "timestamp": T0,
        "stored_file_size": 138145,
        "stored_timestamp": T0,
        "available_until": UNTIL,
        **overrides,
    }
    return status.snapshot_completed(**arguments)


OUTCOME = RestoreOutcome(
    excluded=["/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/x,(not-binded-to-ns)"],
    created=["/api/v1/namespaces/fluent-bit", "/api/v1/namespaces/fluent-bit/configmaps/c"],
    already_existed=["/api/v1/namespaces/default"],
    failed=["/api/v1/namespaces/x/secrets/s,forbidden"],
    num_preference_excluded=319,
    num_snapshot_contents=429,
)

SNAPSHOT_BUILDERS: dict[str, Callable[[], Mapping[str, Any]]] = {
    "in_queue": status.snapshot_in_queue,
    "in_progress": lambda: status.snapshot_in_progress(observed_generation=2),
    "completed": completed_snapshot,
    "failed": lambda: status.snapshot_failed("Unauthorized"),
    "invalidated": lambda: status.snapshot_invalidated(
        _parsed_snapshot_status(completed_snapshot()), reason=status.REASON_FILE_NOT_FOUND
    ),
}
RESTORE_BUILDERS: dict[str, Callable[[], Mapping[str, Any]]] = {
    "in_queue": status.restore_in_queue,
    "in_progress": lambda: status.restore_in_progress(num_snapshot_contents=429),
    "completed": lambda: status.restore_completed(
        outcome=OUTCOME, resource_version="8514809", timestamp=T0, preserve_until=UNTIL
    ),
    "failed": lambda: status.restore_failed(status.REASON_SNAPSHOT_NOT_COMPLETED),
    "failed_partway": lambda: status.restore_failed("boom", outcome=OUTCOME),
}


def _parsed_snapshot_status(raw: Mapping[str, Any]) -> Any:
    obj = ref.load_yaml(ref.README_SNAPSHOT)
    obj["status"] = dict(raw)
    return parse_snapshot(obj).status


def _parsed_restore_status(raw: Mapping[str, Any]) -> Any:
    obj = ref.load_yaml(ref.README_RESTORE)
    obj["status"] = dict(raw)
    return parse_restore(obj).status


@pytest.mark.parametrize("name", SNAPSHOT_BUILDERS)
def test_snapshot_builders_emit_every_field(name: str) -> None:
    built = SNAPSHOT_BUILDERS[name]()
    assert set(built) == SNAPSHOT_FIELDS | SNAPSHOT_EXTRAS
    orjson.dumps(built)  # plain JSON


@pytest.mark.parametrize("name", RESTORE_BUILDERS)
def test_restore_builders_emit_every_field(name: str) -> None:
    built = RESTORE_BUILDERS[name]()
    assert set(built) == RESTORE_FIELDS | RESTORE_EXTRAS
    orjson.dumps(built)


@pytest.mark.parametrize("name", SNAPSHOT_BUILDERS)
def test_snapshot_builders_round_trip(name: str) -> None:
    built = SNAPSHOT_BUILDERS[name]()
    assert status.snapshot_status_json(_parsed_snapshot_status(built)) == built


@pytest.mark.parametrize("name", RESTORE_BUILDERS)
def test_restore_builders_round_trip(name: str) -> None:
    built = RESTORE_BUILDERS[name]()
    assert status.restore_status_json(_parsed_restore_status(built)) == built


def _reference_part(built: Mapping[str, Any], fields: set[str]) -> dict[str, Any]:
    return {key: value for key, value in built.items() if key in fields}


def test_snapshot_failed_is_the_readme_example() -> None:
    built = status.snapshot_failed("Unauthorized")
    assert _reference_part(built, SNAPSHOT_FIELDS) == ref.README_SNAPSHOT_FAILED_STATUS
    assert (built["storedSha256"], built["skippedApis"], built["observedGeneration"]) == (
        "",
        None,
        0,
    )


def test_restore_failed_is_the_readme_example() -> None:
    built = status.restore_failed("Snapshot data is not in status 'Completed'")
    assert _reference_part(built, RESTORE_FIELDS) == ref.README_RESTORE_FAILED_STATUS


def test_readme_examples_round_trip() -> None:
    for example in (ref.README_SNAPSHOT_COMPLETED_STATUS, ref.README_SNAPSHOT_FAILED_STATUS):
        built = status.snapshot_status_json(_parsed_snapshot_status(example))
        assert _reference_part(built, SNAPSHOT_FIELDS) == example
    for example in (ref.README_RESTORE_COMPLETED_STATUS, ref.README_RESTORE_FAILED_STATUS):
        restored = status.restore_status_json(_parsed_restore_status(example))
        assert _reference_part(restored, RESTORE_FIELDS) == example


def test_snapshot_completed() -> None:
    built = completed_snapshot(skipped_apis=["metrics.k8s.io/v1beta1/pods"], stored_sha256="ab" * 32)
    assert built["phase"] == "Completed"
    assert built["reason"] == ""
    assert built["contents"] == [
        "/api/v1/namespaces/a/configmaps/y",
        "/api/v1/namespaces/b/configmaps/x",
    ]
    assert built["numberOfContents"] == 2
    assert built["snapshotResourceVersion"] == "4521912"
    assert built["snapshotTimestamp"] == "2019-05-20T03:45:08Z"  # whole seconds, like metav1.Time
    assert built["storedTimestamp"] == "2019-05-20T03:45:08Z"
    assert built["storedFileSize"] == 138145
    assert built["availableUntil"] == "2019-06-19T03:45:08Z"
    assert built["skippedApis"] == ["metrics.k8s.io/v1beta1/pods"]
    assert built["storedSha256"] == "ab" * 32


def test_times_are_written_in_utc() -> None:
    tokyo = timezone(timedelta(hours=9))
    built = completed_snapshot(timestamp=datetime(2019, 5, 20, 12, 45, 8, tzinfo=tokyo))
    assert built["snapshotTimestamp"] == "2019-05-20T03:45:08Z"


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        completed_snapshot(timestamp=datetime(2019, 5, 20))


def test_in_queue_and_in_progress_carry_nothing_stale() -> None:
    queued = status.snapshot_in_queue(available_until=UNTIL, observed_generation=4)
    assert queued == {
        "phase": "InQueue",
        "reason": "",
        "contents": None,
        "numberOfContents": 0,
        "snapshotResourceVersion": "",
        "snapshotTimestamp": None,
        "storedFileSize": 0,
        "storedTimestamp": None,
        "availableUntil": "2019-06-19T03:45:08Z",
        "storedSha256": "",
        "skippedApis": None,
        "observedGeneration": 4,
    }
    assert status.snapshot_in_progress()["phase"] == "InProgress"
    running = status.restore_in_progress(num_snapshot_contents=429)
    assert (running["phase"], running["numSnapshotContents"], running["created"]) == (
        "InProgress",
        429,
        None,
    )


def test_restore_completed_counts_follow_the_lists() -> None:
    built = status.restore_completed(
        outcome=OUTCOME, resource_version="8514809", timestamp=T0, preserve_until=UNTIL
    )
    assert built["phase"] == "Completed"
    assert (built["numExcluded"], built["numCreated"], built["numUpdated"]) == (1, 2, 0)
    assert (built["numAlreadyExisted"], built["numFailed"]) == (1, 1)
    assert built["updated"] is None  # Go's nil slice
    assert built["created"] == list(OUTCOME.created)
    assert (built["numPreferenceExcluded"], built["numSnapshotContents"]) == (319, 429)
    assert built["restoreResourceVersion"] == "8514809"
    assert built["restoreTimestamp"] == "2019-05-20T03:45:08Z"
    assert built["preserveUntil"] == "2019-06-19T03:45:08Z"


def test_restore_failed_keeps_partial_results() -> None:
    built = status.restore_failed("The destination refused the connection", outcome=OUTCOME)
    assert (built["phase"], built["reason"]) == ("Failed", "The destination refused the connection")
    assert built["numCreated"] == 2
    assert built["restoreTimestamp"] is None


def test_snapshot_invalidated_keeps_what_was_recorded() -> None:
    previous = _parsed_snapshot_status(completed_snapshot())
    built = status.snapshot_invalidated(previous, reason=status.REASON_FILE_MISMATCH)
    assert (built["phase"], built["reason"]) == ("Failed", status.REASON_FILE_MISMATCH)
    assert built["numberOfContents"] == 2
    assert built["storedFileSize"] == 138145
    assert built["snapshotResourceVersion"] == "4521912"


def test_replace_then_serialise_for_other_transitions() -> None:
    previous = _parsed_snapshot_status(completed_snapshot())
    later = datetime(2030, 1, 1, tzinfo=UTC)
    built = status.snapshot_status_json(dataclasses.replace(previous, available_until=later))
    assert built["availableUntil"] == "2030-01-01T00:00:00Z"
    assert built["phase"] == "Completed"


@pytest.mark.parametrize(
    "build",
    [
        lambda: status.snapshot_failed(""),
        lambda: status.restore_failed("  "),
        lambda: status.objectstore_unavailable("", checked_at=T0),
        lambda: completed_snapshot(stored_file_size=-1),
        lambda: status.restore_in_progress(num_snapshot_contents=-1),
    ],
)
def test_programming_errors_are_refused(build: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match=r"reason|negative"):
        build()


def test_long_lists_are_cut_but_counts_stay() -> None:
    # each entry costs a third of the budget (its length plus quotes and comma)
    size = status.STATUS_LISTS_BUDGET // 3 - 3
    paths = [f"/api/v1/namespaces/default/configmaps/c{i:03}".ljust(size, "x") for i in range(10)]
    built = completed_snapshot(contents=paths)
    assert built["contents"] == paths[:3]
    assert built["numberOfContents"] == 10
    restore = status.restore_completed(
        outcome=RestoreOutcome(created=paths, failed=["/api/v1/x,boom"]),
        resource_version="1",
        timestamp=T0,
        preserve_until=UNTIL,
    )
    assert restore["failed"] == ["/api/v1/x,boom"]  # failures are kept first
    assert restore["created"] == paths[:2]
    assert (restore["numCreated"], restore["numFailed"]) == (10, 1)


def test_counts_of_lists_cut_before_the_status_win_over_their_lengths() -> None:
    """The controller's ledger keeps only a sorted prefix of each list; the counts it made stay."""
    outcome = RestoreOutcome(
        created=["/api/v1/namespaces/a"],
        failed=["/api/v1/x,boom"],
        counts=ResultCounts(created=140_000, failed=3, excluded=7),
    )
    restore = status.restore_completed(
        outcome=outcome, resource_version="1", timestamp=T0, preserve_until=UNTIL
    )
    assert restore["created"] == ["/api/v1/namespaces/a"]
    assert (restore["numCreated"], restore["numFailed"], restore["numExcluded"]) == (140_000, 3, 7)
    assert restore["excluded"] is None


def test_default_budget_fits_a_large_cluster() -> None:
    paths = [f"/apis/apps/v1/namespaces/team-{i % 50}/deployments/app-{i}" for i in range(15000)]
    built = completed_snapshot(contents=paths)
    assert len(orjson.dumps(built)) < 1_100_000
    assert built["numberOfContents"] == 15000


# --- ObjectstoreConfig ----------------------------------------------------


def test_objectstore_available() -> None:
    built = status.objectstore_available(checked_at=T0, observed_generation=3)
    assert built == {
        "phase": "Available",
        "reason": "",
        "bucketExists": True,
        "lastChecked": "2019-05-20T03:45:08Z",
        "observedGeneration": 3,
    }


def test_objectstore_unavailable_round_trips() -> None:
    built = status.objectstore_unavailable(
        "The bucket k8s-snap does not exist", checked_at=T0, bucket_exists=False
    )
    assert (built["phase"], built["bucketExists"]) == ("Unavailable", False)
    obj = ref.load_yaml(ref.README_OBJECTSTORE_CONFIG)
    obj["status"] = dict(built)
    parsed = parse_objectstore_config(obj).status
    assert status.objectstore_status_json(parsed) == built
    unknown = status.objectstore_unavailable("The access key was refused", checked_at=T0)
    assert unknown["bucketExists"] is None
