"""Velero side by side (``python -m bench --peer velero``), on the same clusters and S3.

Velero is built from its Go modules through the module proxy (wrapper modules
``tools/velero-bin`` and ``tools/velero-aws-plugin``, cached by version like
the Kubernetes binaries) and run out of cluster, as
``../shared/reference/velero-side-by-side.md`` verified:

- each cluster gets Velero's CRDs (``velero install --crds-only --dry-run``),
  the ``velero`` namespace, a stand-in Deployment ``velero/velero`` with no
  replicas (one of Velero's restore steps reads its own image from it) and a
  BackupStorageLocation ``default`` on the benchmark's bucket under
  ``velero/`` (read-only in b);
- one ``velero server`` per cluster, with the AWS plugin and the same S3 keys;
  b's server syncs backups from the bucket every 5 s;
- the backup is ``velero backup create`` of the whole cluster without volume
  snapshots, timed from the command to phase ``Completed``; the restore is
  ``velero restore create`` into a fresh empty cluster b, timed the same way.

A Velero restore runs about 32 objects per second here, so at 5 x N it would
take over an hour: after ``restore_limit`` seconds the benchmark stops waiting
and reports the items restored so far and their rate (``partial``), which is
what the ratio then compares. Memory is the peak of the summed resident sets
of each server's process group (the server and the plugin processes it
starts), sampled every 0.2 s.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import environment
from bench.report import Measure
from k8ssnap import errors
from k8ssnap.devenv import build, process
from k8ssnap.devenv.env import EnvironmentInfo
from k8ssnap.kube.client import KubeClient

log = logging.getLogger("bench")

VELERO_VERSION = "v1.18.3"
AWS_PLUGIN_VERSION = "v1.14.3"
NAMESPACE = "velero"
PREFIX = "velero"
_SAMPLE_EVERY = 0.2
_POLL_EVERY = 0.2
_DONE = frozenset({"Completed", "PartiallyFailed", "Failed", "FailedValidation"})
_GO_ENV = {"GOSUMDB": "off"}
"""The recipe's: the module proxy serves these releases, the checksum database is not reached."""


@dataclass(frozen=True, slots=True)
class Binaries:
    velero: Path
    plugin_dir: Path
    """A folder holding only the AWS object-store plugin, for ``--plugin-dir``."""


def ensure_binaries() -> Binaries:
    """Build (or find in the cache) ``velero`` and ``velero-plugin-for-aws``."""
    velero_dir = build.ensure_built(
        "velero",
        VELERO_VERSION,
        module="velero-bin",
        names=("velero",),
        packages=["github.com/vmware-tanzu/velero/cmd/velero"],
        ldflags=f"-s -w -X github.com/vmware-tanzu/velero/pkg/buildinfo.Version={VELERO_VERSION}",
        env=_GO_ENV,
    )
    plugin_dir = build.ensure_built(
        "velero-plugin-for-aws",
        AWS_PLUGIN_VERSION,
        module="velero-aws-plugin",
        names=("velero-plugin-for-aws",),
        packages=["github.com/vmware-tanzu/velero-plugin-for-aws/velero-plugin-for-aws"],
        env=_GO_ENV,
    )
    return Binaries(velero=velero_dir / "velero", plugin_dir=plugin_dir)


@dataclass(slots=True)
class GroupRss:
    """Peak summed VmRSS of one process group (a server and its plugin processes), sampled."""

    pgid: int
    peak: int = 0
    peak_leader: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"rss-{self.pgid}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(_SAMPLE_EVERY):
            total = leader = 0
            for pid, rss in _group_rss(self.pgid):
                total += rss
                leader = rss if pid == self.pgid else leader
            self.peak = max(self.peak, total)
            self.peak_leader = max(self.peak_leader, leader)


def _group_rss(pgid: int) -> Iterator[tuple[int, int]]:
    """``(pid, VmRSS bytes)`` of every live process whose process group is ``pgid``."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text().rpartition(")")[2].split()
            if int(stat[2]) != pgid:
                continue
            pages = int(Path(entry.path, "statm").read_text().split()[1])
        except (OSError, ValueError, IndexError):
            continue  # gone between the listing and the read
        yield int(entry.name), pages * os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True, slots=True)
class Cluster:
    """One cluster Velero works on: its kubeconfig and where its server's files go."""

    name: str
    kubeconfig: Path
    folder: Path


