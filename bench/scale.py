"""One scale of the benchmark, end to end, in a fresh environment.

1. S3 and cluster a come up; the controller's CRDs, namespace, bucket,
   credentials and ObjectstoreConfig are installed.
2. The population is created in a (64 creates in flight) and the cluster
   is left to settle (the controller manager makes ReplicaSets, Endpoints
   and EndpointSlices) until its revision stops moving.
3. List floor, once before and once after the snapshot (the faster run
   counts); once more at one exact resourceVersion, as the engine lists.
4. The controller starts; when its ObjectstoreConfig is Available it is
   leading, synced and working; 5 s later its idle RSS is read. One
   Snapshot, timed to Completed.
5. An empty cluster b: the create floor creates the population in it.
6. Another empty cluster b: one Restore of the snapshot, timed to Completed.
7. The controller's peak RSS (VmHWM) after the snapshot and at the end.
8. With ``--peer velero``: Velero's backup of a and its restore into
   another empty cluster b, after k8ssnap's (bench/velero.py).

Besides wall time, the CPU time of the client doing the work is recorded
(the controller's from ``/proc/<pid>/stat``, the floor's own process
time), because on a shared machine it is the steadier number.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from bench import creator, crs, environment, lister, velero
from bench.controllerproc import ControllerProcess
from bench.population import Population
from bench.rawclient import RawClient
from bench.report import Measure, ScaleResult
from k8ssnap.api import constants
from k8ssnap.devenv.env import EnvironmentInfo
from k8ssnap.domain.paths import ApiResource
from k8ssnap.kube.client import KubeClient

log = logging.getLogger("bench")

FILL_CONCURRENCY = 64
IDLE_SETTLE = 5.0
"""Seconds the controller idles after its ObjectstoreConfig turns Available before its RSS is read."""
MB = 1e6


@dataclass(frozen=True, slots=True)
class Settings:
    """What a run is asked to do."""

    objects: int
    snapshot_threads: int
    restore_threads: int
    workdir: Path
    timeout: float
    encrypted: bool = False
    """Also take the snapshot encrypted with age, right after the plain one (same controller)."""
    peer: str = ""
    """``velero``: also run Velero's backup and restore on the same clusters (bench/velero.py)."""
    peer_restore_limit: float = 1200.0
    """Seconds to wait for the peer's restore before reporting its progress and rate so far."""

    @property
    def restore_concurrency(self) -> int:
        """Creates in flight: ``k8ssnap.app.manager`` gives ``--restorethreads`` to the restore engine."""
        return self.restore_threads


async def settle(kube: KubeClient, *, quiet_for: float = 5.0, timeout: float = 900.0) -> float:
    """Wait until the cluster's revision moves by at most 3 in ``quiet_for`` seconds; return the wait."""
    started = time.monotonic()
    history: list[tuple[float, int]] = []
    while time.monotonic() - started < timeout:
        now = time.monotonic()
        history.append((now, int(await lister.current_resource_version(kube))))
        window = [rv for t, rv in history if now - t <= quiet_for]
        if now - history[0][0] >= quiet_for and window[-1] - window[0] <= 3:
            return now - started
        await asyncio.sleep(0.5)
    raise TimeoutError(f"the cluster did not settle within {timeout:.0f} s")


async def run_scale(settings: Settings, *, scale: int) -> ScaleResult:
    """Measure one scale in ``workdir/x<scale>``; the environment is torn down at the end."""
    folder = settings.workdir / f"x{scale}"
    population = Population(objects=settings.objects * scale)
    log.info("x%d: %d objects in %d namespaces; environment in %s", scale, population.total,
             population.namespaces, folder)  # fmt: skip
    info = environment.up(folder)
    try:
        await environment.install_controller(info)
        async with await KubeClient.from_kubeconfig_file(str(info.clusters["a"].kubeconfig)) as kube:
            run = _ScaleRun(settings=settings, scale=scale, population=population, folder=folder, info=info)
            return await run.measure(kube)
    finally:
        environment.down(folder)


