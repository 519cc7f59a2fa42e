"""Kubeconfigs for ServiceAccounts, so tests and the demo run the controller with its own RBAC."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from k8ssnap.devenv.env import EnvironmentInfo


def service_account_kubeconfig(
    info: EnvironmentInfo, *, cluster: str, namespace: str, account: str, path: Path, duration: str = "4h"
) -> Path:
    """Write a kubeconfig that authenticates as ``namespace/account`` with a bound token."""
    target = info.clusters[cluster]
    proc = subprocess.run(
        [str(info.kubectl), "--kubeconfig", str(target.kubeconfig), "create", "token", account,
         "-n", namespace, f"--duration={duration}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster,
                "cluster": {"server": target.server, "certificate-authority": str(target.ca_cert)},
            }
        ],
        "users": [{"name": account, "user": {"token": proc.stdout.strip()}}],
        "contexts": [{"name": account, "context": {"cluster": cluster, "user": account}}],
        "current-context": account,
    }
    path.write_text(json.dumps(config))
    path.chmod(0o600)
    return path
