"""The ledger: one list per object, sorted results, truncated messages, progress, capped lists."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from k8ssnap.domain import kinds
from k8ssnap.domain.entries import ResultCounts
from k8ssnap.restore.job import RestoreResult
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
    pvcs = kinds.PERSISTENT_VOLUME_CLAIMS
    ledger = Ledger(remember=[pvcs])
    claim = "/api/v1/namespaces/a/persistentvolumeclaims/data"
    other = "/api/v1/namespaces/a/persistentvolumeclaims/other"
    ledger.placed(claim, Outcome.CREATED, resource=pvcs)
    ledger.placed(other, Outcome.CREATED, resource=pvcs)
    ledger.placed("/api/v1/persistentvolumes/pv", Outcome.CREATED)

    ledger.not_bound(claim, "created but not Bound within 30 s", resource=pvcs)

    assert ledger.paths(pvcs, Outcome.CREATED) == [other]
    result = ledger.result(
        num_preference_excluded=0, num_snapshot_contents=3, resource_version="1", timestamp=T0
    )
    assert result.created == (other, "/api/v1/persistentvolumes/pv")
    assert result.failed == (f"{claim},created but not Bound within 30 s",)
    assert result.totals == ResultCounts(created=2, failed=1)
    assert ledger.done == 3


def test_paths_of_a_resource_it_does_not_remember_are_refused() -> None:
    ledger = Ledger(remember=[kinds.CRDS])
    with pytest.raises(ValueError, match="does not remember"):
        ledger.paths(kinds.NAMESPACES, Outcome.CREATED)


@pytest.mark.parametrize("keep", [0, 1, 3, 50])
def test_capped_lists_keep_the_sorted_prefix_and_exact_counts(keep: int) -> None:
    """What a capped ledger reports is what the whole ledger reports, cut to ``keep``."""
    whole, capped = Ledger(), Ledger(keep=keep, remember=[kinds.NAMESPACES])
    names = [f"ns-{(i * 7919) % 1000:04d}" for i in range(1000)]  # every name once, shuffled
    for ledger in (whole, capped):
        for name in names:
            ledger.placed(f"/api/v1/namespaces/{name}", Outcome.CREATED, resource=kinds.NAMESPACES)
            ledger.failed(f"/api/v1/namespaces/{name}/configmaps/c", "boom")
            ledger.converted(f"/apis/x/v1/namespaces/{name}/widgets/w", "converted from x/v1 to x/v2")

    def done(ledger: Ledger) -> RestoreResult:
        return ledger.result(
            num_preference_excluded=0, num_snapshot_contents=3000, resource_version="1", timestamp=T0
        )

    full, cut = done(whole), done(capped)
    assert cut.created == full.created[:keep]
    assert cut.failed == full.failed[:keep]
    assert cut.converted == full.converted[:keep]
    assert cut.totals == full.totals == ResultCounts(created=1000, failed=1000, converted=1000)
    assert len(capped.paths(kinds.NAMESPACES, Outcome.CREATED)) == 1000  # remembered whole
