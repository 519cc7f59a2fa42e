"""Snapshot and Restore custom resources, timed from creation to a final phase.

The clock starts just before the POST and stops when a watch on the
object (from the resourceVersion the POST returned) shows ``Completed`` or
``Failed``; the first time each phase is seen is kept, so the time the
controller needs to pick the work up shows separately from the work.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.environment import CONTROLLER_NS, OBJECTSTORE
from k8ssnap.api import constants
from k8ssnap.kube.client import KubeClient

FINAL = frozenset({constants.PHASE_COMPLETED, constants.PHASE_FAILED})


@dataclass(slots=True)
class CrRun:
    """One CR's way to a final phase."""

    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=dict)

    @property
    def phase(self) -> str:
        return str(self.status.get("phase", ""))


def snapshot_manifest(name: str, *, store: str = OBJECTSTORE) -> dict[str, Any]:
    """A Snapshot of the controller's own cluster (no kubeconfig: cluster a) into ``store``."""
    return {
        "apiVersion": f"{constants.GROUP}/{constants.VERSION}",
        "kind": "Snapshot",
        "metadata": {"name": name, "namespace": CONTROLLER_NS},
        "spec": {"clusterName": "bench-a", "objectstoreConfig": store},
    }


def restore_manifest(name: str, *, snapshot: str, kubeconfig: Path) -> dict[str, Any]:
    """A Restore of ``snapshot`` into the cluster of ``kubeconfig`` (inline, as k8s-snap's README)."""
    return {
        "apiVersion": f"{constants.GROUP}/{constants.VERSION}",
        "kind": "Restore",
        "metadata": {"name": name, "namespace": CONTROLLER_NS},
        "spec": {"clusterName": "bench-b", "backupName": snapshot, "kubeconfig": kubeconfig.read_text()},
    }


async def run_to_final_phase(
    kube: KubeClient, kind: constants.ResourceKind, manifest: dict[str, Any], *, timeout: float
) -> CrRun:
    """Create ``manifest`` and wait for a final phase; raise TimeoutError after ``timeout`` s."""
    collection = kind.path(CONTROLLER_NS)
    name = manifest["metadata"]["name"]
    run = CrRun()
    started = time.perf_counter()
    created = await kube.create(collection, manifest)
    version = str(created["metadata"]["resourceVersion"])
    while time.perf_counter() - started < timeout:
        query = {"fieldSelector": f"metadata.name={name}", "resourceVersion": version}
        async for event in kube.watch(collection, query, timeout_seconds=60):
            obj = event.get("object") or {}
            version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
            status = obj.get("status") or {}
            phase = str(status.get("phase") or "")
            if phase and phase not in run.phases:
                run.phases[phase] = time.perf_counter() - started
            if phase in FINAL:
                run.seconds = run.phases[phase]
                run.status = status
                return run
    raise TimeoutError(f"{kind.kind} {name} did not finish within {timeout:.0f} s (phases {run.phases})")
