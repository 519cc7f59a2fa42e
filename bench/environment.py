"""The benchmark's own local environment, built from :mod:`k8ssnap.devenv`.

Each scale gets a fresh folder: S3 and cluster a (``Environment`` with
clusters ``("a",)``), and two short-lived, empty copies of cluster b started
with :func:`k8ssnap.devenv.cluster.start_cluster`: one for the create
floor, then a new one for the restore, because the restore must find b as
empty as the floor did. All clusters are built the same way (same
binaries and flags), so a and b differ only in what they hold.

:func:`install_controller` puts into cluster a what the controller needs,
as ``tests/conftest.py``'s ``controller_setup`` does: the CRDs, the
``k8s-snap`` namespace, a bucket, the credentials Secret and an
ObjectstoreConfig (and a second one, ``bench-age``, that encrypts to a throwaway
age recipient).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from k8ssnap.devenv import build, env, process
from k8ssnap.devenv.cluster import ClusterInfo, ClusterProcesses, start_cluster
from k8ssnap.store import age
from k8ssnap.store.s3 import S3Settings, S3Store

CONTROLLER_NS = "k8s-snap"
BUCKET = "bench"
OBJECTSTORE = "bench"
OBJECTSTORE_AGE = "bench-age"
"""The same bucket, with age encryption on (``--encrypted``)."""
CREDENTIALS = "bench-s3-credentials"
RECIPIENTS = "bench-age-recipients"
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class SpareCluster:
    """A cluster started on its own (an empty cluster b); stop it with :meth:`stop`."""

    info: ClusterInfo
    processes: ClusterProcesses

    def stop(self) -> None:
        for running in (
            self.processes.controller_manager,
            self.processes.apiserver,
            self.processes.etcd,
        ):
            process.stop(running.pgid)


def up(folder: Path) -> env.EnvironmentInfo:
    """Start S3 and cluster a, empty, in ``folder`` (stopping and removing what was there before)."""
    down(folder)
    shutil.rmtree(folder, ignore_errors=True)
    return env.Environment(folder, clusters=("a",)).up()


def down(folder: Path) -> None:
    env.Environment(folder, clusters=("a",)).down()


def spare_cluster(folder: Path, *, name: str = "b") -> SpareCluster:
    """Start an empty cluster in ``folder``, built like cluster a."""
    bins = build.ensure_all()
    info, procs = start_cluster(name=name, folder=folder, kube_bin=bins["kubernetes"], etcd_bin=bins["etcd"])
    return SpareCluster(info=info, processes=procs)


def kubectl(info: env.EnvironmentInfo, *args: str, stdin: str | None = None) -> str:
    proc = subprocess.run(
        [str(info.kubectl), "--kubeconfig", str(info.clusters["a"].kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


def s3_settings(info: env.EnvironmentInfo, *, bucket: str = BUCKET) -> S3Settings:
    return S3Settings(
        endpoint=info.s3.endpoint,
        bucket=bucket,
        access_key=info.s3.access_key,
        secret_key=info.s3.secret_key,
        region=info.s3.region,
    )


async def install_controller(info: env.EnvironmentInfo) -> None:
    """CRDs, namespace, bucket, credentials and ObjectstoreConfig in cluster a."""
    kubectl(info, "apply", "-f", str(ROOT / "artifacts" / "crd.yaml"))
    kubectl(info, "wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    kubectl(info, "create", "namespace", CONTROLLER_NS)
    store = await S3Store.open(s3_settings(info))
    try:
        await store.create_bucket()
    finally:
        await store.close()
    secret: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": CREDENTIALS, "namespace": CONTROLLER_NS},
        "stringData": {"accesskey": info.s3.access_key, "secretkey": info.s3.secret_key},
    }
    config: dict[str, Any] = {
        "apiVersion": "clustersnapshot.rywt.io/v1alpha1",
        "kind": "ObjectstoreConfig",
        "metadata": {"name": OBJECTSTORE, "namespace": CONTROLLER_NS},
        "spec": {
            "region": info.s3.region,
            "endpoint": info.s3.endpoint,
            "bucket": BUCKET,
            "cloudCredentialSecret": CREDENTIALS,
            "insecure": True,
            "forcePathStyle": True,
        },
    }
    _, recipient = age.generate()  # the identity is thrown away: nothing is restored from it
    recipients: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": RECIPIENTS, "namespace": CONTROLLER_NS},
        "stringData": {"recipients": recipient + "\n"},
    }
    sealed = json.loads(json.dumps(config))
    sealed["metadata"]["name"] = OBJECTSTORE_AGE
    sealed["spec"]["encryption"] = {"recipientsSecret": {"name": RECIPIENTS}}
    for obj in (secret, config, recipients, sealed):
        kubectl(info, "apply", "-f", "-", stdin=json.dumps(obj))
