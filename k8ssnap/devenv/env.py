"""The whole local environment: clusters a and b, each with its own etcd, and S3.

``Environment(folder).up()`` builds or finds the binaries, starts every
server, and writes ``state.json`` into ``folder`` so that another process
(the ``down`` command, a test, the demo) can find and stop them. Teardown is
by process group. Logs stay in ``folder`` after a failed start.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from k8ssnap.devenv import build, hostpkgs, images, netns, node, process, versions
from k8ssnap.devenv.cluster import ClusterInfo, ClusterProcesses, start_cluster
from k8ssnap.devenv.s3 import S3Info, start_s3

log = logging.getLogger(__name__)

STATE_FILE = "state.json"


@dataclass(frozen=True, slots=True)
class EnvironmentInfo:
    """Everything a client needs: kubeconfigs, servers, S3 endpoint and keys."""

    folder: Path
    clusters: dict[str, ClusterInfo]
    s3: S3Info
    kube_bin: Path
    services: dict[str, process.Running]
    startup_seconds: float
    nodes: bool = False
    """Whether each cluster has a kube-scheduler and a node (kubelet, containerd, kube-proxy)."""
    images: dict[str, str] = field(default_factory=dict)
    """With nodes: the image names imported into every node (pause, demo, base, controller)."""
    #: Each cluster's Kubernetes version (all the default unless a setting chose another).
    kubernetes: dict[str, str] = field(default_factory=dict)

    @property
    def kubectl(self) -> Path:
        return self.kube_bin / "kubectl"


def _running_to_json(running: process.Running) -> dict[str, Any]:
    data = asdict(running)
    data["log"] = str(running.log)
    return data


def _running_from_json(data: dict[str, Any]) -> process.Running:
    ready = process.ReadyCheck(**{**data["ready"], "accept": tuple(data["ready"]["accept"])})
    return process.Running(
        name=data["name"],
        pgid=data["pgid"],
        log=Path(data["log"]),
        argv=tuple(data["argv"]),
        ready=ready,
    )


def _save(info: EnvironmentInfo) -> None:
    state = {
        "clusters": {
            name: {**asdict(c), "kubeconfig": str(c.kubeconfig), "ca_cert": str(c.ca_cert)}
            for name, c in info.clusters.items()
        },
        "s3": asdict(info.s3),
        "kube_bin": str(info.kube_bin),
        "services": {name: _running_to_json(r) for name, r in info.services.items()},
        "startup_seconds": info.startup_seconds,
        "nodes": info.nodes,
        "images": info.images,
        "kubernetes": info.kubernetes,
    }
    path = info.folder / STATE_FILE
    path.write_text(json.dumps(state, indent=2))
    path.chmod(0o600)


def load(folder: Path) -> EnvironmentInfo:
    """Read the state of an environment started by :meth:`Environment.up`."""
    state = json.loads((folder / STATE_FILE).read_text())
    clusters = {
        name: ClusterInfo(**{**c, "kubeconfig": Path(c["kubeconfig"]), "ca_cert": Path(c["ca_cert"])})
        for name, c in state["clusters"].items()
    }
    return EnvironmentInfo(
        folder=folder,
        clusters=clusters,
        s3=S3Info(**state["s3"]),
        kube_bin=Path(state["kube_bin"]),
        services={name: _running_from_json(r) for name, r in state["services"].items()},
        startup_seconds=state["startup_seconds"],
        nodes=state.get("nodes", False),
        images=state.get("images", {}),
        kubernetes=state.get("kubernetes", {}),
    )


class Environment:
    """Starts and stops the local environment rooted at ``folder``."""

    def __init__(
        self,
        folder: Path,
        *,
        clusters: tuple[str, ...] = ("a", "b"),
        kubernetes: dict[str, str] | None = None,
        nodes: bool = False,
    ) -> None:
        """``kubernetes`` maps cluster names to versions; missing ones follow the settings.

        The settings are ``K8SSNAP_KUBERNETES_<NAME>`` (see :mod:`versions`).
        ``nodes=True`` adds a kube-scheduler and one node to each cluster (root
        only; every cluster at :data:`versions.KUBERNETES_VERSION`, the kubelet's).
        The API servers and S3 then listen on the host bridge (172.30.0.1)
        instead of loopback, so that Pods reach them; one such environment
        per machine (see :mod:`k8ssnap.devenv.netns`).
        """
        self.folder = folder
        self.cluster_names = clusters
        chosen = versions.cluster_versions(clusters, os.environ)
        self.kubernetes = {**chosen, **(kubernetes or {})}
        for version in self.kubernetes.values():
            versions.kubernetes_module(version)
        self.nodes = nodes

    def up(self) -> EnvironmentInfo:
        """Start everything (building binaries first if the cache lacks them)."""
        started_at = time.monotonic()
        self.folder.mkdir(parents=True, exist_ok=True)
        if (self.folder / STATE_FILE).exists():
            self.down()
        wanted = (
            versions.KUBERNETES_VERSION,
            *sorted(set(self.kubernetes.values()) - {versions.KUBERNETES_VERSION}),
        )
        bins = build.ensure_all(wanted)
        host = "127.0.0.1"
        built: dict[str, images.Image] = {}
        nets = [netns.NodeNet(name, i) for i, name in enumerate(self.cluster_names)]
        if self.nodes:
            if os.geteuid() != 0:
                raise process.StartError("nodes need root: network namespaces, cgroups and mounts")
            skewed = {n: v for n, v in self.kubernetes.items() if v != versions.KUBERNETES_VERSION}
            if skewed:
                raise process.StartError(f"nodes run kubelet {versions.KUBERNETES_VERSION}, not {skewed}")
            hostpkgs.ensure()
            bins["node"] = build.ensure_node()
            built = images.ensure_all()
            netns.setup(nets)
            host = netns.HOST_IP
        services: dict[str, process.Running] = {}
        clusters: dict[str, ClusterInfo] = {}
        try:
            s3, s3_running = start_s3(folder=self.folder / "s3", host=host)
            services["s3"] = s3_running
            for name, net in zip(self.cluster_names, nets, strict=True):
                cluster, procs = start_cluster(
                    name=name,
                    folder=self.folder / name,
                    kube_bin=bins[f"kubernetes-{self.kubernetes[name]}"],
                    etcd_bin=bins["etcd"],
                    host=host,
                )
                clusters[name] = cluster
                services.update(_cluster_services(name, procs))
                if self.nodes:
                    services.update(_start_node(name, net, cluster, bins, list(built.values()), self.folder))
        except BaseException:
            for running in reversed(list(services.values())):
                process.stop(running.pgid)
            if self.nodes:
                _cleanup_nodes(self.folder, self.cluster_names)
            raise
        info = EnvironmentInfo(
            folder=self.folder,
            clusters=clusters,
            s3=s3,
            kube_bin=bins["kubernetes"],
            services=services,
            startup_seconds=time.monotonic() - started_at,
            nodes=self.nodes,
            images={key: image.name for key, image in built.items()},
            kubernetes=dict(self.kubernetes),
        )
        _save(info)
        return info

    def down(self) -> None:
        """Stop every server of the environment; logs and data stay in ``folder``."""
        path = self.folder / STATE_FILE
        if not path.exists():
            return
        info = load(self.folder)
        for running in reversed(list(info.services.values())):
            process.stop(running.pgid)
        if info.nodes:
            _cleanup_nodes(self.folder, tuple(info.clusters))
        path.unlink()

    def restart(self, service: str) -> process.Running:
        """Restart one server identically (same ports and data), e.g. ``apiserver-a`` or ``s3``."""
        info = load(self.folder)
        running = process.restart(info.services[service])
        _save(replace(info, services={**info.services, service: running}))
        return running

    def stop_service(self, service: str) -> None:
        """Stop one server without forgetting how to start it again."""
        process.stop(load(self.folder).services[service].pgid)

    def start_service(self, service: str) -> process.Running:
        """Start a server stopped by :meth:`stop_service`."""
        return self.restart(service)


def _cluster_services(name: str, procs: ClusterProcesses) -> dict[str, process.Running]:
    return {
        f"etcd-{name}": procs.etcd,
        f"apiserver-{name}": procs.apiserver,
        f"controller-manager-{name}": procs.controller_manager,
    }


def _start_node(  # noqa: PLR0917 - a private helper of up(), called once
    name: str,
    net: netns.NodeNet,
    cluster: ClusterInfo,
    bins: dict[str, Path],
    node_images: list[images.Image],
    folder: Path,
) -> dict[str, process.Running]:
    scheduler = node.start_scheduler(
        cluster=name, folder=folder / name, node_bin=bins["node"], kubeconfig=cluster.kubeconfig
    )
    try:
        procs = node.start_node(
            cluster=name,
            net=net,
            folder=folder / name / "node",
            node_bin=bins["node"],
            kube_bin=bins["kubernetes"],
            kubeconfig=cluster.kubeconfig,
            images=node_images,
        )
    except BaseException:
        process.stop(scheduler.pgid)
        raise
    return {
        f"scheduler-{name}": scheduler,
        f"containerd-{name}": procs.containerd,
        f"kubelet-{name}": procs.kubelet,
        f"kube-proxy-{name}": procs.kube_proxy,
    }


def _cleanup_nodes(folder: Path, names: tuple[str, ...]) -> None:
    for name in names:
        node.cleanup(cluster=name, folder=folder / name / "node")
    netns.reset([netns.NodeNet(name, i) for i, name in enumerate(names)])
