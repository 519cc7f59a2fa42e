"""Two nodes on one host: nothing of one may collide with the other's."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from k8ssnap.devenv import netns, node


def _configs(tmp_path: Path, cluster: str, index: int) -> dict[str, object]:
    net = netns.NodeNet(cluster, index)
    folder = tmp_path / cluster / "node"
    return {
        "net": net,
        "kubelet": node._kubelet_config(folder=folder, net=net),
        "containerd": tomllib.loads(node._containerd_config(folder=folder, net=net)),
        "cni": node._cni_config(folder=folder, net=net),
        "proxy": node._kube_proxy_config(folder=folder, net=net, kubeconfig=tmp_path / "k"),
    }


def test_the_kubelet_accepts_cgroup_v1_and_uses_its_own_cgroup_root_and_runtime(tmp_path: Path) -> None:
    kubelet = _configs(tmp_path, "a", 0)["kubelet"]
    assert isinstance(kubelet, dict)
    assert kubelet["failCgroupV1"] is False  # Kubernetes 1.35+ refuses cgroup v1 otherwise
    assert kubelet["cgroupRoot"] == "/k8ssnap-a"
    assert kubelet["containerRuntimeEndpoint"] == "unix:///run/k8ssnap/a/containerd.sock"


@pytest.mark.parametrize(
    "path",
    [
        ("kubelet", "cgroupRoot"),
        ("kubelet", "containerRuntimeEndpoint"),
        ("kubelet", "podLogsDir"),
        ("kubelet", "address"),
        ("containerd", "root"),
        ("containerd", "state"),
        ("containerd", "grpc", "address"),
        ("cni", "name"),
        ("proxy", "clusterCIDR"),
        ("proxy", "hostnameOverride"),
    ],
)
def test_nodes_a_and_b_differ_in(tmp_path: Path, path: tuple[str, ...]) -> None:
    def pick(configs: dict[str, object]) -> object:
        value: object = configs
        for key in path:
            assert isinstance(value, dict)
            value = value[key]
        return value

    assert pick(_configs(tmp_path, "a", 0)) != pick(_configs(tmp_path, "b", 1))


def test_pod_ranges_and_node_addresses_are_distinct_and_outside_the_service_range() -> None:
    nets = [netns.NodeNet(c, i) for i, c in enumerate("ab")]
    assert len({n.pod_cidr for n in nets}) == 2 and len({n.node_ip for n in nets}) == 2
    assert all(not n.pod_cidr.startswith("10.96.") for n in nets)
    assert all(len(n.host_veth) <= 15 for n in nets)  # Linux interface names


def test_the_cni_config_is_a_bridge_with_host_local_ipam_in_the_node_folder(tmp_path: Path) -> None:
    cni = _configs(tmp_path, "b", 1)["cni"]
    bridge = json.loads(json.dumps(cni))["plugins"][0]
    assert bridge["type"] == "bridge" and bridge["ipam"]["type"] == "host-local"
    assert bridge["ipam"]["ranges"] == [[{"subnet": "10.245.0.0/24"}]]
    assert bridge["ipam"]["dataDir"].startswith(str(tmp_path / "b" / "node"))
