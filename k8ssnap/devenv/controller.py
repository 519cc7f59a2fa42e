"""The k8ssnap controller as a local process, for the demo, the tests and the benchmark.

``python -m k8ssnap.app.controller`` with k8s-snap's flags against a local
cluster; its own ``/healthz`` says when it is up. Output goes to a log
file that is kept. Started in its own session, like the servers.
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
    """One controller process; ``metrics_url`` serves /metrics, /healthz and /readyz."""

    def __init__(
        self, *, kubeconfig: Path, namespace: str, log: Path, extra: list[str] | None = None
    ) -> None:
        self.port = process.free_port()
        self.metrics_url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.argv = [
            sys.executable, "-m", "k8ssnap.app.controller",
            f"--kubeconfig={kubeconfig}", f"--namespace={namespace}",
            f"--metrics-address=127.0.0.1:{self.port}", *(extra or []),
        ]  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = None
        self.hostname = socket.gethostname()

    @property
    def pid(self) -> int:
        assert self.proc is not None, "the controller is not running"
        return self.proc.pid

    def start(self, *, timeout: float = 60) -> None:
        """Start the process and wait until /healthz answers; RuntimeError quotes its log if not."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.started()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"controller exited {self.proc.returncode}:\n{process.tail(self.log)}")
            if process.http_ok(f"{self.metrics_url}/healthz"):
                return
            time.sleep(0.1)
        raise RuntimeError(f"controller not healthy after {timeout} s:\n{process.tail(self.log)}")

    def started(self) -> None:
        """Called right after the process is spawned (a hook for subclasses)."""

    def metrics(self) -> str:
        """The Prometheus text of /metrics."""
        with urllib.request.urlopen(f"{self.metrics_url}/metrics", timeout=5) as resp:  # noqa: S310
            return str(resp.read().decode())

    def stop(self, *, kill: bool = False) -> None:
        """SIGTERM (graceful) or SIGKILL, and wait; a no-op when not running."""
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
