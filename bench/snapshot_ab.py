"""``python -m bench.snapshot_ab --dir DIR VARIANT...``: the snapshot engine, in-process, A/B.

Takes the same snapshot of cluster a of a running local environment
(``python -m k8ssnap.devenv up --dir DIR``) once per VARIANT, in the order
given (interleave them: this machine is shared and noisy), and prints
wall time, this process's CPU time and the archive size. Variants:

* ``base`` -- as the controller runs it (gzip level 6, gzip from the API server);
* ``l1`` -- ``--gzip-level=1``;
* ``id`` -- asks the API server for uncompressed answers (``Accept-Encoding: identity``);
* ``id+l1`` -- both;
* ``age`` -- ``base``, encrypted with age to a throwaway recipient (docs/encryption.md);
* ``floor`` -- the list floor (``bench.lister``: the snapshot's resources listed by a
  minimal client, 5 at a time, bodies discarded), so the snapshot's ratio to the floor
  comes from the same run; its archive size is 0;
* ``old`` -- the same engine from another source tree (``--old-tree``: an
  export of the commit to compare with, ``git archive REV | tar -x -C DIR``),
  run as a subprocess of its own ``python -m bench.snapshot_ab ... base``; its
  CPU time is that process's, for the engine run alone, as for the others.

``--fill N`` first creates the benchmark's population of N objects in cluster a
(``bench.population``; the cluster then holds about 1.43 x N objects). At the
end it prints each variant's median wall and CPU time and their ratios to the
first variant's. The in-process variants also report their peak RSS above this
process's RSS before they started (VmRSS sampled every 20 ms).

Fill the cluster first with whatever population is of interest; the figures
in docs/performance.md came from 25,000 ConfigMaps in 100 namespaces. It
writes to the environment's bucket under ``ab-<n>`` and deletes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench import creator, lister
from bench.environment import s3_settings
from bench.population import Population
from bench.rawclient import RawClient
from k8ssnap.archive.index import RecordedSpec
from k8ssnap.devenv import env
from k8ssnap.kube.client import KubeClient
from k8ssnap.snapshot.engine import SnapshotEngine, SnapshotJob
from k8ssnap.store import age
from k8ssnap.store.s3 import S3Store
from k8ssnap.store.snapshots import SnapshotStore

VARIANTS = ("base", "l1", "id", "id+l1", "age", "old", "floor")
_LINE = re.compile(r"(\d+) objects: wall ([\d.]+) s, CPU ([\d.]+) s, archive ([\d.]+) MB")
Figures = tuple[int, float, float, float]  # objects, wall s, CPU s, archive MB


class _IdentityClient(KubeClient):
    """A client that asks for uncompressed answers."""

    async def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = await super()._headers(content_type)
        headers["Accept-Encoding"] = "identity"
        return headers


async def _run(folder: Path, variants: list[str], *, old_tree: Path | None, fill: int) -> None:
    info = env.load(folder)
    kubeconfig = str(info.clusters["a"].kubeconfig)
    if fill:
        async with RawClient(Path(kubeconfig), connections=64) as raw:
            stats = await creator.create_population(raw, Population(fill), concurrency=64, retry=True)
        print(f"filled {stats.objects} objects in {stats.seconds:.1f} s", flush=True)
    plain = await KubeClient.from_kubeconfig_file(kubeconfig)
    identity = await _IdentityClient.from_kubeconfig_file(kubeconfig)
    store = await S3Store.open(s3_settings(info, bucket=info.s3.bucket))
    spec = RecordedSpec(cluster_name="a", ttl=None, available_until=None, objectstore_config="")
    recipients = age.Recipients.parse(age.generate()[1], what="throwaway")
    results: dict[str, list[Figures]] = {}
    try:
        for number, variant in enumerate(variants):
            if variant == "old":
                if old_tree is None:
                    raise SystemExit("variant old needs --old-tree")
                figures = await asyncio.to_thread(_run_old, old_tree, folder)
            elif variant == "floor":
                figures = await _floor(Path(kubeconfig), plain)
            else:
                engine = SnapshotEngine(slots=asyncio.Semaphore(5), gzip_level=1 if "l1" in variant else 6)
                kube = identity if "id" in variant else plain
                job = SnapshotJob(
                    name=f"ab-new-{number}",
                    cluster_name="a",
                    spec=spec,
                    recipients=recipients if variant == "age" else None,
                )
                before = _rss()
                sampler = asyncio.create_task(_peak_rss())
                wall, cpu = time.perf_counter(), time.process_time()
                outcome = await engine.run(job, kube=kube, store=SnapshotStore(store))
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                sampler.cancel()
                peak = max(_PEAK[0], _rss())
                print(
                    f"{variant:6s} peak RSS {peak / 1e6:.0f} MB (+{(peak - before) / 1e6:.0f} MB)", flush=True
                )
                figures = (outcome.index.total, wall, cpu, outcome.stored.size / 1e6)
            results.setdefault(variant, []).append(figures)
            objects, wall, cpu, size = figures
            print(
                f"{variant:6s} {objects} objects: wall {wall:.2f} s, CPU {cpu:.2f} s, archive {size:.1f} MB",
                flush=True,
            )
    finally:
        await plain.close()
        await identity.close()
        await store.close()
    _summary(results)


_PEAK = [0]


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def _peak_rss() -> None:
    """Keep the highest VmRSS in ``_PEAK`` (the loop samples between the engine's steps)."""
    _PEAK[0] = 0
    while True:
        _PEAK[0] = max(_PEAK[0], _rss())
        await asyncio.sleep(0.02)


async def _floor(kubeconfig: Path, kube: KubeClient) -> Figures:
    resources = await lister.snapshot_resources(kube)
    cpu = time.process_time()
    async with RawClient(kubeconfig, connections=5) as raw:
        stats = await lister.list_floor(raw, resources, concurrency=5)
    return stats.objects, stats.seconds, time.process_time() - cpu, 0.0


def _run_old(tree: Path, folder: Path) -> Figures:
    environ = {**os.environ, "PYTHONPATH": str(tree)}
    command = [sys.executable, "-m", "bench.snapshot_ab", "--dir", str(folder), "base"]
    done = subprocess.run(command, cwd=tree, env=environ, capture_output=True, text=True, check=True)
    found = _LINE.search(done.stdout)
    if found is None:
        raise RuntimeError(f"no result from the old tree: {done.stdout[-500:]} {done.stderr[-2000:]}")
    objects, wall, cpu, size = found.groups()
    return int(objects), float(wall), float(cpu), float(size)


def _summary(results: dict[str, list[Figures]]) -> None:
    """Medians per variant, and their ratios to the first variant's."""
    medians = {
        variant: tuple(statistics.median(run[i] for run in runs) for i in (1, 2, 3))
        for variant, runs in results.items()
    }
    if not medians:
        return
    first = next(iter(medians.values()))
    print("\n| variant | runs | wall s (median) | CPU s (median) | archive MB | wall ratio | CPU ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for variant, (wall, cpu, size) in medians.items():
        print(
            f"| {variant} | {len(results[variant])} | {wall:.2f} | {cpu:.2f} | {size:.1f} "
            f"| {wall / first[0]:.2f} | {cpu / first[1]:.2f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.snapshot_ab", description=__doc__)
    parser.add_argument("--dir", type=Path, required=True, help="a running devenv folder")
    parser.add_argument("--old-tree", type=Path, help="source tree of the old code, for variant old")
    parser.add_argument("--fill", type=int, default=0, help="first create a population of N objects in a")
    parser.add_argument("variants", nargs="+", choices=VARIANTS)
    args = parser.parse_args()
    asyncio.run(_run(args.dir, args.variants, old_tree=args.old_tree, fill=args.fill))


if __name__ == "__main__":
    main()
