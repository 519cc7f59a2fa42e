"""The ``k8ssnap`` CLI against the real cluster a, cluster b and S3.

Commands run in-process through :func:`k8ssnap.app.cli.main` (in a worker
thread, since the CLI runs its own event loop), and once as a real
subprocess to cover the entry point. S3 keys come from the environment, as
a person would set them; every test uses its own key prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from k8ssnap import errors
from k8ssnap.app import cli
from k8ssnap.archive.index import StoredRecord
from k8ssnap.devenv import env
from k8ssnap.kube.client import KubeClient
from k8ssnap.store import layout
from k8ssnap.store.s3 import S3Store
from tests.waiting import eventually

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def s3_env(devenv: env.EnvironmentInfo, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", devenv.s3.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", devenv.s3.secret_key)
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "K8SSNAP_BUCKET", "KUBECONFIG"):
        monkeypatch.delenv(name, raising=False)
    yield


async def k8ssnap(*argv: str) -> Result:
    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.to_thread(cli.main, list(argv), out=out, err=err)
    return Result(code, out.getvalue(), err.getvalue())


def bucket_flags(devenv: env.EnvironmentInfo, prefix: str) -> list[str]:
    return ["--endpoint", devenv.s3.endpoint, "--bucket", devenv.s3.bucket, "--prefix", prefix]


def configmap(namespace: str, name: str, data: dict[str, str]) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data,
    }


async def test_snapshot_list_show_get_diff(
    devenv: env.EnvironmentInfo, kube_a: KubeClient, s3: S3Store, namespace: str, s3_env: None
) -> None:
    prefix = f"cli-{namespace}"
    data = {"mode": "blue", "script": "#!/bin/sh\necho hello\n"}
    await kube_a.create(f"/api/v1/namespaces/{namespace}/configmaps", configmap(namespace, "settings", data))
    await kube_a.create(f"/api/v1/namespaces/{namespace}/configmaps", configmap(namespace, "doomed", {}))
    name = f"cli-{namespace}"
    await _settled(kube_a, namespace)
    try:
        await _snapshot_list_show_get_diff(devenv, kube_a, s3, namespace=namespace, name=name, data=data)
    finally:
        for key in (
            layout.archive_key(name, prefix=f"{prefix}/"),
            layout.record_key(name, prefix=f"{prefix}/"),
        ):
            await s3.delete(key)


async def _snapshot_list_show_get_diff(
    devenv: env.EnvironmentInfo,
    kube_a: KubeClient,
    s3: S3Store,
    *,
    namespace: str,
    name: str,
    data: dict[str, str],
) -> None:
    kubeconfig = str(devenv.clusters["a"].kubeconfig)
    prefix = f"cli-{namespace}"
    bucket = bucket_flags(devenv, prefix)
    cm_path = f"/api/v1/namespaces/{namespace}/configmaps/settings"

    taken = await k8ssnap(
        "snapshot", name, "--kubeconfig", kubeconfig, "--cluster-name", "cluster-a", *bucket
    )
    assert taken.code == 0, taken.err
    record = StoredRecord.from_json(await s3.get(layout.record_key(name, prefix=f"{prefix}/")))
    assert cm_path in record.index.paths
    assert record.index.cluster_name == "cluster-a"
    assert f"snapshot {name}: {record.index.total} objects" in taken.out

    again = await k8ssnap("snapshot", name, "--kubeconfig", kubeconfig, *bucket)
    assert again.code == 1
    assert "already exists" in again.err

    listed = await k8ssnap("list", *bucket)
    assert listed.code == 0, listed.err
    rows = [line.split() for line in listed.out.splitlines()]
    assert rows[0] == ["NAME", "CLUSTER", "SCHEDULE", "OBJECTS", "SIZE", "TIME"]
    assert [row[:4] for row in rows[1:]] == [[name, "cluster-a", "-", str(record.index.total)]]

    shown = await k8ssnap("show", name, "--by", "namespace", *bucket)
    assert shown.code == 0, shown.err
    assert f"sha256 {record.sha256}, matches its record" in shown.out
    ours = [p for p in record.index.paths if p == f"/api/v1/namespaces/{namespace}" or f"/{namespace}/" in p]
    assert f"{namespace} {len(ours)}" in [" ".join(line.split()) for line in shown.out.splitlines()]
    assert ["TOTAL", str(record.index.total)] in [line.split() for line in shown.out.splitlines()]

    got = await k8ssnap("get", name, cm_path, *bucket)
    assert got.code == 0, got.err
    obj = yaml.safe_load(got.out)
    assert (obj["kind"], obj["metadata"]["name"], obj["data"]) == ("ConfigMap", "settings", data)

    await kube_a.merge_patch(cm_path, {"data": {"mode": "green"}})
    await kube_a.delete(f"/api/v1/namespaces/{namespace}/configmaps/doomed")
    await kube_a.create(f"/api/v1/namespaces/{namespace}/configmaps", configmap(namespace, "fresh", {}))
    diffed = await k8ssnap("diff", name, "--kubeconfig", kubeconfig, "-n", namespace, "--details", *bucket)
    assert diffed.code == 0, diffed.err
    lines = diffed.out.splitlines()
    assert f"  ~ {cm_path}" in lines
    assert f"  - /api/v1/namespaces/{namespace}/configmaps/doomed" in lines
    assert f"  + /api/v1/namespaces/{namespace}/configmaps/fresh" in lines
    assert "      -  mode: blue" in lines
    assert "      +  mode: green" in lines
    # The Namespace, its ServiceAccount and kube-root-ca.crt are untouched.
    assert lines[-1] == "1 only in the snapshot, 1 only in the cluster, 1 changed, 3 unchanged"


async def test_snapshot_to_a_local_file_then_restore_it_into_cluster_b(
    devenv: env.EnvironmentInfo, kube_a: KubeClient, kube_b: KubeClient, namespace: str, tmp_path: Path
) -> None:
    await kube_a.create(f"/api/v1/namespaces/{namespace}/configmaps", configmap(namespace, "app", {"k": "v"}))
    archive = tmp_path / "a.tgz"
    kubeconfig_a = str(devenv.clusters["a"].kubeconfig)
    taken = await k8ssnap(
        "snapshot", f"file-{namespace}", "--kubeconfig", kubeconfig_a, "--output", str(archive)
    )
    assert taken.code == 0, taken.err
    assert archive.is_file()
    assert (tmp_path / "a.tgz.record.json").is_file()

    got = await k8ssnap("get", "--file", str(archive), f"/api/v1/namespaces/{namespace}/configmaps/app")
    assert got.code == 0, got.err
    assert yaml.safe_load(got.out)["data"] == {"k": "v"}

    preference = tmp_path / "preference.yaml"
    preference.write_text(
        "kind: RestorePreference\n"
        f"spec:\n  includeNamespaces: [{namespace}]\n"
        f"  includeApiPathes: [/api/v1/namespaces/{namespace}/]\n"
    )
    kubeconfig_b = str(devenv.clusters["b"].kubeconfig)
    try:
        restored = await k8ssnap(
            "restore", "--file", str(archive), "--kubeconfig", kubeconfig_b, "--preference", str(preference)
        )
        assert restored.code == 0, restored.err + restored.out
        assert "0 failed" in restored.out
        copy = await kube_b.get(f"/api/v1/namespaces/{namespace}/configmaps/app")
        assert copy["data"] == {"k": "v"}
        again = await k8ssnap(
            "restore",
            "--file",
            str(archive),
            "--kubeconfig",
            kubeconfig_b,
            "--preference",
            str(preference),
            "-v",
        )
        assert again.code == 0, again.err
        assert f"  /api/v1/namespaces/{namespace}/configmaps/app" in again.out.split("already existed:")[1]
    finally:
        await kube_b.delete(f"/api/v1/namespaces/{namespace}")


async def _settled(kube: KubeClient, namespace: str) -> None:
    """Wait until the controllers have made the namespace's default ServiceAccount and CA bundle."""

    async def made() -> bool:
        await kube.get(f"/api/v1/namespaces/{namespace}/serviceaccounts/default")
        await kube.get(f"/api/v1/namespaces/{namespace}/configmaps/kube-root-ca.crt")
        return True

    await eventually(made, what=f"the default ServiceAccount and kube-root-ca.crt in {namespace}")


