"""Pure output of the CLI: sizes, times, tables, counts and YAML."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from k8ssnap.app import cli_format as fmt

T0 = dt.datetime(2026, 11, 21, 1, 39, 2, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (5 * 1024**2 + 1, "5.0 MiB"),
        (3 * 1024**4, "3.0 TiB"),
        (2048 * 1024**4, "2048.0 TiB"),
    ],
)
def test_human_size(size: int, text: str) -> None:
    assert fmt.human_size(size) == text


def test_format_time_is_utc_to_the_second() -> None:
    tokyo = dt.timezone(dt.timedelta(hours=9))
    assert fmt.format_time(T0.astimezone(tokyo).replace(microsecond=5)) == "2026-11-21T01:39:02Z"


def test_table_pads_columns_and_right_aligns_numbers() -> None:
    text = fmt.table(("NAME", "COUNT"), [("a", "5"), ("longer-name", "12345")], numeric=(1,))
    assert text.splitlines() == [
        "NAME          COUNT",
        "a                 5",
        "longer-name   12345",
    ]


def test_snapshot_table_sorts_by_time_and_marks_missing_records() -> None:
    rows = [
        fmt.SnapshotRow(name="new", size=2048, time=T0, objects=12, cluster="prod", schedule=""),
        fmt.SnapshotRow(name="legacy", size=10, time=T0 - dt.timedelta(days=1)),
        fmt.SnapshotRow(
            name="hourly-1",
            size=1,
            time=T0 + dt.timedelta(days=1),
            objects=3,
            cluster="prod",
            schedule="hourly",
        ),
    ]
    lines = fmt.snapshot_table(rows).splitlines()
    assert lines[0].split() == ["NAME", "CLUSTER", "SCHEDULE", "OBJECTS", "SIZE", "TIME"]
    assert lines[1].split() == ["legacy", "-", "-", "-", "10", "B", "2026-11-20T01:39:02Z"]
    assert lines[2].split() == ["new", "prod", "-", "12", "2.0", "KiB", "2026-11-21T01:39:02Z"]
    assert lines[3].split() == ["hourly-1", "prod", "hourly", "3", "1", "B", "2026-11-22T01:39:02Z"]


@pytest.mark.parametrize(
    ("path", "labels"),
    [
        ("/api/v1/namespaces/app/configmaps/x", ("app", "configmaps")),
        ("/api/v1/namespaces/app", ("app", "namespaces")),
        ("/apis/apps/v1/namespaces/app/deployments/web", ("app", "deployments.apps")),
        ("/api/v1/persistentvolumes/pv-1", ("(cluster)", "persistentvolumes")),
        (
            "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:node",
            ("(cluster)", "clusterroles.rbac.authorization.k8s.io"),
        ),
    ],
)
def test_entry_labels(path: str, labels: tuple[str, str]) -> None:
    assert fmt.entry_labels(path) == labels


PATHS = [
    "/api/v1/namespaces/app",
    "/api/v1/namespaces/app/configmaps/a",
    "/api/v1/namespaces/app/configmaps/b",
    "/apis/apps/v1/namespaces/app/deployments/web",
    "/api/v1/namespaces/db/configmaps/c",
    "/api/v1/persistentvolumes/pv-1",
]


def _rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines()]


def test_counts_table_by_namespace_and_kind() -> None:
    rows = _rows(fmt.counts_table(fmt.count_entries(PATHS), by=None))
    assert rows == [
        ["NAMESPACE", "KIND", "OBJECTS"],
        ["(cluster)", "persistentvolumes", "1"],
        ["app", "configmaps", "2"],
        ["app", "deployments.apps", "1"],
        ["app", "namespaces", "1"],
        ["db", "configmaps", "1"],
        ["TOTAL", "6"],
    ]


def test_counts_table_by_namespace() -> None:
    rows = _rows(fmt.counts_table(fmt.count_entries(PATHS), by=fmt.BY_NAMESPACE))
    assert rows == [["NAMESPACE", "OBJECTS"], ["(cluster)", "1"], ["app", "4"], ["db", "1"], ["TOTAL", "6"]]


def test_counts_table_by_kind() -> None:
    rows = _rows(fmt.counts_table(fmt.count_entries(PATHS), by=fmt.BY_KIND))
    assert rows == [
        ["KIND", "OBJECTS"],
        ["configmaps", "3"],
        ["deployments.apps", "1"],
        ["namespaces", "1"],
        ["persistentvolumes", "1"],
        ["TOTAL", "6"],
    ]


def test_counts_table_rejects_unknown_grouping() -> None:
    with pytest.raises(ValueError, match="count by"):
        fmt.counts_table({}, by="colour")


LISTED = {  # as archived from a LIST: apiVersion and kind added last
    "metadata": {"name": "x", "namespace": "app"},
    "data": {"script": "#!/bin/sh\necho hi\n", "plain": "one line", "port": "8080"},
    "apiVersion": "v1",
    "kind": "ConfigMap",
}


def test_yaml_reads_like_kubectl() -> None:
    text = fmt.to_yaml(LISTED)
    assert text.splitlines()[:3] == ["apiVersion: v1", "kind: ConfigMap", "metadata:"]
    assert "  script: |\n    #!/bin/sh\n    echo hi\n" in text
    assert "port: '8080'" in text  # a string, not a number, when read back
    assert yaml.safe_load(text) == LISTED


def test_yaml_keeps_strings_with_trailing_spaces_exact() -> None:
    obj = {"data": {"s": "a  \nb\n"}}
    assert yaml.safe_load(fmt.to_yaml(obj)) == obj


def test_json_in_kubectl_order() -> None:
    text = fmt.to_json(LISTED)
    assert text.startswith('{\n  "apiVersion": "v1",\n  "kind": "ConfigMap",\n  "metadata"')
    assert text.endswith("}\n")
