"""Building custom-resource manifests the way a user writes them, and waiting on them with kubectl."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import CONTROLLER_NS, OBJECTSTORE, Kubectl


def snapshot_manifest(name: str, *, kubeconfig: Path | str | None, **spec: Any) -> str:
    """A Snapshot; ``kubeconfig`` is a file whose text goes inline, inline text, or None (own cluster)."""
    body: dict[str, Any] = {"clusterName": "cluster-a", "objectstoreConfig": OBJECTSTORE, **spec}
    if kubeconfig is not None:
        body["kubeconfig"] = kubeconfig.read_text() if isinstance(kubeconfig, Path) else kubeconfig
    return json.dumps(
        {
            "apiVersion": "clustersnapshot.rywt.io/v1alpha1",
            "kind": "Snapshot",
            "metadata": {"name": name, "namespace": CONTROLLER_NS},
            "spec": body,
        }
    )


def restore_manifest(name: str, *, snapshot: str, kubeconfig: Path | None, **spec: Any) -> str:
    body: dict[str, Any] = {"clusterName": "cluster-b", "backupName": snapshot, **spec}
    if kubeconfig is not None:
        body["kubeconfig"] = kubeconfig.read_text()
    return json.dumps(
        {
            "apiVersion": "clustersnapshot.rywt.io/v1alpha1",
            "kind": "Restore",
            "metadata": {"name": name, "namespace": CONTROLLER_NS},
            "spec": body,
        }
    )


def wait_phase(kubectl: Kubectl, kind: str, name: str, phase: str, *, timeout: int = 120) -> dict[str, Any]:
    """``kubectl wait`` for the object, then for a phase; return it (fails with its status otherwise)."""
    kubectl(
        "wait", f"{kind}/{name}", "-n", CONTROLLER_NS, "--for=create", f"--timeout={timeout}s", check=False
    )
    out = kubectl(
        "wait", f"{kind}/{name}", "-n", CONTROLLER_NS, f"--for=jsonpath={{.status.phase}}={phase}",
        f"--timeout={timeout}s", check=False,
    )  # fmt: skip
    obj: dict[str, Any] = json.loads(kubectl("get", f"{kind}/{name}", "-n", CONTROLLER_NS, "-o", "json"))
    assert obj.get("status", {}).get("phase") == phase, (
        f"{kind}/{name} is not {phase}: {obj.get('status')} ({out})"
    )
    return obj
