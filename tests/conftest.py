"""Fixtures on top of the real local environment (k8ssnap.devenv).

The environment is started once per session, only when a test asks for it,
and stopped at the end. Integration tests FAIL (never skip) when a binary or
server is missing: ``Environment.up`` raises and every dependent test errors.
Set ``K8SSNAP_DEVENV_DIR`` to a folder of an environment started with
``python -m k8ssnap.devenv up`` to reuse it instead (it is then left running).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from k8ssnap.devenv import env
from k8ssnap.kube.client import KubeClient
from k8ssnap.store.s3 import S3Settings, S3Store
from tests.controllerproc import ControllerProcess


@pytest.fixture(scope="session")
def devenv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[env.EnvironmentInfo]:
    """Clusters a and b and S3, running for the whole session."""
    reuse = os.environ.get("K8SSNAP_DEVENV_DIR")
    if reuse:
        yield env.load(Path(reuse))
        return
    environment = env.Environment(tmp_path_factory.mktemp("devenv"))
    info = environment.up()
    try:
        yield info
    finally:
        environment.down()


class Kubectl:
    """kubectl bound to one cluster's kubeconfig."""

    def __init__(self, binary: Path, kubeconfig: Path) -> None:
        self.binary = binary
        self.kubeconfig = kubeconfig

    def __call__(self, *args: str, input: str | None = None, check: bool = True) -> str:
        proc = subprocess.run(
            [str(self.binary), "--kubeconfig", str(self.kubeconfig), *args],
            input=input,
            check=False,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {proc.stderr}")
        return proc.stdout if check else proc.stdout + proc.stderr


@pytest.fixture(scope="session")
def kubectl_a(devenv: env.EnvironmentInfo) -> Kubectl:
    return Kubectl(devenv.kubectl, devenv.clusters["a"].kubeconfig)


@pytest.fixture(scope="session")
def kubectl_b(devenv: env.EnvironmentInfo) -> Kubectl:
    return Kubectl(devenv.kubectl, devenv.clusters["b"].kubeconfig)


@pytest.fixture(scope="session")
async def kube_a(devenv: env.EnvironmentInfo) -> AsyncIterator[KubeClient]:
    client = await KubeClient.from_kubeconfig_file(str(devenv.clusters["a"].kubeconfig))
    yield client
    await client.close()


@pytest.fixture(scope="session")
async def kube_b(devenv: env.EnvironmentInfo) -> AsyncIterator[KubeClient]:
    client = await KubeClient.from_kubeconfig_file(str(devenv.clusters["b"].kubeconfig))
    yield client
    await client.close()


def s3_settings(info: env.EnvironmentInfo, **overrides: str) -> S3Settings:
    base = {
        "endpoint": info.s3.endpoint,
        "bucket": info.s3.bucket,
        "access_key": info.s3.access_key,
        "secret_key": info.s3.secret_key,
        "region": info.s3.region,
    }
    base.update(overrides)
    return S3Settings(**base)


@pytest.fixture
async def s3(devenv: env.EnvironmentInfo) -> AsyncIterator[S3Store]:
    store = await S3Store.open(s3_settings(devenv))
    yield store
    await store.close()


@pytest.fixture(scope="session")
def environment(devenv: env.EnvironmentInfo) -> env.Environment:
    """Control over the running environment (stop and start S3, restart API servers)."""
    return env.Environment(devenv.folder)


CONTROLLER_NS = "k8s-snap"
CONTROLLER_BUCKET = "controller"
OBJECTSTORE = "local"


def yaml_of(obj: dict[str, object]) -> str:
    return json.dumps(obj)  # JSON is YAML; kubectl reads both


@pytest.fixture(scope="session")
async def controller_setup(devenv: env.EnvironmentInfo, kubectl_a: Kubectl) -> str:
    """CRDs, the k8s-snap namespace, credentials and an ObjectstoreConfig in cluster a."""
    root = Path(__file__).resolve().parents[1]
    kubectl_a("apply", "-f", str(root / "artifacts" / "crd.yaml"))
    # only our CRDs: "crd --all" fails when another test's CRD is deleted meanwhile
    kubectl_a(
        "wait", "--for=condition=Established", "-f", str(root / "artifacts" / "crd.yaml"), "--timeout=60s"
    )
    kubectl_a("create", "namespace", CONTROLLER_NS, check=False)
    store = await S3Store.open(s3_settings(devenv, bucket=CONTROLLER_BUCKET))
    try:
        await store.create_bucket()
    finally:
        await store.close()
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s3-credentials", "namespace": CONTROLLER_NS},
        "stringData": {"accesskey": devenv.s3.access_key, "secretkey": devenv.s3.secret_key},
    }
    kubectl_a("apply", "-f", "-", input=yaml_of(secret))
    config = {
        "apiVersion": "clustersnapshot.rywt.io/v1alpha1",
        "kind": "ObjectstoreConfig",
        "metadata": {"name": OBJECTSTORE, "namespace": CONTROLLER_NS},
        "spec": {
            "region": devenv.s3.region,
            "endpoint": devenv.s3.endpoint,
            "bucket": CONTROLLER_BUCKET,
            "cloudCredentialSecret": "s3-credentials",
            "insecure": True,
            "forcePathStyle": True,
        },
    }
    kubectl_a("apply", "-f", "-", input=yaml_of(config))
    return CONTROLLER_NS


@pytest.fixture(scope="session")
def controller(devenv: env.EnvironmentInfo, controller_setup: str) -> Iterator[ControllerProcess]:
    """The k8ssnap controller running against cluster a for the whole session."""
    proc = ControllerProcess(
        kubeconfig=devenv.clusters["a"].kubeconfig,
        namespace=controller_setup,
        log=devenv.folder / "controller.log",
    )
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
async def controller_store(devenv: env.EnvironmentInfo) -> AsyncIterator[S3Store]:
    """The bucket the test controller writes to."""
    store = await S3Store.open(s3_settings(devenv, bucket=CONTROLLER_BUCKET))
    yield store
    await store.close()


@pytest.fixture
async def namespace(kube_a: KubeClient) -> AsyncIterator[str]:
    """A fresh namespace in cluster a for one test, deleted afterwards."""
    name = f"t-{secrets.token_hex(4)}"
    await kube_a.create(
        "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )
    yield name
    await kube_a.delete(f"/api/v1/namespaces/{name}")
