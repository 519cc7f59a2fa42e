"""``python -m bench``: the one command that runs the benchmark (see bench/README.md)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import platform
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import uvloop

from bench import report
from bench.scale import FILL_CONCURRENCY, Settings, run_scale
from k8ssnap.devenv import versions

log = logging.getLogger("bench")
RESULTS = Path(__file__).resolve().parent / "results"


def _scales(text: str) -> list[int]:
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"scales are positive integers: {text!r}")
    return values


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--objects", type=int, default=20_000, help="N, objects at scale 1 (default 20000)")
    p.add_argument("--scales", type=_scales, default=[1, 5], help="multiples of N, e.g. 1,5 (default)")
    p.add_argument(
        "--snapshotthreads",
        type=int,
        default=5,
        help="the controller's --snapshotthreads, and the list floor's concurrent LISTs (5)",
    )
    p.add_argument(
        "--restorethreads",
        type=int,
        default=32,
        help="the controller's --restorethreads (creates in flight in a restore), and the create "
        "floor's creates in flight (32)",
    )
    p.add_argument(
        "--workdir",
        type=Path,
        default=Path("/tmp/k8ssnap-bench"),
        help="environments and logs, one folder per scale (default /tmp/k8ssnap-bench)",
    )
    p.add_argument("--out", type=Path, default=None, help="JSON results (default bench/results/<time>.json)")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds one Snapshot or Restore may take")
    p.add_argument(
        "--encrypted",
        action="store_true",
        help="also take the snapshot age-encrypted right after the plain one, and compare",
    )
    p.add_argument(
        "--peer",
        choices=["velero"],
        default="",
        help="also run this peer's backup and restore on the same clusters and S3, and compare (velero)",
    )
    p.add_argument(
        "--peer-restore-limit",
        type=float,
        default=1200.0,
        help="seconds to wait for the peer's restore; after that its progress and rate so far count (1200)",
    )
    return p


def _machine() -> dict[str, object]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "kubernetes": versions.KUBERNETES_VERSION,
        "etcd": versions.ETCD_VERSION,
    }


async def _run(run: report.Run, settings: Settings, scales: Sequence[int]) -> None:
    # SIGTERM and SIGINT cancel the run, so every environment is torn down on the way out
    # (a background process started by a shell ignores SIGINT, hence SIGTERM too)
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    for scale in scales:
        run.results.append(await run_scale(settings, scale=scale))


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    out = args.out or RESULTS / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    settings = Settings(
        objects=args.objects,
        snapshot_threads=args.snapshotthreads,
        restore_threads=args.restorethreads,
        workdir=args.workdir.resolve(),
        timeout=args.timeout,
        encrypted=args.encrypted,
        peer=args.peer,
        peer_restore_limit=args.peer_restore_limit,
    )
    run = report.Run(
        started=started.isoformat(),
        settings={
            "objects": args.objects,
            "scales": args.scales,
            "snapshotthreads": args.snapshotthreads,
            "list_floor_concurrency": args.snapshotthreads,
            "restorethreads": args.restorethreads,
            "restore_concurrency": settings.restore_concurrency,
            "create_floor_concurrency": settings.restore_concurrency,
            "fill_concurrency": FILL_CONCURRENCY,
            "page_size": 500,
            "peer": args.peer,
            "peer_restore_limit": args.peer_restore_limit,
        },
        machine=_machine(),
    )
    try:
        uvloop.run(_run(run, settings, args.scales))
    except asyncio.CancelledError:
        log.warning("interrupted; the environments are down, results so far follow")
        return 130
    finally:
        if run.results:
            run.write(out)
            print(report.table(run))
            print(f"\nJSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
