"""Debian packages the local nodes need, installed with apt when missing.

The nodes (``Environment(nodes=True)``) run containerd, runc and the CNI
plugins from Debian, and the image builds use buildah and mmdebstrap. A fresh
CI machine has none of them, so the test command installs them here: once,
quietly, idempotently (``dpkg-query`` first, ``apt-get`` only for what is
missing) and with a time limit, so a hung mirror fails the run with a message
instead of eating CI's budget.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time

log = logging.getLogger(__name__)

NODE_PACKAGES = (
    "containerd",  # 1.6: CRI v1, runs the pods (runc as its runtime)
    "runc",  # crun refuses hybrid cgroups; runc 1.1 works
    "containernetworking-plugins",  # bridge, host-local, loopback, portmap
    "iptables",  # kube-proxy's iptables mode, the bridge plugin's masquerade
    "conntrack",  # kube-proxy clears stale UDP entries with it
    "iproute2",  # the nodes' network namespaces and veth pairs
    "buildah",  # builds the images (vfs storage driver, no daemon)
    "mmdebstrap",  # the Debian bookworm + python3 root filesystem
    "gcc",  # the static pause binary
    "busybox-static",  # the demo application image (httpd, nc)
    "libc6-dev",
)
"""Everything the nodes and the image builds use; all from Debian bookworm."""

APT_TIMEOUT = 900.0
"""Seconds for update + install together; a cold install takes about a minute."""


class HostPackageError(RuntimeError):
    """apt could not install what the nodes need; the message quotes its output."""


def missing(packages: tuple[str, ...] = NODE_PACKAGES) -> list[str]:
    """The packages of ``packages`` that dpkg does not list as installed."""
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${db:Status-Status}\n", *packages],
        check=False,
        capture_output=True,
        text=True,
    )
    installed = {line.split()[0] for line in proc.stdout.splitlines() if line.endswith(" installed")}
    return [name for name in packages if name not in installed]


def ensure(packages: tuple[str, ...] = NODE_PACKAGES) -> float:
    """Install the missing ``packages``; returns the seconds spent (0 when none were missing).

    Needs root and apt (Debian or Ubuntu). Raises :class:`HostPackageError`
    with apt's output when it fails or runs past :data:`APT_TIMEOUT`.
    """
    wanted = missing(packages)
    if not wanted:
        return 0.0
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise HostPackageError(f"the nodes need {' '.join(wanted)}: install them (root and apt-get needed)")
    started = time.monotonic()
    log.info("installing %s with apt-get", " ".join(wanted))
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    script = "apt-get update -qq && apt-get install -y -qq --no-install-recommends " + " ".join(wanted)
    try:
        proc = subprocess.run(
            ["bash", "-c", script],
            check=False,
            capture_output=True,
            text=True,
            env=env,
            timeout=APT_TIMEOUT,
        )
    except subprocess.TimeoutExpired as err:
        raise HostPackageError(f"apt-get did not finish in {APT_TIMEOUT:.0f} s: {script}") from err
    if proc.returncode != 0 or missing(packages):
        output = proc.stdout[-2000:] + proc.stderr[-2000:]
        raise HostPackageError(f"{script} failed with exit {proc.returncode}:\n{output}")
    seconds = time.monotonic() - started
    log.info("installed %d packages in %.0f s", len(wanted), seconds)
    return seconds