@dataclass(slots=True)
class _Cpu:
    """CPU seconds of the clients: the controller's and this process's (the floors)."""

    snapshot: float = 0.0
    restore: float = 0.0
    list_floor: float = 0.0
    create_floor: float = 0.0


@dataclass(slots=True, kw_only=True)
class _ScaleRun:
    settings: Settings
    scale: int
    population: Population
    folder: Path
    info: EnvironmentInfo
    cpu: _Cpu = field(default_factory=_Cpu)
    marks: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def kubeconfig_a(self) -> Path:
        return self.info.clusters["a"].kubeconfig

    async def measure(self, kube: KubeClient) -> ScaleResult:
        load_before = os.getloadavg()
        filled = await self._fill(kube)
        resources = await lister.snapshot_resources(kube)
        floors = [await self._list_floor(resources)]
        exact = await self._list_floor(resources, rv=await lister.current_resource_version(kube))
        controller = ControllerProcess(
            kubeconfig=self.kubeconfig_a,
            namespace=environment.CONTROLLER_NS,
            log=self.folder / "controller.log",
            snapshot_threads=self.settings.snapshot_threads,
            restore_threads=self.settings.restore_threads,
        )
        controller.start()
        try:
            await _wait_store_available(kube)
            await asyncio.sleep(IDLE_SETTLE)  # idle: as bench.controller_figures measures it
            baseline = controller.rss()
            log.info("controller idle, RSS %.1f MB", baseline / MB)
            self.marks["snapshot_start"] = controller.elapsed()
            snap = await self._snapshot(kube, controller)
            self.marks["snapshot_end"] = controller.elapsed()
            peak_snapshot = controller.peak_rss()
            sealed = (
                await self._encrypted_snapshot(kube, controller, plain=snap)
                if self.settings.encrypted
                else None
            )
            floors.append(await self._list_floor(resources))
            create_floor = await self._create_floor()
            restore, restore_run, outcomes = await self._restore(kube, controller, snapshot=snap.name)
            peak = controller.peak_rss()
        finally:
            controller.stop()
        log.info("controller peak RSS: %.0f MB after the snapshot, %.0f MB at the end",
                 peak_snapshot / MB, peak / MB)  # fmt: skip
        if outcomes.get("failed"):
            self.notes.append(f"the restore reported {outcomes['failed']} failed objects")
        peer = await self._peer()
        list_floor = min(floors, key=lambda m: m.seconds)
        return ScaleResult(
            scale=self.scale,
            requested_objects=self.population.objects,
            population=self.population.counts(),
            fill=filled,
            cluster_objects=list_floor.objects,
            list_floor=list_floor,
            list_floor_runs=[round(m.seconds, 3) for m in floors],
            list_floor_exact_rv=exact,
            snapshot=snap.measure,
            snapshot_phases=snap.phases,
            archive_bytes=snap.archive_bytes,
            create_floor=create_floor,
            restore=restore,
            restore_phases={k: round(v, 3) for k, v in restore_run.phases.items()},
            restore_outcomes=outcomes,
            rss_baseline=baseline,
            rss_peak_snapshot=peak_snapshot,
            rss_peak=peak,
            rss_timeline=controller.samples.timeline(),
            rss_marks={k: round(v, 1) for k, v in self.marks.items()},
            cpu_seconds={k: round(v, 2) for k, v in asdict(self.cpu).items()},
            load_average=[round(x, 2) for x in (*load_before, *os.getloadavg())],
            notes=self.notes,
            encrypted=sealed or {},
            peer=peer,
        )

    async def _peer(self) -> dict[str, Any]:
        if self.settings.peer != "velero":
            return {}
        result = await velero.side_by_side(
            self.info,
            folder=self.folder,
            name=f"bench-x{self.scale}",
            timeout=self.settings.timeout,
            restore_limit=self.settings.peer_restore_limit,
        )
        if result.partial:
            self.notes.append(
                f"the Velero restore was stopped after {result.restore.seconds:.0f} s with "
                f"{result.restore.done} of {result.restore.total} items restored; its rate is of those"
            )
        return result.to_json()

    async def _fill(self, kube: KubeClient) -> Measure:
        async with RawClient(self.kubeconfig_a, connections=FILL_CONCURRENCY) as client:
            filled = await creator.create_population(
                client, self.population, concurrency=FILL_CONCURRENCY, retry=True
            )
        log.info("filled: %d objects in %.1f s (%.0f/s), %d retried", filled.objects, filled.seconds,
                 filled.objects / filled.seconds, filled.retried)  # fmt: skip
        log.info("cluster a settled after %.1f s", await settle(kube))
        return Measure(filled.objects, filled.seconds)

    async def _list_floor(self, resources: tuple[ApiResource, ...], *, rv: str = "") -> Measure:
        threads = self.settings.snapshot_threads
        cpu = time.process_time()
        async with RawClient(self.kubeconfig_a, connections=threads) as client:
            stats = await lister.list_floor(client, resources, concurrency=threads, exact_rv=rv)
        if not rv:
            used = time.process_time() - cpu
            self.cpu.list_floor = min(self.cpu.list_floor or used, used)
        log.info("list floor%s: %d objects, %d pages, %.1f MB in %.2f s", " (exact rv)" if rv else "",
                 stats.objects, stats.pages, stats.bytes / MB, stats.seconds)  # fmt: skip
        return Measure(stats.objects, stats.seconds)

    async def _encrypted_snapshot(
        self, kube: KubeClient, controller: ControllerProcess, *, plain: _Snapshot
    ) -> dict[str, float]:
        """The same snapshot again, age-encrypted; time, CPU and the window's peak RSS against the plain one.

        Peak RSS per snapshot comes from the sampled VmRSS between each one's marks
        (VmHWM cannot tell two snapshots of one process apart).
        """
        plain_cpu = self.cpu.snapshot
        self.marks["age_snapshot_start"] = controller.elapsed()
        sealed = await self._snapshot(kube, controller, suffix="-age", store=environment.OBJECTSTORE_AGE)
        self.marks["age_snapshot_end"] = controller.elapsed()
        sealed_cpu, self.cpu.snapshot = self.cpu.snapshot, plain_cpu
        peak_plain = controller.samples.peak(self.marks["snapshot_start"], self.marks["snapshot_end"])
        peak_sealed = controller.samples.peak(
            self.marks["age_snapshot_start"], self.marks["age_snapshot_end"]
        )
        result = {
            "seconds": round(sealed.measure.seconds, 3),
            "plain_seconds": round(plain.measure.seconds, 3),
            "time_ratio": round(sealed.measure.seconds / plain.measure.seconds, 3),
            "cpu_seconds": round(sealed_cpu, 2),
            "plain_cpu_seconds": round(plain_cpu, 2),
            "peak_rss_mb": round(peak_sealed / MB, 1),
            "plain_peak_rss_mb": round(peak_plain / MB, 1),
            "rss_ratio": round(peak_sealed / peak_plain, 3) if peak_plain else 0.0,
            "archive_bytes": sealed.archive_bytes,
        }
        log.info("encrypted snapshot: %.2f s (x%.2f of plain), peak RSS %.0f MB (plain %.0f MB)",
                 sealed.measure.seconds, result["time_ratio"], peak_sealed / MB, peak_plain / MB)  # fmt: skip
        return result

    async def _snapshot(
        self,
        kube: KubeClient,
        controller: ControllerProcess,
        *,
        suffix: str = "",
        store: str = environment.OBJECTSTORE,
    ) -> _Snapshot:
        name = f"bench-x{self.scale}{suffix}"
        cpu = controller.cpu_seconds()
        run = await crs.run_to_final_phase(
            kube, constants.SNAPSHOT, crs.snapshot_manifest(name, store=store), timeout=self.settings.timeout
        )
        self.cpu.snapshot = controller.cpu_seconds() - cpu
        if run.phase != constants.PHASE_COMPLETED:
            raise RuntimeError(f"snapshot {run.phase}: {run.status.get('reason')}")
        snap = _Snapshot(
            name=name,
            measure=Measure(int(run.status["numberOfContents"]), run.seconds),
            phases={k: round(v, 3) for k, v in run.phases.items()},
            archive_bytes=int(run.status["storedFileSize"]),
        )
        log.info("snapshot: %d objects in %.2f s (controller CPU %.1f s), %.1f MB archive",
                 snap.measure.objects, run.seconds, self.cpu.snapshot, snap.archive_bytes / MB)  # fmt: skip
        return snap

    async def _create_floor(self) -> Measure:
        spare = environment.spare_cluster(self.folder / "b-floor")
        try:
            async with await KubeClient.from_kubeconfig_file(str(spare.info.kubeconfig)) as kube_b:
                await settle(kube_b)
            concurrency = self.settings.restore_concurrency
            cpu = time.process_time()
            async with RawClient(spare.info.kubeconfig, connections=concurrency) as client:
                stats = await creator.create_population(
                    client, self.population, concurrency=concurrency, retry=False
                )
            self.cpu.create_floor = time.process_time() - cpu
        finally:
            spare.stop()
        log.info("create floor: %d objects in %.2f s (client CPU %.1f s), %d existed", stats.objects,
                 stats.seconds, self.cpu.create_floor, stats.existed)  # fmt: skip
        return Measure(stats.objects, stats.seconds)

    async def _restore(
        self, kube: KubeClient, controller: ControllerProcess, *, snapshot: str
    ) -> tuple[Measure, crs.CrRun, dict[str, int]]:
        spare = environment.spare_cluster(self.folder / "b-restore")
        name = f"bench-x{self.scale}-restore"
        try:
            async with await KubeClient.from_kubeconfig_file(str(spare.info.kubeconfig)) as kube_b:
                await settle(kube_b)
            manifest = crs.restore_manifest(name, snapshot=snapshot, kubeconfig=spare.info.kubeconfig)
            cpu = controller.cpu_seconds()
            self.marks["restore_start"] = controller.elapsed()
            run = await crs.run_to_final_phase(
                kube, constants.RESTORE, manifest, timeout=self.settings.timeout
            )
            self.marks["restore_end"] = controller.elapsed()
            self.cpu.restore = controller.cpu_seconds() - cpu
            if run.phase != constants.PHASE_COMPLETED:
                raise RuntimeError(f"restore {run.phase}: {run.status.get('reason')}")
        finally:
            spare.stop()
        outcomes = _restore_outcomes(controller, name)
        written = sum(outcomes.get(k, 0) for k in ("created", "updated", "already_existed"))
        log.info("restore: %d objects written in %.2f s (controller CPU %.1f s), %s", written,
                 run.seconds, self.cpu.restore, outcomes)  # fmt: skip
        return Measure(written, run.seconds), run, outcomes


@dataclass(frozen=True, slots=True)
class _Snapshot:
    name: str
    measure: Measure
    phases: dict[str, float]
    archive_bytes: int


async def _wait_store_available(kube: KubeClient, *, timeout: float = 120.0) -> None:
    """The ObjectstoreConfig turns Available once the controller leads, has synced and works."""
    path = constants.OBJECTSTORE_CONFIG.path(environment.CONTROLLER_NS, environment.OBJECTSTORE)
    deadline = time.monotonic() + timeout
    status: object = None
    while time.monotonic() < deadline:
        status = (await kube.get(path)).get("status") or {}
        if isinstance(status, dict) and status.get("phase") == constants.STORE_AVAILABLE:
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"ObjectstoreConfig not Available after {timeout:.0f} s: {status}")


def _restore_outcomes(controller: ControllerProcess, name: str) -> dict[str, int]:
    """The restore's outcome counts, from the controller's ``k8ssnap_restore_objects`` gauge."""
    with urllib.request.urlopen(f"{controller.metrics_url}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return {
        sample.labels["outcome"]: int(sample.value)
        for family in text_string_to_metric_families(text)
        if family.name == "k8ssnap_restore_objects"
        for sample in family.samples
        if sample.labels.get("restore") == name
    }
