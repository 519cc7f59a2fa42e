"""The network the local nodes live on: a host bridge and one network namespace per node.

Two kubelets and two kube-proxies on one host would fight over ports and,
worse, over the same iptables chains. So each node runs its kubelet,
containerd and kube-proxy inside a network namespace of its own (entered
with ``nsenter --net``, which keeps the host's mounts: the kubelet's volume
mounts must be seen by containerd and runc), like a kind node without the
container around it::

    host: bridge k8ssnap0 172.30.0.1/24   (API servers and S3 listen here)
      ├─ veth ─ netns k8ssnap-a: 172.30.0.2, pods 10.244.0.0/24 on its cni0
      └─ veth ─ netns k8ssnap-b: 172.30.0.3, pods 10.245.0.0/24 on its cni0

The host routes each pod range to its node, so the API server reaches Pods
(``kubectl port-forward``-free service proxy) and Pods reach the API
server and S3 at 172.30.0.1 with no NAT. One node environment per machine:
the names are fixed, and :func:`reset` clears what a crashed run left.
"""

from __future__ import annotations

import contextlib
import subprocess
from dataclasses import dataclass

BRIDGE = "k8ssnap0"
HOST_IP = "172.30.0.1"
PREFIX = 24


@dataclass(frozen=True, slots=True)
class NodeNet:
    """Addresses of one node."""

    cluster: str
    index: int

    @property
    def netns(self) -> str:
        return f"k8ssnap-{self.cluster}"

    @property
    def netns_path(self) -> str:
        return f"/run/netns/{self.netns}"

    @property
    def node_ip(self) -> str:
        return f"172.30.0.{self.index + 2}"

    @property
    def pod_cidr(self) -> str:
        return f"10.{244 + self.index}.0.0/24"

    @property
    def host_veth(self) -> str:
        return f"k8ssnap-{self.cluster}h"


class NetworkError(RuntimeError):
    """A network namespace, link or route could not be made; carries the command."""


def _ip(*args: str, check: bool = True) -> None:
    proc = subprocess.run(["ip", *args], check=False, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise NetworkError(f"ip {' '.join(args)}: {proc.stderr.strip()}")


def _sysctl(netns: str | None, key: str, value: str) -> None:
    path = "/proc/sys/" + key.replace(".", "/")
    if netns is None:
        with open(path, "w") as out:
            out.write(value)
        return
    _ip("netns", "exec", netns, "sh", "-c", f"echo {value} > {path}")


def reset(nodes: list[NodeNet]) -> None:
    """Remove the bridge, namespaces, links and routes of a previous run (missing ones are fine)."""
    for node in nodes:
        _ip("route", "del", node.pod_cidr, check=False)
        _ip("link", "del", node.host_veth, check=False)
        _ip("netns", "del", node.netns, check=False)
    _ip("link", "del", BRIDGE, check=False)


def setup(nodes: list[NodeNet]) -> None:
    """Create the host bridge and one namespace per node, wired and routed."""
    reset(nodes)
    _ip("link", "add", BRIDGE, "type", "bridge")
    _ip("addr", "add", f"{HOST_IP}/{PREFIX}", "dev", BRIDGE)
    _ip("link", "set", BRIDGE, "up")
    _sysctl(None, "net.ipv4.ip_forward", "1")
    for node in nodes:
        _ip("netns", "add", node.netns)
        _ip("link", "add", node.host_veth, "type", "veth", "peer", "name", "eth0", "netns", node.netns)
        _ip("link", "set", node.host_veth, "master", BRIDGE, "up")
        _ip("-n", node.netns, "addr", "add", f"{node.node_ip}/{PREFIX}", "dev", "eth0")
        _ip("-n", node.netns, "link", "set", "eth0", "up")
        _ip("-n", node.netns, "link", "set", "lo", "up")
        _ip("-n", node.netns, "route", "add", "default", "via", HOST_IP)
        _ip("route", "add", node.pod_cidr, "via", node.node_ip)
        _sysctl(node.netns, "net.ipv4.ip_forward", "1")
        with contextlib.suppress(NetworkError):  # kube-proxy wants it; older kernels lack it per netns
            _sysctl(node.netns, "net.bridge.bridge-nf-call-iptables", "1")


def nsenter(node: NodeNet, argv: list[str]) -> list[str]:
    """``argv`` run inside the node's network namespace, with the host's mounts."""
    return ["nsenter", f"--net={node.netns_path}", "--", *argv]