class Velero:
    """Velero's pieces for one benchmark scale: credentials, installs, servers."""

    def __init__(self, *, info: EnvironmentInfo, binaries: Binaries, folder: Path) -> None:
        self.info = info
        self.bins = binaries
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.credentials = folder / "aws-credentials"
        self.credentials.write_text(
            f"[default]\naws_access_key_id={info.s3.access_key}\naws_secret_access_key={info.s3.secret_key}\n"
        )
        self.credentials.chmod(0o600)

    def kubectl(self, cluster: Cluster, *args: str, stdin: str | None = None) -> str:
        return _run([str(self.info.kubectl), "--kubeconfig", str(cluster.kubeconfig), *args], stdin=stdin)

    def velero(self, cluster: Cluster, *args: str) -> str:
        return _run(
            [str(self.bins.velero), "--kubeconfig", str(cluster.kubeconfig), "--namespace", NAMESPACE, *args]
        )

    def install(self, cluster: Cluster, *, read_only: bool) -> None:
        """CRDs, namespace, the stand-in Deployment and the BackupStorageLocation."""
        crds = _run([str(self.bins.velero), "install", "--crds-only", "--dry-run", "-o", "json"])
        self.kubectl(cluster, "create", "-f", "-", stdin=crds)
        self.kubectl(
            cluster, "wait", "--for=condition=Established", "crd", "-l", "component=velero", "--timeout=120s"
        )
        self.kubectl(cluster, "create", "namespace", NAMESPACE)
        for obj in (_stand_in(), self._location(read_only=read_only)):
            self.kubectl(cluster, "create", "-f", "-", stdin=json.dumps(obj))

    def _location(self, *, read_only: bool) -> dict[str, Any]:
        return {
            "apiVersion": "velero.io/v1",
            "kind": "BackupStorageLocation",
            "metadata": {"name": "default", "namespace": NAMESPACE},
            "spec": {
                "provider": "aws",
                "default": True,
                "accessMode": "ReadOnly" if read_only else "ReadWrite",
                "objectStorage": {"bucket": environment.BUCKET, "prefix": PREFIX},
                "config": {
                    "region": self.info.s3.region,
                    "s3ForcePathStyle": "true",
                    "s3Url": self.info.s3.endpoint,
                },
            },
        }

    @contextmanager
    def server(self, cluster: Cluster, *, sync_period: str = "") -> Iterator[GroupRss]:
        """``velero server`` against ``cluster`` while the block runs; yields its memory sampler."""
        metrics = process.free_port()
        argv = [
            str(self.bins.velero),
            "server",
            "--kubeconfig",
            str(cluster.kubeconfig),
            "--namespace",
            NAMESPACE,
            "--plugin-dir",
            str(self.bins.plugin_dir),
            "--features=",
            "--default-volumes-to-fs-backup=false",
            f"--metrics-address=127.0.0.1:{metrics}",
            f"--profiler-address=127.0.0.1:{process.free_port()}",
        ]
        if sync_period:
            argv.append(f"--backup-sync-period={sync_period}")
        running = process.launch(
            f"velero-{cluster.name}",
            argv,
            log=cluster.folder / "velero-server.log",
            ready=process.ReadyCheck(url=f"http://127.0.0.1:{metrics}/metrics"),
            timeout=120,
            env={"AWS_SHARED_CREDENTIALS_FILE": str(self.credentials)},
        )
        sampler = GroupRss(running.pgid)
        sampler.start()
        try:
            yield sampler
        finally:
            sampler.stop()
            process.stop(running.pgid)


def _stand_in() -> dict[str, Any]:
    labels = {"app": "velero-stand-in"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "velero", "namespace": NAMESPACE},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "velero", "image": f"velero/velero:{VELERO_VERSION}"}]},
            },
        },
    }


def _run(argv: list[str], *, stdin: str | None = None) -> str:
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv[:4])} ... failed with exit {proc.returncode}: {proc.stderr[-2000:]}"
        )
    return proc.stdout


@dataclass(frozen=True, slots=True)
class Progress:
    """A Velero Backup's or Restore's phase and item counts, seconds after it was asked for."""

    phase: str
    done: int
    total: int
    seconds: float
    warnings: int = 0
    errors: int = 0


async def wait_for(
    kube: KubeClient, kind: str, name: str, *, started: float, limit: float, counted: str
) -> Progress:
    """Poll ``kind``/``name`` until a final phase, or until ``limit`` seconds after ``started``."""
    path = f"/apis/velero.io/v1/namespaces/{NAMESPACE}/{kind}/{name}"
    last = Progress(phase="", done=0, total=0, seconds=0.0)
    while True:
        obj = await _get(kube, path)
        now = time.monotonic() - started
        status = (obj or {}).get("status") or {}
        progress = status.get("progress") or {}
        last = Progress(
            phase=str(status.get("phase") or "Pending"),
            done=int(progress.get(counted) or 0),
            total=int(progress.get("totalItems") or 0),
            seconds=now,
            warnings=int(status.get("warnings") or 0),
            errors=int(status.get("errors") or 0),
        )
        if last.phase in _DONE or now >= limit:
            return last
        await asyncio.sleep(_POLL_EVERY)


async def _get(kube: KubeClient, path: str) -> dict[str, Any] | None:
    """The object at ``path``, or None while it does not exist yet."""
    try:
        return await kube.get(path)
    except errors.NotFound:
        return None


