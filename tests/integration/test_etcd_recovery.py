"""Disaster recovery from an EtcdSnapshot: real etcd, real kube-apiserver, real S3.

A dedicated third cluster (c) is started so that clusters a and b, which
other tests use, are never stopped. The controller takes an EtcdSnapshot of
c's own etcd with c's certificate folder; then c is lost; ``k8ssnap
etcd-restore`` writes a new data folder and the PKI; a new etcd and a new
kube-apiserver start on them. What existed before the snapshot is there,
what was created after is not, and a client certificate freshly signed by
the restored CA is accepted.

The session controller of cluster a runs without ``--pki-root``; it shows
that a ``pki`` path is then refused with a reason.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from k8ssnap.devenv import build, cluster, env, process
from k8ssnap.devenv.pki import ClusterPki
from k8ssnap.store import age, layout
from k8ssnap.store.s3 import S3Store
from tests.conftest import CONTROLLER_NS, OBJECTSTORE, Kubectl, s3_settings, yaml_of
from tests.controllerproc import ControllerProcess
from tests.crs import wait_phase

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class ClusterC:
    info: cluster.ClusterInfo
    procs: cluster.ClusterProcesses
    kubectl: Kubectl
    folder: Path
    bucket: str


def _etcd_snapshot(name: str, **spec: object) -> str:
    return json.dumps({
        "apiVersion": "clustersnapshot.rywt.io/v1alpha1", "kind": "EtcdSnapshot",
        "metadata": {"name": name, "namespace": CONTROLLER_NS}, "spec": spec,
    })  # fmt: skip


def _configmap(namespace: str, name: str) -> str:
    return yaml_of({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
        "data": {"when": name},
    })  # fmt: skip


def _stop(procs: cluster.ClusterProcesses) -> None:
    for running in (procs.controller_manager, procs.apiserver, procs.etcd):
        process.stop(running.pgid)


@pytest.fixture
def cluster_c(devenv: env.EnvironmentInfo, tmp_path: Path) -> Iterator[ClusterC]:
    """Cluster c with the CRDs, an ObjectstoreConfig on its own S3 bucket, and stopped afterwards."""
    folder = tmp_path / "c"
    info, procs = cluster.start_cluster(
        name="c", folder=folder, kube_bin=devenv.kube_bin, etcd_bin=build.ensure_etcd()
    )
    try:
        kubectl = Kubectl(devenv.kubectl, info.kubeconfig)
        root = Path(__file__).resolve().parents[2]
        kubectl("apply", "-f", str(root / "artifacts" / "crd.yaml"))
        kubectl(
            "wait", "--for=condition=Established", "-f", str(root / "artifacts" / "crd.yaml"), "--timeout=60s"
        )
        kubectl("create", "namespace", CONTROLLER_NS)
        bucket = f"etcd-dr-{secrets.token_hex(3)}"
        kubectl("create", "secret", "generic", "s3-credentials", "-n", CONTROLLER_NS,
                f"--from-literal=accesskey={devenv.s3.access_key}",
                f"--from-literal=secretkey={devenv.s3.secret_key}")  # fmt: skip
        kubectl("apply", "-f", "-", input=yaml_of({
            "apiVersion": "clustersnapshot.rywt.io/v1alpha1", "kind": "ObjectstoreConfig",
            "metadata": {"name": OBJECTSTORE, "namespace": CONTROLLER_NS},
            "spec": {"region": devenv.s3.region, "endpoint": devenv.s3.endpoint, "bucket": bucket,
                     "cloudCredentialSecret": "s3-credentials", "insecure": True, "forcePathStyle": True},
        }))  # fmt: skip
        yield ClusterC(info=info, procs=procs, kubectl=kubectl, folder=folder, bucket=bucket)
    finally:
        _stop(procs)


def _etcd_restore(devenv: env.EnvironmentInfo, *argv: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "AWS_ACCESS_KEY_ID": devenv.s3.access_key,
               "AWS_SECRET_ACCESS_KEY": devenv.s3.secret_key}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "k8ssnap.app.cli", "etcd-restore", *argv,
         "--endpoint", devenv.s3.endpoint, "--region", devenv.s3.region],
        env=environ, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def _sign_client_cert(pki: Path, out: Path) -> tuple[Path, Path]:
    """A new admin client certificate signed by the restored CA (its key read from the restored PKI)."""
    out.mkdir()
    key, csr, crt = out / "new.key", out / "new.csr", out / "new.crt"
    (out / "ext").write_text("extendedKeyUsage=clientAuth\n")
    for args in (
        ["genrsa", "-out", str(key), "2048"],
        ["req", "-new", "-key", str(key), "-subj", "/O=system:masters/CN=after-recovery", "-out", str(csr)],
        ["x509", "-req", "-in", str(csr), "-CA", str(pki / "ca.crt"), "-CAkey", str(pki / "ca.key"),
         "-CAcreateserial", "-CAserial", str(out / "ca.srl"), "-days", "1", "-extfile", str(out / "ext"),
         "-out", str(crt)],
    ):  # fmt: skip
        subprocess.run(["openssl", *args], check=True, capture_output=True)
    return crt, key


async def test_a_control_plane_comes_back_from_an_etcd_snapshot(
    devenv: env.EnvironmentInfo, cluster_c: ClusterC, tmp_path: Path
) -> None:
    c = cluster_c
    c.kubectl("create", "namespace", "dr")
    c.kubectl("apply", "-f", "-", input=_configmap("dr", "before"))
    controller = ControllerProcess(
        kubeconfig=c.info.kubeconfig, namespace=CONTROLLER_NS, log=tmp_path / "controller-c.log",
        extra=[f"--pki-root={c.folder}", "--createbucket"],
    )  # fmt: skip
    controller.start()
    try:
        c.kubectl("create", "-f", "-", input=_etcd_snapshot("dr", endpoints=[c.info.etcd_url], pki="pki"))
        snap = wait_phase(c.kubectl, "etcdsnapshot", "dr", "Completed", timeout=180)
    finally:
        controller.stop()
    status = snap["status"]
    assert status["etcdVersion"].startswith("3.5") and status["revision"] > 0 and status["members"] == 1
    assert status["privateKeys"] is True and status["pkiFiles"] >= 8
    columns = c.kubectl("get", "etcdsnapshots", "-n", CONTROLLER_NS)
    assert "REVISION" in columns and "Completed" in columns

    c.kubectl("apply", "-f", "-", input=_configmap("dr", "after"))
    c.kubectl("create", "namespace", "dr-after")
    _stop(c.procs)  # the control plane is lost

    data_dir, pki_dir, peer = tmp_path / "restored-etcd", tmp_path / "restored-pki", process.free_port()
    restored = _etcd_restore(
        devenv, "dr", "--bucket", c.bucket, "--data-dir", str(data_dir), "--pki-dir", str(pki_dir),
        "--etcdutl", str(build.ensure_etcdutl() / "etcdutl"),
        "--name", "restored", "--initial-cluster", f"restored=http://127.0.0.1:{peer}",
        "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
    )  # fmt: skip
    assert restored.returncode == 0, restored.stderr
    assert stat.S_IMODE((pki_dir / "ca.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((pki_dir / "ca.crt").stat().st_mode) == 0o644
    assert stat.S_IMODE(pki_dir.stat().st_mode) == 0o700

    etcd, etcd_url = cluster.launch_etcd(
        etcd_bin=build.ensure_etcd(), name="restored", data_dir=data_dir, log=tmp_path / "etcd-restored.log",
        client_port=process.free_port(), peer_port=peer,
    )  # fmt: skip
    started = [etcd]
    try:
        pki = ClusterPki(folder=pki_dir, token=(pki_dir / "admin.token").read_text().strip())
        apiserver, server, kubeconfig = cluster.launch_apiserver(
            name="c-restored", kube_bin=devenv.kube_bin, folder=tmp_path / "apiserver-restored",
            pki=pki, etcd_url=etcd_url,
        )  # fmt: skip
        started.append(apiserver)
        kubectl = Kubectl(devenv.kubectl, kubeconfig)
        assert json.loads(kubectl("get", "configmap", "before", "-n", "dr", "-o", "json"))["data"] == {
            "when": "before"
        }
        assert "NotFound" in kubectl("get", "configmap", "after", "-n", "dr", check=False)
        assert "NotFound" in kubectl("get", "namespace", "dr-after", check=False)
        assert "dr" in kubectl("get", "etcdsnapshots", "-n", CONTROLLER_NS, "-o", "name")

        crt, key = _sign_client_cert(pki_dir, tmp_path / "new-client")
        fresh = [str(devenv.kubectl), "--server", server, "--certificate-authority", str(pki_dir / "ca.crt"),
                 "--client-certificate", str(crt), "--client-key", str(key)]  # fmt: skip
        whoami = subprocess.run(
            [*fresh, "auth", "whoami", "-o", "json"], capture_output=True, text=True, check=False
        )
        assert whoami.returncode == 0, whoami.stderr
        assert json.loads(whoami.stdout)["status"]["userInfo"]["username"] == "after-recovery"
        got = subprocess.run(
            [*fresh, "get", "configmap", "before", "-n", "dr"], capture_output=True, text=True, check=False
        )
        assert got.returncode == 0, got.stderr
    finally:
        for running in reversed(started):
            process.stop(running.pgid)


async def test_restore_refuses_a_data_dir_in_use_and_a_missing_snapshot(
    devenv: env.EnvironmentInfo, tmp_path: Path
) -> None:
    used = tmp_path / "used"
    used.mkdir()
    (used / "member").mkdir()
    refused = _etcd_restore(devenv, "nope", "--bucket", devenv.s3.bucket, "--data-dir", str(used),
                            "--etcdutl", str(build.ensure_etcdutl() / "etcdutl"))  # fmt: skip
    assert refused.returncode == 1 and "not empty" in refused.stderr
    missing = _etcd_restore(devenv, "nope", "--bucket", devenv.s3.bucket, "--data-dir", str(tmp_path / "new"),
                            "--etcdutl", str(build.ensure_etcdutl() / "etcdutl"))  # fmt: skip
    assert missing.returncode == 1 and "no etcd snapshot 'nope'" in missing.stderr


async def test_pki_without_pki_root_fails_with_a_reason(
    controller: ControllerProcess, devenv: env.EnvironmentInfo, kubectl_a: Kubectl, controller_store: S3Store
) -> None:
    """The session controller has no --pki-root: every pki path is refused and nothing is stored."""
    name = f"nopki-{secrets.token_hex(2)}"
    etcd_a = devenv.clusters["a"].etcd_url
    kubectl_a(
        "create",
        "-f",
        "-",
        input=_etcd_snapshot(name, endpoints=[etcd_a], pki=".", objectstoreConfig=OBJECTSTORE),
    )
    failed = wait_phase(kubectl_a, "etcdsnapshot", name, "Failed")
    assert "without --pki-root" in failed["status"]["reason"]
    keys = [o.key async for o in controller_store.list(layout.ETCD_FOLDER)]
    assert layout.etcd_archive_key(name) not in keys
    kubectl_a("delete", "etcdsnapshot", name, "-n", CONTROLLER_NS)


@pytest.mark.parametrize("pki", ["../etc", "/etc/kubernetes/pki", "a/../../b"])
def test_pki_escaping_the_root_is_refused_at_admission(
    kubectl_a: Kubectl, controller: ControllerProcess, pki: str
) -> None:
    out = kubectl_a("create", "-f", "-", input=_etcd_snapshot(f"bad-{secrets.token_hex(2)}",
                    endpoints=["http://127.0.0.1:2379"], pki=pki), check=False)  # fmt: skip
    assert "spec.pki" in out and ("'..'" in out or "not absolute" in out), out


async def test_an_etcd_snapshot_without_pki_completes_and_its_deletion_removes_the_archive(
    controller: ControllerProcess, devenv: env.EnvironmentInfo, kubectl_a: Kubectl, controller_store: S3Store
) -> None:
    name = f"etcd-a-{secrets.token_hex(2)}"
    kubectl_a(
        "create",
        "-f",
        "-",
        input=_etcd_snapshot(name, endpoints=[devenv.clusters["a"].etcd_url], objectstoreConfig=OBJECTSTORE),
    )
    done = wait_phase(kubectl_a, "etcdsnapshot", name, "Completed")
    assert done["status"]["pkiFiles"] == 0 and done["status"]["privateKeys"] is False
    head = await controller_store.head(layout.etcd_archive_key(name))
    assert head.size == done["status"]["storedFileSize"]
    kubectl_a("delete", "etcdsnapshot", name, "-n", CONTROLLER_NS, "--timeout=60s")
    keys = [o.key async for o in controller_store.list(layout.ETCD_FOLDER)]
    assert layout.etcd_archive_key(name) not in keys and layout.etcd_record_key(name) not in keys


def test_the_control_plane_overlay_renders_the_mounts_and_flags(devenv: env.EnvironmentInfo) -> None:
    root = Path(__file__).resolve().parents[2]
    rendered = subprocess.run(
        [str(devenv.kubectl), "kustomize", str(root / "overlays" / "control-plane")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    needles = (
        "--pki-root=/host/etc/kubernetes/pki",
        "--folder-store-root=/backups",
        "path: /etc/kubernetes/pki",
        "node-role.kubernetes.io/control-plane",
        "readOnly: true",
    )
    for needle in needles:
        assert needle in rendered, needle


async def test_an_encrypted_etcd_snapshot_is_ciphertext_in_s3_and_restores_only_with_its_identity(
    devenv: env.EnvironmentInfo, cluster_c: ClusterC, tmp_path: Path
) -> None:
    """The ObjectstoreConfig's age recipients encrypt the etcd archive (CA key included);
    etcd-restore refuses without --identity and restores the PKI with it."""
    c = cluster_c
    identity, recipient = age.generate()
    (tmp_path / "identity.txt").write_text(identity + "\n")
    c.kubectl("create", "secret", "generic", "etcd-recipients", "-n", CONTROLLER_NS,
              f"--from-literal=recipients={recipient}")  # fmt: skip
    encryption = {"spec": {"encryption": {"recipientsSecret": {"name": "etcd-recipients"}}}}
    c.kubectl("patch", "objectstoreconfig", OBJECTSTORE, "-n", CONTROLLER_NS, "--type=merge",
              "-p", json.dumps(encryption))  # fmt: skip
    controller = ControllerProcess(
        kubeconfig=c.info.kubeconfig, namespace=CONTROLLER_NS, log=tmp_path / "controller-c.log",
        extra=[f"--pki-root={c.folder}", "--createbucket"],
    )  # fmt: skip
    controller.start()
    try:
        c.kubectl("create", "-f", "-", input=_etcd_snapshot("sealed", endpoints=[c.info.etcd_url], pki="pki"))
        snap = wait_phase(c.kubectl, "etcdsnapshot", "sealed", "Completed", timeout=180)
    finally:
        controller.stop()
    assert snap["status"]["privateKeys"] is True

    store = await S3Store.open(s3_settings(devenv, bucket=c.bucket))
    try:
        keys = [o.key async for o in store.list(layout.ETCD_FOLDER)]
        sealed = layout.etcd_archive_key("sealed", encrypted=True)
        assert sorted(keys) == [sealed, layout.etcd_record_key("sealed")]  # no plaintext .tgz
        ciphertext = await store.get(sealed)
        record = json.loads(await store.get(layout.etcd_record_key("sealed")))
    finally:
        await store.close()
    ca_key = (c.folder / "pki" / "ca.key").read_bytes()
    assert ciphertext.startswith(b"age-encryption.org/v1\n") and b"PRIVATE KEY" not in ciphertext
    assert ca_key.splitlines()[1] not in ciphertext
    assert record["encryption"] == {"format": age.FORMAT, "recipients": [recipient]}
    assert record["size"] == len(ciphertext) == snap["status"]["storedFileSize"]
    assert identity not in json.dumps(record)

    etcdutl = str(build.ensure_etcdutl() / "etcdutl")
    data_dir, pki_dir, peer = tmp_path / "restored-etcd", tmp_path / "restored-pki", process.free_port()
    member = ("--name", "restored", "--initial-cluster", f"restored=http://127.0.0.1:{peer}",
              "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}")  # fmt: skip
    common = ("sealed", "--bucket", c.bucket, "--data-dir", str(data_dir), "--pki-dir", str(pki_dir))
    refused = _etcd_restore(devenv, *common, "--etcdutl", etcdutl, *member)
    assert refused.returncode == 1 and "pass --identity FILE" in refused.stderr, refused.stderr
    assert not pki_dir.exists() and not data_dir.exists()
    restored = _etcd_restore(
        devenv, *common, "--etcdutl", etcdutl, "--identity", str(tmp_path / "identity.txt"), *member
    )
    assert restored.returncode == 0, restored.stderr
    assert (pki_dir / "ca.key").read_bytes() == ca_key
    assert stat.S_IMODE((pki_dir / "ca.key").stat().st_mode) == 0o600
    assert (data_dir / "member").is_dir()
