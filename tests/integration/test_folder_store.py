"""A Snapshot and a Restore through the local-folder store (etcdbk's target: a mounted volume).

The store contract itself is test_store_contract.py; here the whole path:
``k8ssnap snapshot`` of cluster a into ``file://``, ``k8ssnap list``, and
``k8ssnap restore`` into cluster b from the same folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from k8ssnap.archive.index import StoredRecord
from k8ssnap.devenv import env
from k8ssnap.kube.client import KubeClient
from tests.integration.test_cli import configmap, k8ssnap

pytestmark = pytest.mark.integration


async def test_snapshot_and_restore_through_a_folder(
    devenv: env.EnvironmentInfo, kube_a: KubeClient, kube_b: KubeClient, namespace: str, tmp_path: Path
) -> None:
    await kube_a.create(f"/api/v1/namespaces/{namespace}/configmaps", configmap(namespace, "app", {"k": "v"}))
    (tmp_path / "backups").mkdir()
    store = ["--endpoint", f"file://{tmp_path}/backups", "--bucket", "cluster-a", "--prefix", "team"]
    (tmp_path / "backups" / "cluster-a").mkdir()
    name = f"folder-{namespace}"
    taken = await k8ssnap("snapshot", name, "--kubeconfig", str(devenv.clusters["a"].kubeconfig), *store)
    assert taken.code == 0, taken.err
    archive = tmp_path / "backups" / "cluster-a" / "team" / f"{name}.tgz"
    record = StoredRecord.from_json((archive.parent / f"{name}.tgz.record.json").read_bytes())
    assert archive.stat().st_size == record.size
    assert not any((tmp_path / "backups" / "cluster-a" / ".k8ssnap-uploads").iterdir())

    listed = await k8ssnap("list", *store)
    assert listed.code == 0 and name in listed.out, listed.err

    preference = tmp_path / "preference.yaml"
    preference.write_text(
        "kind: RestorePreference\n"
        f"spec:\n  includeNamespaces: [{namespace}]\n"
        f"  includeApiPathes: [/api/v1/namespaces/{namespace}/]\n"
    )
    try:
        restored = await k8ssnap(
            "restore", name, "--kubeconfig", str(devenv.clusters["b"].kubeconfig),
            "--preference", str(preference), *store,
        )  # fmt: skip
        assert restored.code == 0, restored.err + restored.out
        assert (await kube_b.get(f"/api/v1/namespaces/{namespace}/configmaps/app"))["data"] == {"k": "v"}
    finally:
        await kube_b.delete(f"/api/v1/namespaces/{namespace}")
