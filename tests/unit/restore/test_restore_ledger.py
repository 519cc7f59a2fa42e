"""The ledger: one list per object, sorted results, truncated messages, progress."""

from __future__ import annotations

from datetime import UTC, datetime

from k8ssnap.restore.ledger import Ledger, Outcome

T0 = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def test_results_are_sorted_and_formatted() -> None:
    ticks: list[int] = []
    ledger = Ledger(progress=ticks.append)
    ledger.placed("/api/v1/namespaces/b", Outcome.CREATED)
    ledger.placed("/api/v1/namespaces/a", Outcome.CREATED)
    ledger.placed("/api/v1/namespaces/a/configmaps/c", Outcome.ALREADY_EXISTED)
    ledger.placed("/api/v1/namespaces/a/configmaps/u", Outcome.UPDATED)
    ledger.excluded("/api/v1/namespaces/a/endpoints/web", "service-exists")
    ledger.failed("/api/v1/namespaces/a/secrets/s", "line one\n  line two " + "x" * 400)

    result = ledger.result(
        num_preference_excluded=3, num_snapshot_contents=9, resource_version="77", timestamp=T0
    )

    assert result.created == ("/api/v1/namespaces/a", "/api/v1/namespaces/b")
    assert result.already_existed == ("/api/v1/namespaces/a/configmaps/c",)
    assert result.updated == ("/api/v1/namespaces/a/configmaps/u",)
    assert result.excluded == ("/api/v1/namespaces/a/endpoints/web,(service-exists)",)
    (failed,) = result.failed
    path, message = failed.split(",", 1)
    assert path == "/api/v1/namespaces/a/secrets/s"
    assert message.startswith("line one line two xxx")
    assert message.endswith(".....") and len(message) == 305
    assert ticks == [1, 2, 3, 4, 5, 6]
    assert (result.num_preference_excluded, result.num_snapshot_contents) == (3, 9)
    assert (result.resource_version, result.timestamp) == ("77", T0)


def test_an_unbound_claim_moves_from_created_to_failed() -> None:
    ledger = Ledger()
    claim = "/api/v1/namespaces/a/persistentvolumeclaims/data"
    ledger.placed(claim, Outcome.CREATED)
    ledger.placed("/api/v1/persistentvolumes/pv", Outcome.CREATED)

    ledger.not_bound(claim, "created but not Bound within 30 s")

    assert ledger.paths(Outcome.CREATED) == ["/api/v1/persistentvolumes/pv"]
    result = ledger.result(
        num_preference_excluded=0, num_snapshot_contents=2, resource_version="1", timestamp=T0
    )
    assert result.failed == (f"{claim},created but not Bound within 30 s",)
    assert ledger.done == 2
