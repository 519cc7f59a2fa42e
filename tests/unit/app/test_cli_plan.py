"""``k8ssnap restore --dry-run``: the plan table."""

from __future__ import annotations

import datetime as dt

from k8ssnap.app.cli_plan import plan_rows, plan_table
from k8ssnap.restore.job import RestoreResult

NS = "/api/v1/namespaces"
PLAN = RestoreResult(
    excluded=(f"{NS}/a/configmaps/kube-root-ca.crt,(system-managed)",),
    created=(f"{NS}/a", "/apis/example.com/v1/namespaces/a/widgets/w"),
    updated=(),
    already_existed=(f"{NS}/a/serviceaccounts/default",),
    failed=(f"{NS}/a/services/web,Service is invalid: provided port is already allocated",),
    num_preference_excluded=3,
    num_snapshot_contents=8,
    resource_version="99",
    timestamp=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    converted=(
        "/apis/example.com/v1/namespaces/a/widgets/w,converted from example.com/v1beta1 to example.com/v1",
    ),
    dry_run=True,
)


def test_rows_name_the_would_meanings_failures_first() -> None:
    assert list(plan_rows(PLAN)) == [
        ("would fail", f"{NS}/a/services/web", "Service is invalid: provided port is already allocated"),
        ("excluded", f"{NS}/a/configmaps/kube-root-ca.crt", "system-managed"),
        ("would create", f"{NS}/a", ""),
        (
            "would create",
            "/apis/example.com/v1/namespaces/a/widgets/w",
            "converted from example.com/v1beta1 to example.com/v1",
        ),
        ("exists", f"{NS}/a/serviceaccounts/default", ""),
    ]


def test_table_has_a_summary_and_a_header() -> None:
    lines = plan_table("snap-1", PLAN).splitlines()
    assert lines[0] == (
        "dry run of snap-1: 2 would be created, 0 updated, 1 exist, 1 would fail, 1 excluded, "
        "3 left out by the preference (of 8 objects); nothing was written"
    )
    assert lines[1].split() == ["OUTCOME", "OBJECT", "DETAIL"]
    assert lines[2].startswith("would fail ")
    assert len(lines) == 7
