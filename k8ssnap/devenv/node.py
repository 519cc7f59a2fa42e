"""One node of a local cluster: containerd + runc, CNI bridge, kubelet and kube-proxy.

Everything of a node runs in its own network namespace (:mod:`netns`) and
keeps its files in its own folder: containerd's root, state and socket, the
kubelet's root dir, the CNI config and IPAM store. Its cgroups live under a
cgroup root of its own (``/k8ssnap-<cluster>``), so two kubelets on one host
never manage each other's pods. The kubelet uses the cluster's admin
credentials (a development cluster; there is no TLS bootstrap), serves
anonymously to the API server (logs), and is told ``failCgroupV1: false``:
Kubernetes 1.35+ refuses cgroup v1 otherwise, and this kind of machine has
cgroup v1 controllers.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from k8ssnap.devenv import netns, process, versions
from k8ssnap.devenv.images import Image

CGROUP_FS = Path("/sys/fs/cgroup")
CONTAINERD_METRICS_PORT = 1338
NODE_READY_TIMEOUT = 180.0


@dataclass(frozen=True, slots=True)
class NodeProcesses:
    """The running servers of one node, for teardown."""

    containerd: process.Running
    kubelet: process.Running
    kube_proxy: process.Running


def node_name(cluster: str) -> str:
    return f"k8ssnap-{cluster}-node"


def _socket(folder: Path) -> Path:
    # unix socket paths are limited to 107 bytes; the test folders are deep
    return Path("/run/k8ssnap") / folder.parent.name / "containerd.sock"


def _containerd_config(*, folder: Path, net: netns.NodeNet) -> str:
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    sock = _socket(folder)
    return f"""version = 2
root = "{folder / "containerd" / "root"}"
state = "{sock.parent / "state"}"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "{sock}"
[ttrpc]
  address = "{sock}.ttrpc"
[debug]
  address = "{sock}.debug"
  level = "warn"
[metrics]
  address = "{net.node_ip}:{CONTAINERD_METRICS_PORT}"
[plugins."io.containerd.internal.v1.opt"]
  path = "{folder / "containerd" / "opt"}"
[{cri}]
  sandbox_image = "{versions.PAUSE_IMAGE}"
  enable_selinux = false
  restrict_oom_score_adj = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  netns_mounts_under_state_dir = true
