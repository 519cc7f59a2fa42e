"""What a one-shot restore prints."""

from __future__ import annotations

import datetime as dt

from k8ssnap.app.cli_cluster import restore_report
from k8ssnap.restore.job import RestoreResult

RESULT = RestoreResult(
    excluded=("/api/v1/namespaces/a/configmaps/kube-root-ca.crt,(system-managed)",),
    created=("/api/v1/namespaces/a", "/api/v1/namespaces/a/configmaps/x"),
    updated=(),
    already_existed=("/api/v1/namespaces/a/serviceaccounts/default",),
    failed=("/api/v1/namespaces/a/secrets/s,admission webhook denied it",),
    num_preference_excluded=7,
    num_snapshot_contents=12,
    resource_version="99",
    timestamp=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
)


def test_report_shows_counts_and_failures() -> None:
    lines = restore_report("snap-1", RESULT, verbose=False).splitlines()
    assert lines == [
        "restore of snap-1: 2 created, 0 updated, 1 already existed, 1 failed, 1 excluded, "
        "7 left out by the preference (of 12 objects)",
        "failed:",
        "  /api/v1/namespaces/a/secrets/s,admission webhook denied it",
    ]


def test_verbose_report_lists_every_outcome() -> None:
    text = restore_report("snap-1", RESULT, verbose=True)
    assert "excluded:\n  /api/v1/namespaces/a/configmaps/kube-root-ca.crt,(system-managed)\n" in text
    assert "created:\n  /api/v1/namespaces/a\n  /api/v1/namespaces/a/configmaps/x\n" in text
    assert "already existed:\n  /api/v1/namespaces/a/serviceaccounts/default\n" in text
    assert "updated:" not in text
