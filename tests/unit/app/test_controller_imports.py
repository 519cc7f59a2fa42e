"""What the controller imports at start: the heavy libraries only some jobs need stay out.

Each module kept out is resident memory every controller would carry while idle
(docs/performance.md, "Controller idle RSS"): kubernetes-asyncio's generated
client (about 36 MB) and grpcio (about 10 MB, for EtcdSnapshots only).
"""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "module", ["grpc", "kubernetes_asyncio.client.api", "kubernetes_asyncio.client.models"]
)
def test_starting_the_controller_does_not_import(module: str) -> None:
    probe = f"import sys, k8ssnap.app.controller; print({module!r} in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "False"