def test_entry_point_runs_and_never_prints_the_secret(devenv: env.EnvironmentInfo) -> None:
    secret = devenv.s3.secret_key
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "K8SSNAP_"))}
    environ = {**base, "AWS_ACCESS_KEY_ID": devenv.s3.access_key, "AWS_SECRET_ACCESS_KEY": secret}
    flags = [*bucket_flags(devenv, "cli-entry-point-empty"), "--retry-seconds", "5"]
    command = [sys.executable, "-m", "k8ssnap.app.cli", "list", *flags]
    ok = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=120, check=False)
    assert ok.returncode == 0, ok.stderr
    assert "no snapshots at s3://" in ok.stderr

    wrong = {**environ, "AWS_SECRET_ACCESS_KEY": secret[::-1]}
    bad = subprocess.run(command, env=wrong, capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 1
    assert "secret key is wrong" in bad.stderr
    for stream in (ok.stdout, ok.stderr, bad.stdout, bad.stderr):
        assert secret not in stream
        assert secret[::-1] not in stream


async def test_encrypted_snapshot_keygen_list_show_get_diff_restore(
    devenv: env.EnvironmentInfo,
    kube_a: KubeClient,
    kube_b: KubeClient,
    s3: S3Store,
    namespace: str,
    s3_env: None,
    tmp_path: Path,
) -> None:
    """docs/encryption.md's CLI: listed without a key; read, compared and restored with --identity."""
    key, other = tmp_path / "key.txt", tmp_path / "other.txt"
    for path in (key, other):
        made = await k8ssnap("keygen", "-o", str(path))
        assert made.code == 0, made.err
    recipient = made.err.split("Public key: ")[1].strip()  # of ``other``
    mine = next(line.split(": ")[1] for line in key.read_text().splitlines() if "public key" in line)
    await kube_a.create(f"/api/v1/namespaces/{namespace}/configmaps", configmap(namespace, "app", {"k": "v"}))
    prefix, name = f"enc-{namespace}", f"enc-{namespace}"
    bucket = bucket_flags(devenv, prefix)
    kubeconfig_a, kubeconfig_b = str(devenv.clusters["a"].kubeconfig), str(devenv.clusters["b"].kubeconfig)
    cm_path = f"/api/v1/namespaces/{namespace}/configmaps/app"
    taken = await k8ssnap("snapshot", name, "--kubeconfig", kubeconfig_a, "--recipient", mine, *bucket)
    assert taken.code == 0, taken.err
    assert f"{name}.tgz.age, encrypted to 1 age recipient(s)" in taken.out
    raw = await s3.get(layout.archive_key(name, prefix=f"{prefix}/", encrypted=True))
    assert raw.startswith(b"age-encryption.org/v1\n")
    try:
        listed = await k8ssnap("list", *bucket)
        assert listed.code == 0 and listed.out.splitlines()[1].split()[0] == name, listed.err
        locked = await k8ssnap("show", name, *bucket)
        assert locked.code == 1 and "pass --identity FILE" in locked.err
        wrong = await k8ssnap("get", name, cm_path, "--identity", str(other), *bucket)
        assert wrong.code == 1 and recipient in wrong.err and "holds none of their identities" in wrong.err
        shown = await k8ssnap("show", name, "--identity", str(key), *bucket)
        assert shown.code == 0, shown.err
        got = await k8ssnap("get", name, cm_path, "--identity", str(key), *bucket)
        assert got.code == 0 and yaml.safe_load(got.out)["data"] == {"k": "v"}, got.err
        diffed = await k8ssnap(
            "diff", name, "--kubeconfig", kubeconfig_a, "-n", namespace, "--identity", str(key), *bucket
        )
        assert diffed.code == 0, diffed.err
        preference = tmp_path / "preference.yaml"
        preference.write_text(f"kind: RestorePreference\nspec:\n  includeNamespaces: [{namespace}]\n")
        restored = await k8ssnap(
            "restore", name, "--kubeconfig", kubeconfig_b, "--preference", str(preference),
            "--identity", str(key), *bucket,
        )  # fmt: skip
        assert restored.code == 0, restored.err + restored.out
        assert (await kube_b.get(cm_path))["data"] == {"k": "v"}
    finally:
        for stored in (
            layout.archive_key(name, prefix=f"{prefix}/", encrypted=True),
            layout.record_key(name, prefix=f"{prefix}/"),
        ):
            await s3.delete(stored)
        with contextlib.suppress(errors.NotFound):
            await kube_b.delete(f"/api/v1/namespaces/{namespace}")


async def test_dry_run_plan_and_diff_share_the_plan_with_mapping(
    devenv: env.EnvironmentInfo, kube_a: KubeClient, kube_b: KubeClient, namespace: str, tmp_path: Path
) -> None:
    apps = f"/apis/apps/v1/namespaces/{namespace}"
    labels = {"app": "web"}
    pod = {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "pause"}]}}
    deployment = {
        "metadata": {"name": "web"},
        "spec": {"replicas": 0, "selector": {"matchLabels": labels}, "template": pod},
    }
    await kube_a.create(f"{apps}/deployments", deployment)
    await kube_a.create(f"/api/v1/namespaces/{namespace}/configmaps", configmap(namespace, "app", {"k": "v"}))

    async def replicaset() -> bool:
        return bool((await kube_a.get(f"{apps}/replicasets"))["items"])

    await eventually(replicaset, what="the Deployment's ReplicaSet")
    await _settled(kube_a, namespace)
    archive = tmp_path / "a.tgz"
    taken = await k8ssnap(
        "snapshot", "m", "--kubeconfig", str(devenv.clusters["a"].kubeconfig), "--output", str(archive)
    )
    assert taken.code == 0, taken.err
    target = f"{namespace}-copy"
    preference = tmp_path / "preference.yaml"
    preference.write_text(
        "kind: RestorePreference\n"
        f'spec:\n  includeNamespaces: [{namespace}]\n  includeApiPathes: ["/,{namespace}"]\n'
        f"  namespaceMapping: {{{namespace}: {target}}}\n"
    )
    into_b = ["--kubeconfig", str(devenv.clusters["b"].kubeconfig), "--preference", str(preference)]

    planned = await k8ssnap("restore", "--file", str(archive), *into_b, "--dry-run")

    assert planned.code == 0, planned.err + planned.out
    lines = [" ".join(line.split()) for line in planned.out.splitlines()]
    assert "nothing was written" in lines[0]
    assert lines[1] == "OUTCOME OBJECT DETAIL"
    assert f"would create /api/v1/namespaces/{target}/configmaps/app" in lines
    assert f"would create /api/v1/namespaces/{target}" in lines
    assert any(
        line.startswith("excluded ") and "/replicasets/" in line and "owner-ref" in line for line in lines
    )
    with pytest.raises(errors.NotFound):
        await kube_b.get(f"/api/v1/namespaces/{target}")

    diffed = await k8ssnap("diff", "--file", str(archive), *into_b, "-n", namespace)

    assert diffed.code == 0, diffed.err
    lines = diffed.out.splitlines()
    assert f"  - /api/v1/namespaces/{target}/configmaps/app" in lines
    assert f"  - {apps.replace(namespace, target)}/deployments/web" in lines
    excluded = [line for line in lines if line.startswith("  x ")]
    assert excluded and all("(owner-ref)" in line or "(system-managed)" in line for line in excluded)
    assert any("/replicasets/" in line for line in excluded)
    assert not [line for line in lines if line.startswith("  - ") and "/replicasets/" in line]
