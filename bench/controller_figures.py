"""``python -m bench.controller_figures``: the controller's idle RSS, A/B, and Snapshot latency.

In a fresh environment of its own (S3 and an empty cluster a, ``--workdir``),
with the controller's prerequisites installed as the benchmark does:

1. **Idle RSS.** The controller is started once per variant, interleaved:
   ``new`` (this tree) and, with ``--old-tree DIR`` (an export of the commit to
   compare with: ``git archive REV | tar -x -C DIR``), ``old``. Once its
   ObjectstoreConfig is Available (it leads, has synced and works) and a
   further ``--settle`` seconds have passed, its ``VmRSS`` and ``VmHWM``
   are read.
2. **Latency** (this tree's controller). ``--runs`` Snapshots of the empty
   cluster, one after the other, each timed from its POST to the first watch
   event showing ``InProgress`` and to ``Completed``; p50 and p95 of both.

Prints a Markdown table and writes the figures as JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench import crs, environment
from bench.controllerproc import ControllerProcess
from bench.scale import _wait_store_available
from k8ssnap.api import constants
from k8ssnap.kube.client import KubeClient

log = logging.getLogger("bench.controller_figures")
MB = 1e6


class _Controller(ControllerProcess):
    """The controller of this tree, or of ``tree``: that tree's packages come first on sys.path."""

    def __init__(self, *, tree: Path | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if tree is not None:
            boot = f"import runpy, sys; sys.path.insert(0, {str(tree)!r}); "
            boot += "runpy.run_module('k8ssnap.app.controller', run_name='__main__', alter_sys=True)"
            self.argv = [sys.executable, "-c", boot, *self.argv[3:]]


async def _idle(
    info: Any, kube: KubeClient, *, folder: Path, variant: str, tree: Path | None, settle: float
) -> dict[str, float]:
    controller = _Controller(
        tree=tree,
        kubeconfig=info.clusters["a"].kubeconfig,
        namespace=environment.CONTROLLER_NS,
        log=folder / f"controller-{variant}.log",
        snapshot_threads=5,
        restore_threads=32,
    )
    controller.start(timeout=180)
    try:
        started = time.monotonic()
        await _wait_store_available(kube, timeout=180)
        ready = time.monotonic() - started
        await asyncio.sleep(settle)
        return {
            "ready_s": round(ready, 2),
            "rss_mb": round(controller.rss() / MB, 1),
            "hwm_mb": round(controller.peak_rss() / MB, 1),
        }
    finally:
        controller.stop()


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def _latency(info: Any, kube: KubeClient, *, folder: Path, runs: int) -> dict[str, Any]:
    controller = _Controller(
        tree=None,
        kubeconfig=info.clusters["a"].kubeconfig,
        namespace=environment.CONTROLLER_NS,
        log=folder / "controller-latency.log",
        snapshot_threads=5,
        restore_threads=32,
    )
    controller.start(timeout=180)
    in_progress: list[float] = []
    completed: list[float] = []
    try:
        await _wait_store_available(kube, timeout=180)
        for number in range(runs):
            manifest = crs.snapshot_manifest(f"latency-{number}")
            run = await crs.run_to_final_phase(kube, constants.SNAPSHOT, manifest, timeout=300)
            if run.phase != constants.PHASE_COMPLETED:
                raise RuntimeError(f"snapshot latency-{number} ended {run.phase}: {run.status}")
            in_progress.append(run.phases.get(constants.PHASE_IN_PROGRESS, run.seconds))
            completed.append(run.seconds)
            objects = run.status.get("numberOfContents")
            log.info("latency-%d: InProgress %.3f s, Completed %.3f s, %s objects",
                     number, in_progress[-1], completed[-1], objects)  # fmt: skip
    finally:
        controller.stop()
    return {
        "runs": runs,
        "objects": objects,
        "in_progress_s": in_progress,
        "completed_s": completed,
        "in_progress_p50": round(statistics.median(in_progress), 3),
        "in_progress_p95": round(_percentile(in_progress, 0.95), 3),
        "completed_p50": round(statistics.median(completed), 3),
        "completed_p95": round(_percentile(completed, 0.95), 3),
    }


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    folder: Path = args.workdir
    info = environment.up(folder)
    try:
        await environment.install_controller(info)
        kube = await KubeClient.from_kubeconfig_file(str(info.clusters["a"].kubeconfig))
        try:
            variants = ["old", "new"] if args.old_tree else ["new"]
            idle: dict[str, list[dict[str, float]]] = {}
            for _ in range(args.idle_runs):
                for variant in variants:
                    tree = args.old_tree if variant == "old" else None
                    figures = await _idle(
                        info, kube, folder=folder, variant=variant, tree=tree, settle=args.settle
                    )
                    log.info("idle %s: %s", variant, figures)
                    idle.setdefault(variant, []).append(figures)
            latency = await _latency(info, kube, folder=folder, runs=args.runs) if args.runs else {}
        finally:
            await kube.close()
    finally:
        environment.down(folder)
    return {"idle": idle, "latency": latency, "load_average": list(os.getloadavg())}


def _table(result: dict[str, Any]) -> str:
    lines = ["| controller | runs | idle RSS MB (median) | VmHWM MB (median) |", "|---|---:|---:|---:|"]
    for variant, runs in result["idle"].items():
        rss = statistics.median(r["rss_mb"] for r in runs)
        hwm = statistics.median(r["hwm_mb"] for r in runs)
        lines.append(f"| {variant} | {len(runs)} | {rss:.1f} | {hwm:.1f} |")
    latency = result["latency"]
    if latency:
        lines += [
            "",
            f"Snapshot latency over {latency['runs']} runs ({latency['objects']} objects):",
            "created -> InProgress p50 {in_progress_p50:.3f} s, p95 {in_progress_p95:.3f} s; "
            "created -> Completed p50 {completed_p50:.3f} s, p95 {completed_p95:.3f} s".format(**latency),
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.controller_figures", description=__doc__)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/k8ssnap-bench-controller"))
    parser.add_argument("--old-tree", type=Path, help="source tree of the old code, for the old idle RSS")
    parser.add_argument("--idle-runs", type=int, default=2, help="controller starts per variant")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds idle before reading RSS")
    parser.add_argument("--runs", type=int, default=20, help="Snapshots timed for the latency")
    parser.add_argument("--out", type=Path, help="JSON results")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    result = asyncio.run(_main(args))
    print(_table(result))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
