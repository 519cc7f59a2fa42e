"""One scale of the benchmark, end to end, in a fresh environment.

1. S3 and cluster a come up; the controller's CRDs, namespace, bucket,
   credentials and ObjectstoreConfig are installed.
2. The population is created in a (64 creates in flight) and the cluster
   is left to settle (the controller manager makes ReplicaSets, Endpoints
   and EndpointSlices) until its revision stops moving.
3. List floor, once before and once after the snapshot (the faster one
   counts); once more at one exact resourceVersion, as the engine lists.
4. The controller starts; when its ObjectstoreConfig is Available it is
   leading, synced and working. One Snapshot, timed to Completed.
5. An empty cluster b: the create floor creates the population in it.
6. Another empty cluster b: one Restore of the snapshot, timed to Completed.
7. The controller's peak RSS (VmHWM) after the snapshot and at the end.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench import creator, crs, environment, lister
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
#: ``k8ssnap.app.manager`` gives the restore engine ``--restorethreads * 8`` creates in flight.
CREATES_PER_RESTORE_THREAD = 8


@dataclass(frozen=True, slots=True)
class Settings:
    """What a run is asked to do."""

    objects: int
    snapshot_threads: int
    restore_threads: int
    workdir: Path
    timeout: float

    @property
    def restore_concurrency(self) -> int:
        return self.restore_threads * CREATES_PER_RESTORE_THREAD


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


async def _wait_store_available(kube: KubeClient, *, timeout: float = 120.0) -> None:
    path = constants.OBJECTSTORE_CONFIG.path(environment.CONTROLLER_NS, environment.OBJECTSTORE)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        obj = await kube.get(path)
        if (obj.get("status") or {}).get("phase") == constants.STORE_AVAILABLE:
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"ObjectstoreConfig not Available after {timeout:.0f} s: {obj.get('status')}")


def _restore_outcomes(controller: ControllerProcess, name: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{controller.metrics_url}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    pattern = re.compile(
        rf'^k8ssnap_restore_objects{{restore="{re.escape(name)}",outcome="(\w+)"}} (\d+)$', re.M
    )
    return {outcome: int(value) for outcome, value in pattern.findall(text)}


async def _list_floor(
    kubeconfig: Path, resources: tuple[ApiResource, ...], *, threads: int, rv: str = ""
) -> Measure:
    async with RawClient(kubeconfig, connections=threads) as client:
        stats = await lister.list_floor(client, resources, concurrency=threads, exact_rv=rv)
    log.info("list floor%s: %d objects, %d pages, %.1f MB in %.2f s", " (exact rv)" if rv else "",
             stats.objects, stats.pages, stats.bytes / 1e6, stats.seconds)  # fmt: skip
    return Measure(stats.objects, stats.seconds)


async def run_scale(settings: Settings, *, scale: int) -> ScaleResult:
    """Measure one scale in ``workdir/x<scale>``; the environment is torn down at the end."""
    folder = settings.workdir / f"x{scale}"
    population = Population(objects=settings.objects * scale)
    log.info("x%d: %d objects in %d namespaces; environment in %s", scale, population.total,
             population.namespaces, folder)  # fmt: skip
    info = environment.up(folder)
    try:
        return await _measure(settings, scale=scale, population=population, folder=folder, info=info)
    finally:
        environment.down(folder)


async def _measure(
    settings: Settings, *, scale: int, population: Population, folder: Path, info: EnvironmentInfo
) -> ScaleResult:
    kubeconfig_a = info.clusters["a"].kubeconfig
    await environment.install_controller(info)
    notes: list[str] = []
    async with await KubeClient.from_kubeconfig_file(str(kubeconfig_a)) as kube:
        async with RawClient(kubeconfig_a, connections=FILL_CONCURRENCY) as client:
            filled = await creator.create_population(
                client, population, concurrency=FILL_CONCURRENCY, retry=True
            )
        log.info("filled: %d objects in %.1f s (%.0f/s), %d retried", filled.objects, filled.seconds,
                 filled.objects / filled.seconds, filled.retried)  # fmt: skip
        waited = await settle(kube)
        log.info("cluster a settled after %.1f s", waited)
        resources = await lister.snapshot_resources(kube)
        threads = settings.snapshot_threads
        floor_runs = [await _list_floor(kubeconfig_a, resources, threads=threads)]
        rv = await lister.current_resource_version(kube)
        exact = await _list_floor(kubeconfig_a, resources, threads=threads, rv=rv)

        controller = ControllerProcess(
            kubeconfig=kubeconfig_a,
            namespace=environment.CONTROLLER_NS,
            log=folder / "controller.log",
            snapshot_threads=settings.snapshot_threads,
            restore_threads=settings.restore_threads,
        )
        controller.start()
        try:
            await _wait_store_available(kube)
            baseline = controller.rss()
            log.info("controller ready, RSS %.0f MB", baseline / 1e6)
            snap_name = f"bench-x{scale}"
            snap = await crs.run_to_final_phase(
                kube, constants.SNAPSHOT, crs.snapshot_manifest(snap_name), timeout=settings.timeout
            )
            peak_snapshot = controller.peak_rss()
            if snap.phase != constants.PHASE_COMPLETED:
                raise RuntimeError(f"snapshot {snap.phase}: {snap.status.get('reason')}")
            snapshot = Measure(int(snap.status["numberOfContents"]), snap.seconds)
            archive = int(snap.status["storedFileSize"])
            log.info("snapshot: %d objects in %.2f s, %.1f MB archive, peak RSS %.0f MB", snapshot.objects,
                     snapshot.seconds, archive / 1e6, peak_snapshot / 1e6)  # fmt: skip
            floor_runs.append(await _list_floor(kubeconfig_a, resources, threads=threads))

            create_floor = await _create_floor(settings, population, folder / "b-floor")

            restore, restore_run, outcomes = await _restore(
                settings, kube, controller, folder=folder / "b-restore", snapshot=snap_name, scale=scale
            )
            peak = controller.peak_rss()
            log.info("restore: %d objects in %.2f s %s, peak RSS %.0f MB", restore.objects, restore.seconds,
                     outcomes, peak / 1e6)  # fmt: skip
        finally:
            controller.stop()
    if outcomes.get("failed"):
        notes.append(f"the restore reported {outcomes['failed']} failed objects")
    list_floor = min(floor_runs, key=lambda m: m.seconds)
    return ScaleResult(
        scale=scale,
        requested_objects=population.objects,
        population=population.counts(),
        fill=Measure(filled.objects, filled.seconds),
        cluster_objects=list_floor.objects,
        list_floor=list_floor,
        list_floor_runs=[round(m.seconds, 3) for m in floor_runs],
        list_floor_exact_rv=exact,
        snapshot=snapshot,
        snapshot_phases={k: round(v, 3) for k, v in snap.phases.items()},
        archive_bytes=int(snap.status["storedFileSize"]),
        create_floor=create_floor,
        restore=restore,
        restore_phases={k: round(v, 3) for k, v in restore_run.phases.items()},
        restore_outcomes=outcomes,
        rss_baseline=baseline,
        rss_peak_snapshot=peak_snapshot,
        rss_peak=peak,
        notes=notes,
    )


async def _create_floor(settings: Settings, population: Population, folder: Path) -> Measure:
    spare = environment.spare_cluster(folder)
    try:
        async with await KubeClient.from_kubeconfig_file(str(spare.info.kubeconfig)) as kube_b:
            await settle(kube_b)
        concurrency = settings.restore_concurrency
        async with RawClient(spare.info.kubeconfig, connections=concurrency) as client:
            stats = await creator.create_population(client, population, concurrency=concurrency, retry=False)
    finally:
        spare.stop()
    log.info("create floor: %d objects in %.2f s (%d existed), phases %s", stats.objects, stats.seconds,
             stats.existed, {k: round(v, 2) for k, v in stats.phases.items()})  # fmt: skip
    return Measure(stats.objects, stats.seconds)


async def _restore(
    settings: Settings,
    kube: KubeClient,
    controller: ControllerProcess,
    *,
    folder: Path,
    snapshot: str,
    scale: int,
) -> tuple[Measure, crs.CrRun, dict[str, int]]:
    spare = environment.spare_cluster(folder)
    try:
        async with await KubeClient.from_kubeconfig_file(str(spare.info.kubeconfig)) as kube_b:
            await settle(kube_b)
        name = f"bench-x{scale}-restore"
        manifest = crs.restore_manifest(name, snapshot=snapshot, kubeconfig=spare.info.kubeconfig)
        run = await crs.run_to_final_phase(kube, constants.RESTORE, manifest, timeout=settings.timeout)
        if run.phase != constants.PHASE_COMPLETED:
            raise RuntimeError(f"restore {run.phase}: {run.status.get('reason')}")
    finally:
        spare.stop()
    outcomes = _restore_outcomes(controller, name)
    written = outcomes.get("created", 0) + outcomes.get("updated", 0) + outcomes.get("already_existed", 0)
    return Measure(written, run.seconds), run, outcomes
