"""``python -m bench.snapshot_ab --dir DIR VARIANT...``: the snapshot engine, in-process, A/B.

Takes the same snapshot of cluster a of a running local environment
(``python -m k8ssnap.devenv up --dir DIR``) once per VARIANT, in the order
given (interleave them: this machine is shared and noisy), and prints
wall time, this process's CPU time and the archive size. Variants:

* ``base`` -- as the controller runs it (gzip level 6, gzip from the API server);
* ``l1`` -- ``--gzip-level=1``;
* ``id`` -- asks the API server for uncompressed answers (``Accept-Encoding: identity``);
* ``id+l1`` -- both.

Fill the cluster first with whatever population is of interest; the figures
in docs/performance.md came from 25,000 ConfigMaps in 100 namespaces. It
writes to the environment's bucket under ``ab-<n>`` and deletes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from bench.environment import s3_settings
from k8ssnap.archive.index import RecordedSpec
from k8ssnap.devenv import env
from k8ssnap.kube.client import KubeClient
from k8ssnap.snapshot.engine import SnapshotEngine, SnapshotJob
from k8ssnap.store.s3 import S3Store
from k8ssnap.store.snapshots import SnapshotStore

VARIANTS = ("base", "l1", "id", "id+l1")


class _IdentityClient(KubeClient):
    """A client that asks for uncompressed answers."""

    async def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = await super()._headers(content_type)
        headers["Accept-Encoding"] = "identity"
        return headers


async def _run(folder: Path, variants: list[str]) -> None:
    info = env.load(folder)
    kubeconfig = str(info.clusters["a"].kubeconfig)
    plain = await KubeClient.from_kubeconfig_file(kubeconfig)
    identity = await _IdentityClient.from_kubeconfig_file(kubeconfig)
    store = await S3Store.open(s3_settings(info, bucket=info.s3.bucket))
    spec = RecordedSpec(cluster_name="a", ttl=None, available_until=None, objectstore_config="")
    try:
        for number, variant in enumerate(variants):
            engine = SnapshotEngine(slots=asyncio.Semaphore(5), gzip_level=1 if "l1" in variant else 6)
            kube = identity if "id" in variant else plain
            job = SnapshotJob(name=f"ab-{number}", cluster_name="a", spec=spec)
            wall, cpu = time.perf_counter(), time.process_time()
            outcome = await engine.run(job, kube=kube, store=SnapshotStore(store))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            print(
                f"{variant:6s} {outcome.index.total} objects: wall {wall:.2f} s, CPU {cpu:.2f} s, "
                f"archive {outcome.stored.size / 1e6:.1f} MB",
                flush=True,
            )
    finally:
        await plain.close()
        await identity.close()
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.snapshot_ab", description=__doc__)
    parser.add_argument("--dir", type=Path, required=True, help="a running devenv folder")
    parser.add_argument("variants", nargs="+", choices=VARIANTS)
    args = parser.parse_args()
    asyncio.run(_run(args.dir, args.variants))


if __name__ == "__main__":
    main()
