"""The controller process: ``k8ssnap-controller`` with k8s-snap's flags.

Runs on uvloop. SIGTERM and SIGINT stop it gracefully (see
:mod:`k8ssnap.app.manager`). Exits 1 with a one-line reason when it
cannot start (no namespace, no CRDs, an unusable kubeconfig), and exits 1
with the traceback logged when anything else ends it unexpectedly, so that
the Deployment restarts a broken process.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import uvloop

from k8ssnap import errors, tempdirs
from k8ssnap.app import flags as flagmod
from k8ssnap.app import logs
from k8ssnap.app.http import HealthServer
from k8ssnap.app.manager import Manager, run_until_signalled
from k8ssnap.kube.client import KubeClient

log = logging.getLogger("k8ssnap.controller")


async def _main(flags: flagmod.Flags) -> None:
    swept = await asyncio.to_thread(tempdirs.sweep)
    if swept:
        log.info("removed %d stale temporary files of killed k8ssnap processes", len(swept))
    kube = await KubeClient.from_kubeconfig_file(flags.kubeconfig, master=flags.master, max_connections=64)
    manager = Manager(kube=kube, flags=flags)
    server = HealthServer(registry=manager.registry, ready=manager.ready, address=flags.metrics_address)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    try:
        await run_until_signalled(manager, stop=stop)
    finally:
        await server.stop()
        await kube.close()


def main(
    argv: Sequence[str] | None = None,
    *,
    run: Callable[[flagmod.Flags], Coroutine[Any, Any, None]] = _main,
    setup_logs: Callable[[str], None] = logs.setup,
) -> int:
    """Entry point of ``k8ssnap-controller``; ``run`` and ``setup_logs`` are seams for tests."""
    flags = flagmod.parse(argv)
    setup_logs(flags.log_format)
    log.info("starting: namespace=%s snapshotthreads=%d", flags.namespace, flags.snapshot_threads)
    if flags.insecure:
        log.warning("--insecure: the object store's TLS certificate will not be verified")
    if flags.insecure_kubeconfig_tls:
        log.warning(
            "--insecure-kubeconfig-tls: kubeconfigs of Snapshots and Restores may skip TLS verification"
        )
    try:
        uvloop.run(run(flags))
    except errors.K8sSnapError as exc:
        log.error("cannot run: %s", exc.reason)  # noqa: TRY400 - a reason, not a stack
        return 1
    except Exception:
        log.exception("the controller failed; exiting to be restarted")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
