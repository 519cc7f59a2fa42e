"""One local Kubernetes cluster: its own etcd, kube-apiserver and kube-controller-manager.

The API server runs with TLS, client-certificate and token authentication
and RBAC, like a real cluster; the controller manager makes Deployments
into ReplicaSets, finishes namespace deletion, runs garbage collection and
creates service accounts and ``kube-root-ca.crt``. There is no scheduler
and no kubelet here: pods stay Pending, which a backup tool does not mind,
unless the environment adds nodes (:mod:`k8ssnap.devenv.node`).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

from k8ssnap.devenv import process
from k8ssnap.devenv.pki import ClusterPki, make_cluster_pki

SERVICE_CIDR = "10.96.0.0/16"
KUBERNETES_SERVICE_IP = "10.96.0.1"
"""The ``kubernetes`` Service's address: the first of the service range."""


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    """What a client needs to reach a running cluster."""

    name: str
    server: str
    kubeconfig: Path
    token: str
    ca_cert: Path
    etcd_url: str


@dataclass(frozen=True, slots=True)
class ClusterProcesses:
    """The running servers of one cluster, for teardown."""

    etcd: process.Running
    apiserver: process.Running
    controller_manager: process.Running


def _kubeconfig(*, name: str, server: str, pki: ClusterPki) -> str:
    def b64(path: Path) -> str:
        return base64.b64encode(path.read_bytes()).decode()

    return (
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: {name}\n  cluster:\n    server: {server}\n"
        f"    certificate-authority-data: {b64(pki.ca_cert)}\n"
        f"users:\n- name: {name}-admin\n  user:\n"
        f"    client-certificate-data: {b64(pki.admin_cert)}\n"
        f"    client-key-data: {b64(pki.admin_key)}\n"
        f"contexts:\n- name: {name}\n  context:\n    cluster: {name}\n    user: {name}-admin\n"
        f"current-context: {name}\n"
    )


def _start_etcd(*, etcd_bin: Path, folder: Path) -> tuple[process.Running, str]:
    client, peer = process.free_port(), process.free_port()
    return launch_etcd(
        etcd_bin=etcd_bin, name=folder.name, data_dir=folder / "etcd-data", log=folder / "etcd.log",
        client_port=client, peer_port=peer,
    )  # fmt: skip


def launch_etcd(
    *, etcd_bin: Path, name: str, data_dir: Path, log: Path, client_port: int, peer_port: int
) -> tuple[process.Running, str]:
    """One etcd member on 127.0.0.1 (plain http); returns it and its client URL once /health answers.

    Also starts a member on a data folder ``etcdutl snapshot restore`` wrote, if
    ``name`` and ``peer_port`` are the ones given to the restore.
    """
    url = f"http://127.0.0.1:{client_port}"
    peer = f"http://127.0.0.1:{peer_port}"
    argv = [
        str(etcd_bin / "etcd"),
        f"--name={name}",
        f"--data-dir={data_dir}",
        f"--listen-client-urls={url}",
        f"--advertise-client-urls={url}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster={name}={peer}",
        "--unsafe-no-fsync",
        "--quota-backend-bytes=8589934592",
        "--log-level=warn",
    ]
    running = process.launch(
        f"etcd-{name}",
        argv,
        log=log,
        ready=process.ReadyCheck(f"{url}/health"),
        timeout=60,
    )
    return running, url


def launch_apiserver(
    *, name: str, kube_bin: Path, folder: Path, pki: ClusterPki, etcd_url: str, host: str = "127.0.0.1"
) -> tuple[process.Running, str, Path]:
    """A kube-apiserver on ``etcd_url`` with the PKI in ``pki``; returns it, its URL and an
    admin kubeconfig (the admin certificate in ``pki``), once /readyz answers.

    It listens on ``host`` only: loopback unless nodes need it on the host
    bridge (:mod:`k8ssnap.devenv.netns`), where Pods reach it."""
    folder.mkdir(parents=True, exist_ok=True)
    port = process.free_port()
    server = f"https://{host}:{port}"
    kubeconfig = folder / "admin.kubeconfig"
    kubeconfig.write_text(_kubeconfig(name=name, server=server, pki=pki))
    kubeconfig.chmod(0o600)
    running = process.launch(
        f"kube-apiserver-{name}",
        _apiserver_argv(kube_bin=kube_bin, folder=folder, pki=pki, port=port, etcd=etcd_url, host=host),
        log=folder / "kube-apiserver.log",
        ready=process.ReadyCheck(f"{server}/readyz", cafile=str(pki.ca_cert)),
        timeout=180,
    )
    return running, server, kubeconfig


