"""The controller's flags: k8s-snap's names, old spellings and Go-style booleans."""

from __future__ import annotations

import pytest

from k8ssnap.app import flags
from k8ssnap.app.manager import settings_from


def test_defaults_are_k8s_snaps() -> None:
    parsed = flags.parse([])
    assert parsed.namespace == "k8s-snap"
    assert parsed.snapshot_threads == 5
    assert (parsed.housekeep_store, parsed.restore_snapshots, parsed.validate_file_info) == (True, True, True)
    assert (parsed.insecure, parsed.create_bucket) == (False, False)
    assert parsed.max_retry_elapsed_sec == 300.0


@pytest.mark.parametrize(
    ("argv", "field", "expected"),
    [
        (["--backupthreads=7"], "snapshot_threads", 7),
        (["--snapshotthreads", "3"], "snapshot_threads", 3),
        (["--restorethreads=4"], "restore_threads", 4),
        (["--maxretryelaspsedminutes=2"], "max_retry_elapsed_sec", 120.0),
        (["--maxretryelapsedsec=45"], "max_retry_elapsed_sec", 45.0),
        (["--maxretryelapsedsec=45", "--maxretryelaspsedminutes=9"], "max_retry_elapsed_sec", 45.0),
        (["--housekeepstore=false"], "housekeep_store", False),
        (["--restoresnapshots=0"], "restore_snapshots", False),
        (["--validatefileinfo=False"], "validate_file_info", False),
        (["--insecure"], "insecure", True),
        (["--createbucket=true"], "create_bucket", True),
        (["--leader-elect=false"], "leader_elect", False),
        (["--lister-concurrency=12"], "lister_concurrency", 12),
        ([], "lister_concurrency", None),
        ([], "gzip_level", 6),
        (["--gzip-level=1"], "gzip_level", 1),
        (["--kubeconfig=/k", "--master=https://m:6443"], "master", "https://m:6443"),
    ],
)
def test_flags(argv: list[str], field: str, expected: object) -> None:
    assert getattr(flags.parse(argv), field) == expected


@pytest.mark.parametrize(
    "argv", [["--snapshotthreads=0"], ["--housekeepstore=maybe"], ["--restorethreads=-1"]]
)
def test_bad_flags_are_usage_errors(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        flags.parse(argv)
    assert exc.value.code == 2


@pytest.mark.parametrize(
    ("argv", "expected"),
    [([], 5), (["--snapshotthreads=3"], 3), (["--snapshotthreads=3", "--lister-concurrency=12"], 12)],
)
def test_lister_concurrency_bounds_the_lists_and_defaults_to_the_snapshot_workers(
    argv: list[str], expected: int
) -> None:
    assert settings_from(flags.parse(argv)).lister_concurrency == expected


@pytest.mark.parametrize("argv", [["--gzip-level=0"], ["--gzip-level=10"], ["--gzip-level=fast"]])
def test_a_gzip_level_outside_1_to_9_is_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        flags.parse(argv)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [([], False), (["--insecure-kubeconfig-tls"], True), (["--insecure-kubeconfig-tls=false"], False)],
)
def test_insecure_kubeconfig_tls_is_off_unless_asked_for_and_reaches_the_reconcilers(
    argv: list[str], expected: bool
) -> None:
    parsed = flags.parse(argv)
    assert parsed.insecure_kubeconfig_tls is expected
    assert settings_from(parsed).insecure_kubeconfig_tls is expected