async def wait_synced(kube: KubeClient, name: str, *, timeout: float = 300.0) -> float:
    """Wait until b's server has synced backup ``name`` from the bucket; return the wait."""
    started = time.monotonic()
    path = f"/apis/velero.io/v1/namespaces/{NAMESPACE}/backups/{name}"
    while time.monotonic() - started < timeout:
        obj = await _get(kube, path)
        if obj and (obj.get("status") or {}).get("phase") == "Completed":
            return time.monotonic() - started
        await asyncio.sleep(0.5)
    raise TimeoutError(f"backup {name} did not sync into cluster b within {timeout:.0f} s")


def measure(progress: Progress) -> Measure:
    """Objects and seconds of a finished, or stopped, Velero run."""
    return Measure(progress.done, progress.seconds)


@dataclass(frozen=True, slots=True)
class PeerResult:
    """Velero's backup of cluster a and its restore into an empty cluster b."""

    backup: Progress
    restore: Progress
    sync_seconds: float
    backup_rss: int
    backup_rss_server: int
    restore_rss: int
    restore_rss_server: int
    restore_limit: float

    @property
    def partial(self) -> bool:
        """The restore was still running when the benchmark stopped waiting for it."""
        return self.restore.phase not in _DONE

    def to_json(self) -> dict[str, Any]:
        def run(p: Progress) -> dict[str, Any]:
            rate = p.done / p.seconds if p.seconds > 0 else 0.0
            return {
                "phase": p.phase,
                "objects": p.done,
                "total_items": p.total,
                "seconds": round(p.seconds, 3),
                "objects_per_second": round(rate, 1),
                "warnings": p.warnings,
                "errors": p.errors,
            }

        return {
            "velero": VELERO_VERSION,
            "aws_plugin": AWS_PLUGIN_VERSION,
            "backup": run(self.backup),
            "restore": {**run(self.restore), "partial": self.partial, "limit_seconds": self.restore_limit},
            "sync_seconds": round(self.sync_seconds, 1),
            "backup_peak_rss": self.backup_rss,
            "backup_peak_rss_server": self.backup_rss_server,
            "restore_peak_rss": self.restore_rss,
            "restore_peak_rss_server": self.restore_rss_server,
        }


async def side_by_side(
    info: EnvironmentInfo, *, folder: Path, name: str, timeout: float, restore_limit: float
) -> PeerResult:
    """Velero's backup of cluster a, then its restore into a fresh empty cluster b."""
    velero = Velero(info=info, binaries=ensure_binaries(), folder=folder / "velero")
    a = Cluster("a", info.clusters["a"].kubeconfig, folder / "velero" / "a")
    velero.install(a, read_only=False)
    async with await KubeClient.from_kubeconfig_file(str(a.kubeconfig)) as kube_a:
        with velero.server(a) as rss_a:
            started = time.monotonic()
            velero.velero(
                a,
                "backup",
                "create",
                name,
                "--include-cluster-resources=true",
                "--snapshot-volumes=false",
                "--default-volumes-to-fs-backup=false",
            )
            backup = await wait_for(
                kube_a, "backups", name, started=started, limit=timeout, counted="itemsBackedUp"
            )
    log.info(
        "velero backup: %s, %d items in %.2f s, server group peak RSS %.0f MB",
        backup.phase,
        backup.done,
        backup.seconds,
        rss_a.peak / 1e6,
    )
    if backup.phase != "Completed":
        raise RuntimeError(f"velero backup {backup.phase} (see {a.folder / 'velero-server.log'})")
    spare = environment.spare_cluster(folder / "b-velero")
    try:
        b = Cluster("b", spare.info.kubeconfig, folder / "velero" / "b")
        velero.install(b, read_only=True)
        async with await KubeClient.from_kubeconfig_file(str(b.kubeconfig)) as kube_b:
            with velero.server(b, sync_period="5s") as rss_b:
                synced = await wait_synced(kube_b, name)
                started = time.monotonic()
                velero.velero(
                    b,
                    "restore",
                    "create",
                    f"{name}-restore",
                    "--from-backup",
                    name,
                    "--include-cluster-resources=true",
                )
                restore = await wait_for(
                    kube_b,
                    "restores",
                    f"{name}-restore",
                    started=started,
                    limit=restore_limit,
                    counted="itemsRestored",
                )
    finally:
        spare.stop()
    log.info(
        "velero restore: %s, %d of %d items in %.2f s, server group peak RSS %.0f MB",
        restore.phase,
        restore.done,
        restore.total,
        restore.seconds,
        rss_b.peak / 1e6,
    )
    return PeerResult(
        backup=backup,
        restore=restore,
        sync_seconds=synced,
        backup_rss=rss_a.peak,
        backup_rss_server=rss_a.peak_leader,
        restore_rss=rss_b.peak,
        restore_rss_server=rss_b.peak_leader,
        restore_limit=restore_limit,
    )
