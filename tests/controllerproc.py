"""Running the real controller process against cluster a, as a test would deploy it.

The controller is started as a subprocess (``python -m k8ssnap.app.controller``)
with k8s-snap's flags; its log is kept next to the environment's logs.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from k8ssnap.devenv import process


class ControllerProcess:
    """One controller process; ``metrics_url`` serves /metrics, /healthz, /readyz."""

    def __init__(
        self, *, kubeconfig: Path, namespace: str, log: Path, extra: list[str] | None = None
    ) -> None:
        self.port = process.free_port()
        self.metrics_url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.argv = [
            sys.executable, "-m", "k8ssnap.app.controller",
            f"--kubeconfig={kubeconfig}", f"--namespace={namespace}",
            f"--metrics-address=127.0.0.1:{self.port}", "--maxretryelapsedsec=60",
            "--housekeeping-interval=3", *(extra or []),
        ]  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = None
        self.hostname = socket.gethostname()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, *, timeout: float = 60) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = self.log.open("ab")
        self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"controller exited {self.proc.returncode}:\n{process.tail(self.log)}")
            if process.http_ok(f"{self.metrics_url}/healthz"):
                return
            time.sleep(0.2)
        raise AssertionError(f"controller not healthy after {timeout} s:\n{process.tail(self.log)}")

    def metrics(self) -> str:
        with urllib.request.urlopen(f"{self.metrics_url}/metrics", timeout=5) as resp:
            return resp.read().decode()

    def stop(self, *, kill: bool = False) -> None:
        if self.proc is None:
            return
        if kill:
            self.proc.kill()
        else:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=45)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
