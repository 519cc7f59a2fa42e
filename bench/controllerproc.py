"""The real controller process, started as ``tests/controllerproc.py`` does, and its memory.

``python -m k8ssnap.app.controller`` against cluster a, with leader
election on (as deployed) and k8s-snap's flags. Memory is read from
``/proc/<pid>/status``: ``VmHWM`` is the kernel's record of the peak
resident set size since the process started, so no spike between samples
is missed; a sampler thread also records ``VmRSS`` every 0.2 s, to show
where in a run the memory goes.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from k8ssnap.devenv import controller

MIB = 1 << 20
_SAMPLE_EVERY = 0.2


def proc_status_bytes(pid: int, key: str) -> int:
    """A ``kB`` field of ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


@dataclass(slots=True)
class RssSamples:
    """``(seconds since start, VmRSS bytes)`` pairs."""

    points: list[tuple[float, int]] = field(default_factory=list)

    def peak(self, start: float, end: float) -> int:
        """The highest VmRSS sampled between ``start`` and ``end`` seconds (0 if none)."""
        return max((rss for at, rss in self.points if start <= at <= end), default=0)

    def timeline(self, *, points: int = 400) -> list[tuple[float, float]]:
        """At most ``points`` ``(seconds, MB)`` pairs, keeping each stretch's highest sample."""
        step = max(1, -(-len(self.points) // points))
        return [
            (round(chunk[0][0], 1), round(max(rss for _, rss in chunk) / 1e6, 1))
            for chunk in (self.points[i : i + step] for i in range(0, len(self.points), step))
        ]


class ControllerProcess(controller.ControllerProcess):
    """The devenv controller, plus its memory: VmHWM, and VmRSS sampled every 0.2 s."""

    def __init__(
        self,
        *,
        kubeconfig: Path,
        namespace: str,
        log: Path,
        snapshot_threads: int,
        restore_threads: int,
        extra: tuple[str, ...] = (),
    ) -> None:
        flags = [f"--snapshotthreads={snapshot_threads}", f"--restorethreads={restore_threads}", *extra]
        super().__init__(kubeconfig=kubeconfig, namespace=namespace, log=log, extra=flags)
        self.samples = RssSamples()
        self._started_at = 0.0
        self._stop_sampling = threading.Event()
        self._sampler: threading.Thread | None = None

    def started(self) -> None:
        self._started_at = time.monotonic()
        self._sampler = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)
        self._sampler.start()

    def elapsed(self) -> float:
        """Seconds since the process started (the samples' clock)."""
        return time.monotonic() - self._started_at

    def rss(self) -> int:
        return proc_status_bytes(self.pid, "VmRSS")

    def peak_rss(self) -> int:
        """The peak resident set size since start (``VmHWM``)."""
        return proc_status_bytes(self.pid, "VmHWM")

    def cpu_seconds(self) -> float:
        """User and system CPU time the process has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _sample(self) -> None:
        while not self._stop_sampling.wait(_SAMPLE_EVERY):
            try:
                rss = self.rss()
            except (OSError, KeyError, AssertionError):
                return
            self.samples.points.append((self.elapsed(), rss))

    def stop(self, *, kill: bool = False) -> None:
        self._stop_sampling.set()
        if self._sampler is not None:
            self._sampler.join(timeout=5)
        super().stop(kill=kill)
