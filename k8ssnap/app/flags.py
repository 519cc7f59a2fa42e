"""The controller's command-line flags: k8s-snap's, with its old spellings.

Go's flag package accepts ``--flag``, ``--flag=true`` and ``--flag=false``
for booleans, and k8s-snap users have deployments that say so; argparse is
taught the same. Old names stay accepted: ``--backupthreads`` for
``--snapshotthreads`` and ``--maxretryelaspsedminutes`` (sic, minutes) for
``--maxretryelapsedsec``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Flags:
    """Parsed controller settings."""

    kubeconfig: str | None
    master: str | None
    namespace: str
    snapshot_threads: int
    restore_threads: int
    housekeep_store: bool
    restore_snapshots: bool
    validate_file_info: bool
    max_retry_elapsed_sec: float
    insecure: bool
    create_bucket: bool
    metrics_address: str
    leader_elect: bool
    log_format: str
    housekeeping_interval: float
    gzip_level: int = 6
    """Deflate level of the archives, 1 (fast) to 9 (small)."""
    lister_concurrency: int | None = None
    """Bound on parallel LISTs across all snapshots; None: ``snapshot_threads``."""
    insecure_kubeconfig_tls: bool = False
    """Let a kubeconfig from a custom resource skip TLS verification (unsafe; every use is reported)."""
    pki_root: str | None = None
    """The only folder EtcdSnapshots may read certificates from; None: none."""
    folder_store_root: str | None = None
    """The only folder a ``file://`` ObjectstoreConfig may use; None: none."""


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "t", "true", "yes", "y", "on"):
        return True
    if lowered in ("0", "f", "false", "no", "n", "off"):
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {text!r}")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def _add_bool(parser: argparse.ArgumentParser, name: str, default: bool, help_text: str) -> None:
    parser.add_argument(
        f"--{name}",
        type=_bool,
        nargs="?",
        const=True,
        default=default,
        metavar="BOOL",
        help=help_text,
    )


def _level(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 9:
        raise argparse.ArgumentTypeError(f"must be 1 to 9: {text!r}")
    return value


def parser() -> argparse.ArgumentParser:
    """The argument parser (also used for --help)."""
    p = argparse.ArgumentParser(prog="k8ssnap-controller", description="The k8ssnap controller.")
    p.add_argument("--kubeconfig", default=None, help="path to a kubeconfig; in-cluster config if unset")
    p.add_argument("--master", default=None, help="API server address; overrides the kubeconfig's")
    p.add_argument("--namespace", default="k8s-snap", help="namespace of the custom resources")
    p.add_argument(
        "--snapshotthreads", "--backupthreads", dest="snapshotthreads", type=_positive, default=5,
        help="snapshot workers, and the bound on parallel LISTs across all snapshots",
    )  # fmt: skip
    p.add_argument(
        "--restorethreads",
        type=_positive,
        default=8,
        help="parallel creates within one restore, and restore workers",
    )
    _add_bool(p, "housekeepstore", True, "delete orphan archives every 300 s")
    _add_bool(p, "restoresnapshots", True, "recreate Snapshots from archives in the bucket at start")
    _add_bool(p, "validatefileinfo", True, "check archive size, time and checksum against status")
    p.add_argument("--maxretryelapsedsec", type=float, default=None, help="retry budget in seconds")
    p.add_argument(
        "--maxretryelaspsedminutes",
        type=float,
        default=None,
        help="old name: retry budget in minutes",
    )
    _add_bool(p, "insecure", False, "skip TLS verification of the object store")
    _add_bool(
        p,
        "insecure-kubeconfig-tls",
        False,
        "UNSAFE: accept insecure-skip-tls-verify and http:// servers in kubeconfigs of Snapshots and "
        "Restores (each use is logged and posted as an Event)",
    )
    _add_bool(p, "createbucket", False, "create missing buckets at start")
    p.add_argument("--metrics-address", default="0.0.0.0:8080", help="/metrics, /healthz, /readyz")
    _add_bool(p, "leader-elect", True, "run leader election on a Lease")
    p.add_argument("--log-format", choices=["text", "json"], default="text")
    p.add_argument("--housekeeping-interval", type=float, default=300.0, help=argparse.SUPPRESS)
    p.add_argument(
        "--gzip-level",
        type=_level,
        default=6,
        help="deflate level of the archives: 1-6 use ISA-L (about ten times zlib's speed, "
        "archives about 8%% larger than zlib 6's), 7-9 zlib (smallest, slowest)",
    )
    p.add_argument(
        "--lister-concurrency",
        type=_positive,
        default=None,
        help="bound on parallel LISTs across all snapshots (default: --snapshotthreads)",
    )
    p.add_argument(
        "--pki-root", default=None, metavar="DIR",
        help="the folder EtcdSnapshots' spec.pki is relative to, e.g. /host/etc/kubernetes/pki; "
        "unset: no certificate folder may be read",
    )  # fmt: skip
    p.add_argument(
        "--folder-store-root", default=None, metavar="DIR",
        help="the folder file:// ObjectstoreConfigs must lie in, e.g. /backups; unset: none may be used",
    )  # fmt: skip
    return p


def parse(argv: Sequence[str] | None = None) -> Flags:
    """Parse ``argv`` into :class:`Flags`."""
    ns = parser().parse_args(argv)
    retry = 300.0
    if ns.maxretryelapsedsec is not None:
        retry = ns.maxretryelapsedsec
    elif ns.maxretryelaspsedminutes is not None:
        retry = ns.maxretryelaspsedminutes * 60
    return Flags(
        kubeconfig=ns.kubeconfig,
        master=ns.master,
        namespace=ns.namespace,
        snapshot_threads=ns.snapshotthreads,
        restore_threads=ns.restorethreads,
        housekeep_store=ns.housekeepstore,
        restore_snapshots=ns.restoresnapshots,
        validate_file_info=ns.validatefileinfo,
        max_retry_elapsed_sec=retry,
        insecure=ns.insecure,
        insecure_kubeconfig_tls=ns.insecure_kubeconfig_tls,
        create_bucket=ns.createbucket,
        metrics_address=ns.metrics_address,
        leader_elect=ns.leader_elect,
        log_format=ns.log_format,
        housekeeping_interval=ns.housekeeping_interval,
        lister_concurrency=ns.lister_concurrency,
        gzip_level=ns.gzip_level,
        pki_root=ns.pki_root,
        folder_store_root=ns.folder_store_root,
    )
