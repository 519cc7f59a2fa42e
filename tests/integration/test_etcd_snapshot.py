"""An EtcdSnapshot of a real etcd into the folder store, and etcd-restore back: no Kubernetes needed.

The whole cycle a person runs, with the real etcd and etcdutl v3.5.35:
keys written, snapshot taken (engine), more keys written, ``k8ssnap list``
and ``k8ssnap etcd-restore`` through the CLI on ``file://``, a new etcd
started on the restored folder: the keys from before are there, the later
one is not. The cluster-level disaster recovery is test_etcd_recovery.py.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from k8ssnap.devenv import build, cluster, process
from k8ssnap.snapshot.etcd import EtcdSnapshotJob, take_etcd_snapshot
from k8ssnap.store.folder import FolderStore

pytestmark = pytest.mark.integration


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _call(url: str, path: str, body: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(f"{url}{path}", data=json.dumps(body).encode())
    with urllib.request.urlopen(request, timeout=10) as resp:
        answer: dict[str, object] = json.loads(resp.read())
    return answer


def _count(url: str, key: str, end: str | None = None) -> int:
    body: dict[str, object] = {"key": _b64(key), "count_only": True}
    if end:
        body["range_end"] = _b64(end)
    return int(str(_call(url, "/v3/kv/range", body).get("count", 0)))


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "k8ssnap.app.cli", *argv],
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip


async def test_real_etcd_round_trip_through_the_folder_store(tmp_path: Path) -> None:
    etcd_bin = build.ensure_etcd()
    etcd, url = cluster.launch_etcd(
        etcd_bin=etcd_bin, name="m0", data_dir=tmp_path / "data", log=tmp_path / "etcd.log",
        client_port=process.free_port(), peer_port=process.free_port(),
    )  # fmt: skip
    pki = tmp_path / "pki"
    pki.mkdir()
    (pki / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    (pki / "ca.key").write_text("-----BEGIN RSA PRIVATE KEY-----\n")
    backups = tmp_path / "backups"
    try:
        for i in range(500):
            _call(url, "/v3/kv/put", {"key": _b64(f"/registry/before/{i}"), "value": _b64("v" * 400)})
        store = FolderStore.open(endpoint=f"file://{backups}", bucket="b", root=str(tmp_path))
        backups.mkdir()
        await store.create_bucket()
        job = EtcdSnapshotJob(name="s1", endpoints=("http://127.0.0.1:1", url), pki=".", pki_root=str(pki))
        record = await take_etcd_snapshot(job=job, store=store, now=dt.datetime.now(dt.UTC))
        _call(url, "/v3/kv/put", {"key": _b64("/registry/after"), "value": _b64("x")})
    finally:
        process.stop(etcd.pgid)
    assert record.endpoint == url  # the unreachable first endpoint was skipped
    assert record.etcd_version == "3.5.35" and record.revision >= 501 and len(record.members) == 1

    listed = _cli("list", "--endpoint", f"file://{backups}", "--bucket", "b")
    assert listed.returncode == 0 and "s1" in listed.stdout and "3.5.35" in listed.stdout, listed

    peer = process.free_port()
    restored = _cli(
        "etcd-restore", "s1", "--endpoint", f"file://{backups}", "--bucket", "b",
        "--data-dir", str(tmp_path / "restored"), "--pki-dir", str(tmp_path / "pki-out"),
        "--etcdutl", str(build.ensure_etcdutl() / "etcdutl"),
        "--name", "r", "--initial-cluster", f"r=http://127.0.0.1:{peer}",
        "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
    )  # fmt: skip
    assert restored.returncode == 0, restored.stderr
    assert (tmp_path / "pki-out" / "ca.key").stat().st_mode & 0o777 == 0o600
    again, url2 = cluster.launch_etcd(
        etcd_bin=etcd_bin, name="r", data_dir=tmp_path / "restored", log=tmp_path / "etcd2.log",
        client_port=process.free_port(), peer_port=peer,
    )  # fmt: skip
    try:
        assert _count(url2, "/registry/before/", "/registry/before0") == 500
        assert _count(url2, "/registry/after") == 0
    finally:
        process.stop(again.pgid)