def _apiserver_argv(
    *, kube_bin: Path, folder: Path, pki: ClusterPki, port: int, etcd: str, host: str
) -> list[str]:
    # with nodes, reach kubelets (logs, exec) at their node IP: their names resolve nowhere
    nodes = [] if host == "127.0.0.1" else ["--kubelet-preferred-address-types=InternalIP"]
    return [
        str(kube_bin / "kube-apiserver"),
        *nodes,
        f"--etcd-servers={etcd}",
        f"--bind-address={host}",
        f"--advertise-address={host}",
        f"--secure-port={port}",
        f"--cert-dir={folder / 'certs'}",
        f"--tls-cert-file={pki.serving_cert}",
        f"--tls-private-key-file={pki.serving_key}",
        f"--client-ca-file={pki.ca_cert}",
        f"--token-auth-file={pki.tokens_csv}",
        "--authorization-mode=RBAC",
        f"--service-account-issuer=https://{host}:{port}",
        f"--service-account-key-file={pki.sa_pub}",
        f"--service-account-signing-key-file={pki.sa_key}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--allow-privileged=true",
        "--profiling=false",
        "--max-requests-inflight=800",
        "--max-mutating-requests-inflight=400",
        # podtemplates are watched straight from etcd (no watch cache), so a test
        # can force a real 410 by compacting etcd; everything else is cached.
        "--watch-cache-sizes=podtemplates#0",
        "--v=1",
    ]


def _controller_manager_argv(*, kube_bin: Path, folder: Path, pki: ClusterPki, port: int) -> list[str]:
    return [
        str(kube_bin / "kube-controller-manager"),
        f"--kubeconfig={folder / 'admin.kubeconfig'}",
        "--leader-elect=false",
        f"--service-account-private-key-file={pki.sa_key}",
        f"--root-ca-file={pki.ca_cert}",
        "--bind-address=127.0.0.1",
        f"--secure-port={port}",
        f"--cert-dir={folder / 'kcm-certs'}",
        "--use-service-account-credentials=false",
        "--kube-api-qps=200",
        "--kube-api-burst=400",
        "--v=1",
    ]


def start_cluster(
    *, name: str, folder: Path, kube_bin: Path, etcd_bin: Path, host: str = "127.0.0.1"
) -> tuple[ClusterInfo, ClusterProcesses]:
    """Start etcd, kube-apiserver and kube-controller-manager for cluster ``name``.

    The API server listens on ``host`` only (see :func:`launch_apiserver`).

    Returns when /readyz of the API server and /healthz of the controller
    manager answer. On failure the servers started so far are stopped and
    their logs stay in ``folder``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    extra_ips = () if host == "127.0.0.1" else (host, KUBERNETES_SERVICE_IP)
    pki = make_cluster_pki(folder / "pki", cluster=name, extra_ips=extra_ips)
    started: list[process.Running] = []
    try:
        etcd, etcd_url = _start_etcd(etcd_bin=etcd_bin, folder=folder)
        started.append(etcd)
        port = process.free_port()
        server = f"https://{host}:{port}"
        kubeconfig = folder / "admin.kubeconfig"
        kubeconfig.write_text(_kubeconfig(name=name, server=server, pki=pki))
        kubeconfig.chmod(0o600)
        apiserver = process.launch(
            f"kube-apiserver-{name}",
            _apiserver_argv(kube_bin=kube_bin, folder=folder, pki=pki, port=port, etcd=etcd_url, host=host),
            log=folder / "kube-apiserver.log",
            ready=process.ReadyCheck(f"{server}/readyz", cafile=str(pki.ca_cert)),
            timeout=180,
        )
        started.append(apiserver)
        kcm_port = process.free_port()
        kcm = process.launch(
            f"kube-controller-manager-{name}",
            _controller_manager_argv(kube_bin=kube_bin, folder=folder, pki=pki, port=kcm_port),
            log=folder / "kube-controller-manager.log",
            ready=process.ReadyCheck(f"https://127.0.0.1:{kcm_port}/healthz", insecure=True),
            timeout=120,
        )
        started.append(kcm)
    except BaseException:
        for running in reversed(started):
            process.stop(running.pgid)
        raise
    info = ClusterInfo(
        name=name,
        server=server,
        kubeconfig=kubeconfig,
        token=pki.token,
        ca_cert=pki.ca_cert,
        etcd_url=etcd_url,
    )
    return info, ClusterProcesses(etcd=etcd, apiserver=apiserver, controller_manager=kcm)