[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
  discard_unpacked_layers = false
[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
  BinaryName = "/usr/sbin/runc"
[{cri}.cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "{folder / "cni" / "net.d"}"
  max_conf_num = 1
[{cri}.registry]
  config_path = ""
"""


def _cni_config(*, folder: Path, net: netns.NodeNet) -> dict[str, object]:
    return {
        "cniVersion": "1.0.0",
        "name": f"k8ssnap-{net.cluster}",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": True,
                "ipMasq": True,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": net.pod_cidr}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(folder / "cni" / "ipam"),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def _kubelet_config(*, folder: Path, net: netns.NodeNet) -> dict[str, object]:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": f"/k8ssnap-{net.cluster}",
        "cgroupsPerQOS": True,
        "enforceNodeAllocatable": ["pods"],
        "containerRuntimeEndpoint": f"unix://{_socket(folder)}",
        "address": net.node_ip,
        "port": 10250,
        "readOnlyPort": 0,
        "healthzBindAddress": net.node_ip,
        "healthzPort": 10248,
        "authentication": {"anonymous": {"enabled": True}, "webhook": {"enabled": False}},
        "authorization": {"mode": "AlwaysAllow"},
        "failSwapOn": False,
        "clusterDomain": "cluster.local",
        "resolvConf": "/etc/resolv.conf",
        "serializeImagePulls": False,
        "maxPods": 40,
        "podPidsLimit": -1,
        "rotateCertificates": False,
        "registerNode": True,
        "syncFrequency": "10s",
        "fileCheckFrequency": "10s",
        "nodeStatusUpdateFrequency": "5s",
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "imageMinimumGCAge": "87600h",
        "evictionHard": {"memory.available": "1Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        "containerLogMaxSize": "5Mi",
        "podLogsDir": str(folder / "pod-logs"),  # the default /var/log/pods would be shared by both nodes
        "logging": {"format": "text"},
    }


def _kube_proxy_config(*, folder: Path, net: netns.NodeNet, kubeconfig: Path) -> dict[str, object]:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "iptables",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "hostnameOverride": node_name(net.cluster),
        "clusterCIDR": net.pod_cidr,
        "bindAddress": net.node_ip,
        "healthzBindAddress": f"{net.node_ip}:10256",
        "metricsBindAddress": "127.0.0.1:10249",
        # conntrack sysctls are host-wide; a namespaced kube-proxy must leave them alone
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
        "iptables": {"masqueradeAll": False, "syncPeriod": "10s", "minSyncPeriod": "1s"},
    }


def _in_runtime_cgroup(cluster: str, argv: list[str]) -> list[str]:
    """``argv`` started inside ``k8ssnap-<cluster>-runtime`` of every hierarchy (shims inherit it)."""
    procs = " ".join(
        f"{hierarchy}/k8ssnap-{cluster}-runtime/cgroup.procs"
        for hierarchy in sorted(CGROUP_FS.iterdir())
        if (hierarchy / f"k8ssnap-{cluster}-runtime").is_dir()
    )
    return ["sh", "-c", f'for f in {procs}; do echo $$ > "$f"; done; exec "$@"', "sh", *argv]


def _cgroup_root(cluster: str) -> None:
    """Create ``/k8ssnap-<cluster>`` in every mounted v1 hierarchy (cpuset filled from its parent)."""
    for hierarchy in sorted(CGROUP_FS.iterdir()):
        if not hierarchy.is_dir() or hierarchy.name == "unified" or not (hierarchy / "tasks").exists():
            continue
        for group in (hierarchy / f"k8ssnap-{cluster}", hierarchy / f"k8ssnap-{cluster}-runtime"):
            group.mkdir(exist_ok=True)
            for name in ("cpuset.cpus", "cpuset.mems"):
                if (hierarchy / name).exists() and not (group / name).read_text().strip():
                    (group / name).write_text((hierarchy / name).read_text())


def start_node(
    *,
    cluster: str,
    net: netns.NodeNet,
    folder: Path,
    node_bin: Path,
    kube_bin: Path,
    kubeconfig: Path,
    images: list[Image],
) -> NodeProcesses:
    """Start containerd, import ``images``, start the kubelet and kube-proxy; wait for a Ready Node."""
    for sub in ("containerd", "cni/net.d", "cni/ipam", "kubelet"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    sock = _socket(folder)
    sock.parent.mkdir(parents=True, exist_ok=True)
    (folder / "containerd.toml").write_text(_containerd_config(folder=folder, net=net))
    cni = json.dumps(_cni_config(folder=folder, net=net))
    (folder / "cni" / "net.d" / "10-bridge.conflist").write_text(cni)
    (folder / "kubelet.json").write_text(json.dumps(_kubelet_config(folder=folder, net=net)))
    (folder / "kube-proxy.json").write_text(
        json.dumps(_kube_proxy_config(folder=folder, net=net, kubeconfig=kubeconfig))
    )
    _cgroup_root(cluster)
    started: list[process.Running] = []
    try:
        containerd = _launch(
            f"containerd-{cluster}", net,
            _in_runtime_cgroup(cluster, ["containerd", f"--config={folder / 'containerd.toml'}"]),
            log=folder / "containerd.log", health=f"http://{net.node_ip}:{CONTAINERD_METRICS_PORT}/v1/metrics",
        )  # fmt: skip
        started.append(containerd)
        for image in images:
            _import(sock=sock, image=image, log=folder / "images.log")
        kubelet = _launch(
            f"kubelet-{cluster}", net,
            [
                str(node_bin / "kubelet"),
                f"--config={folder / 'kubelet.json'}",
                f"--kubeconfig={kubeconfig}",
                f"--root-dir={folder / 'kubelet'}",
                f"--cert-dir={folder / 'kubelet' / 'pki'}",
                f"--hostname-override={node_name(cluster)}",
                f"--node-ip={net.node_ip}",
                "--v=1",
            ],
            log=folder / "kubelet.log", health=f"http://{net.node_ip}:10248/healthz",
        )  # fmt: skip
        started.append(kubelet)
        kube_proxy = _launch(
            f"kube-proxy-{cluster}", net,
            [str(node_bin / "kube-proxy"), f"--config={folder / 'kube-proxy.json'}", "--v=1"],
            log=folder / "kube-proxy.log", health=f"http://{net.node_ip}:10256/healthz",
        )  # fmt: skip
        started.append(kube_proxy)
        _wait_node_ready(kube_bin=kube_bin, kubeconfig=kubeconfig, cluster=cluster, kubelet=kubelet)
    except BaseException:
        for running in reversed(started):
            process.stop(running.pgid)
        raise
    return NodeProcesses(containerd=containerd, kubelet=kubelet, kube_proxy=kube_proxy)


def _launch(name: str, net: netns.NodeNet, argv: list[str], *, log: Path, health: str) -> process.Running:
    return process.launch(
        name, netns.nsenter(net, argv), log=log, ready=process.ReadyCheck(health), timeout=120
    )


def ctr(sock: Path, *args: str) -> list[str]:
    """A ``ctr`` command line against a node's containerd, in the CRI namespace."""
    return ["ctr", f"--address={sock}", "--namespace=k8s.io", *args]


def _import(*, sock: Path, image: Image, log: Path) -> None:
    """``ctr images import`` of ``image`` (skipped when containerd already has that name)."""
    listed = subprocess.run(ctr(sock, "images", "ls", "-q"), check=True, capture_output=True, text=True)
    if image.name in listed.stdout.split():
        return
    with log.open("ab") as out:
        proc = subprocess.run(
            ctr(sock, "images", "import", *([] if image.unpack else ["--no-unpack"]), str(image.archive)),
            check=False, stdout=out, stderr=subprocess.STDOUT, timeout=600,
        )  # fmt: skip
    if proc.returncode != 0:
        raise process.StartError(f"importing {image.name} failed; log {log}:\n{process.tail(log)}")
    listed = subprocess.run(ctr(sock, "images", "ls", "-q"), check=True, capture_output=True, text=True)
    if image.name not in listed.stdout.split():
        raise process.StartError(f"{image.archive} did not import as {image.name}: {listed.stdout}")


def _wait_node_ready(*, kube_bin: Path, kubeconfig: Path, cluster: str, kubelet: process.Running) -> None:
    def ready() -> bool:
        proc = subprocess.run(
            [str(kube_bin / "kubectl"), f"--kubeconfig={kubeconfig}", "get", "node", node_name(cluster),
             "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}"],
            check=False, capture_output=True, text=True,
        )  # fmt: skip
        return proc.stdout.strip() == "True"

    process.wait_ready(kubelet, ready, timeout=NODE_READY_TIMEOUT)


def start_scheduler(*, cluster: str, folder: Path, node_bin: Path, kubeconfig: Path) -> process.Running:
    """kube-scheduler for ``cluster`` on the host, on a free loopback port."""
    port = process.free_port()
    return process.launch(
        f"kube-scheduler-{cluster}",
        [
            str(node_bin / "kube-scheduler"),
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={port}",
            "--v=1",
        ],
        log=folder / "kube-scheduler.log",
        ready=process.ReadyCheck(f"https://127.0.0.1:{port}/healthz", insecure=True),
        timeout=120,
    )


def _mounts_under(prefixes: tuple[str, ...]) -> list[str]:
    points = []
    with open("/proc/self/mountinfo") as info:
        for line in info:
            point = line.split()[4].replace("\\040", " ")
            if any(point == p or point.startswith(p + "/") for p in prefixes):
                points.append(point)
    return points


def _cgroup_pids(cluster: str) -> set[int]:
    pids: set[int] = set()
    for name in (f"k8ssnap-{cluster}", f"k8ssnap-{cluster}-runtime"):
        group = CGROUP_FS / "pids" / name
        if group.is_dir():
            for procs in group.rglob("cgroup.procs"):
                pids.update(int(line) for line in procs.read_text().split())
    return pids


def cleanup(*, cluster: str, folder: Path) -> None:
    """After the node's servers stopped: kill its containers and shims, unmount, drop its cgroups.

    Containers and containerd's shims outlive containerd (they are in
    sessions of their own), but never leave the node's cgroups: the pod
    cgroup root, and ``k8ssnap-<cluster>-runtime`` where containerd was
    started (its shims inherit it). Pod network namespaces and the kubelet's
    volume mounts are all under the node's folders.
    """
    for _ in range(20):
        pids = _cgroup_pids(cluster)
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    for point in reversed(_mounts_under((str(folder), str(_socket(folder).parent)))):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)
    shutil.rmtree(_socket(folder).parent, ignore_errors=True)
    for hierarchy in CGROUP_FS.iterdir():
        for name in (f"k8ssnap-{cluster}", f"k8ssnap-{cluster}-runtime"):
            root = hierarchy / name
            if root.is_dir():
                for group in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                    with contextlib.suppress(OSError):
                        group.rmdir()
                with contextlib.suppress(OSError):
                    root.rmdir()
