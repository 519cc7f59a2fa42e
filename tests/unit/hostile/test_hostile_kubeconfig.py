"""Hostile kubeconfigs from custom resources (issue 11, faults 0 and 1).

Every test goes through :meth:`KubeClient.from_kubeconfig_text`, the entry
the reconcilers use, against a local HTTPS server where a connection is
needed. None needs a cluster.
"""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from k8ssnap import errors
from k8ssnap.devenv.pki import ClusterPki
from k8ssnap.kube import kubeconfig
from k8ssnap.kube.client import KubeClient
from tests.unit.hostile.tlsserver import ApiServer, b64, kubeconfig_text

SECRET_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token-3f9a"
"""A value that must never show up in a reason."""


@pytest.fixture(autouse=True)
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temp folder of this test, so leftovers can be counted."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


async def _version(text: str) -> dict[str, Any]:
    client = await KubeClient.from_kubeconfig_text(text)
    try:
        return await client.get("/version")
    finally:
        await client.close()


async def _refused(text: str) -> str:
    with pytest.raises(errors.ConfigError) as caught:
        client = await KubeClient.from_kubeconfig_text(text)
        await client.close()
    return caught.value.reason


# --- fault 0: the same kubeconfig works once per process --------------------------------


async def test_fault_0_the_same_inline_kubeconfig_connects_any_number_of_times(apiserver: ApiServer) -> None:
    text = apiserver.kubeconfig()
    for _ in range(3):  # each client closed before the next, as two Snapshots in a row
        assert (await _version(text))["major"] == "1"
    assert [s.client_cert for s in apiserver.seen] == [True, True, True]


async def test_fault_0_two_open_clients_of_one_kubeconfig_do_not_break_each_other(
    apiserver: ApiServer,
) -> None:
    text = apiserver.kubeconfig()
    first = await KubeClient.from_kubeconfig_text(text)
    second = await KubeClient.from_kubeconfig_text(text)
    await first.close()
    assert (await second.get("/version"))["major"] == "1"
    await second.close()


async def test_fault_0_a_token_user_sends_its_token(apiserver: ApiServer) -> None:
    text = apiserver.kubeconfig(user={"token": "tok-123"})
    for _ in range(2):
        await _version(text)
    assert [s.authorization for s in apiserver.seen] == ["Bearer tok-123"] * 2


# --- fault 1: kubeconfigs from custom resources run code and read files ------------------


async def test_fault_1_an_exec_user_is_refused_and_never_runs(apiserver: ApiServer, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    exec_user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "sh",
            "args": ["-c", f'touch {marker}; echo \'{{"status":{{"token":"x"}}}}\''],
        }
    }
    reason = await _refused(apiserver.kubeconfig(user=exec_user))
    assert "exec" in reason and "refused" in reason
    assert not marker.exists()


@pytest.mark.parametrize(
    ("section", "field", "value"),
    [
        ("user", "tokenFile", SECRET_PATH),
        ("user", "auth-provider", {"name": "oidc", "config": {"id-token": SECRET_PATH}}),
        ("user", "client-certificate", SECRET_PATH),
        ("user", "client-key", SECRET_PATH),
        ("cluster", "certificate-authority", SECRET_PATH),
        ("user", "as", "system:admin"),  # impersonation is not silently dropped
    ],
)
async def test_fault_1_file_paths_and_plugins_are_refused_by_name(
    apiserver: ApiServer, section: str, field: str, value: object
) -> None:
    if section == "user":
        text = apiserver.kubeconfig(user={"token": "t", field: value})
    else:
        text = apiserver.kubeconfig(**{field: value})
    reason = await _refused(text)
    assert f".{field} is refused" in reason
    assert SECRET_PATH not in reason and "system:admin" not in reason
    assert apiserver.seen == []


async def test_fault_1_a_token_file_is_never_read_nor_sent(apiserver: ApiServer, tmp_path: Path) -> None:
    token_file = tmp_path / "sa-token"
    token_file.write_text("controller-service-account-token")
    text = apiserver.kubeconfig(user={"tokenFile": str(token_file)}, **{"insecure-skip-tls-verify": True})
    text = text.replace('"certificate-authority-data"', '"x-unused"')  # as the attacker wrote it
    with pytest.raises(errors.ConfigError) as caught:
        await _version(text)
    assert "controller-service-account-token" not in caught.value.reason
    assert all(s.authorization is None or "controller-service" not in s.authorization for s in apiserver.seen)
    assert apiserver.seen == []


async def test_fault_1_skipping_tls_verification_is_refused_without_the_flag(apiserver: ApiServer) -> None:
    text = kubeconfig_text(
        cluster={"server": apiserver.url, "insecure-skip-tls-verify": True}, user={"token": "t"}
    )
    reason = await _refused(text)
    assert "insecure-skip-tls-verify" in reason and "--insecure-kubeconfig-tls" in reason
    client = await KubeClient.from_kubeconfig_text(text, allow_insecure_tls=True)
    try:
        assert not client.tls_verified
        assert (await client.get("/version"))["major"] == "1"
    finally:
        await client.close()


async def test_fault_1_a_plain_http_server_is_refused_without_the_flag() -> None:
    text = kubeconfig_text(cluster={"server": "http://127.0.0.1:1"}, user={"token": "t"})
    assert "http://" in await _refused(text)
    client = await KubeClient.from_kubeconfig_text(text, allow_insecure_tls=True)
    assert not client.tls_verified
    await client.close()


async def test_fault_1_a_verified_client_says_so(apiserver: ApiServer) -> None:
    client = await KubeClient.from_kubeconfig_text(apiserver.kubeconfig())
    assert client.tls_verified
    await client.close()


async def test_fault_1_a_huge_kubeconfig_is_refused_without_holding_the_loop() -> None:
    text = "apiVersion: v1\nkind: Config\nclusters:\n" + "- name: c\n  cluster: {server: https://x}\n" * 25000
    assert len(text) > 2 * kubeconfig.MAX_CHARACTERS
    stalls: list[float] = []

    async def heartbeat() -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.01)
            stalls.append(time.monotonic() - before)

    beat = asyncio.create_task(heartbeat())
    await asyncio.sleep(0.02)
    try:
        reason = await _refused(text)
    finally:
        beat.cancel()
    assert "65536" in reason
    assert max(stalls) < 0.5


async def test_fault_1_yaml_is_parsed_off_the_event_loop(
    apiserver: ApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []
    real_load = yaml.load

    def load(stream: Any, Loader: Any) -> Any:
        threads.append(threading.get_ident())
        return real_load(stream, Loader=Loader)

    monkeypatch.setattr(yaml, "load", load)
    await _version(apiserver.kubeconfig())
    assert threads and threading.main_thread().ident not in threads


async def test_fault_1_an_alias_bomb_is_refused_quickly() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 12)]
    started = time.monotonic()
    await _refused("\n".join(lines) + "\ncurrent-context: *a11\n")
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("text", ["{{{", "- a list", "just text", "[[[[" * 5000, ""])
async def test_fault_1_text_that_is_no_kubeconfig_is_refused(text: str) -> None:
    assert "kubeconfig" in await _refused(text)


# --- fault 1: the k8ssnap-kc-* folder and key material -------------------------------------


def _encrypted_key(pki: ClusterPki, folder: Path) -> str:
    out = folder / "enc.key"
    subprocess.run(
        ["openssl", "rsa", "-in", str(pki.admin_key), "-aes256", "-passout", "pass:pw", "-out", str(out)],
        check=True,
        capture_output=True,
    )
    return b64(out)


@pytest.mark.parametrize("broken", ["ok", "bad-ca", "bad-key", "other-key", "encrypted-key", "cert-only"])
async def test_fault_1_no_key_material_survives_the_call(
    apiserver: ApiServer, private_tmp: Path, tmp_path: Path, broken: str
) -> None:
    pki = apiserver.pki
    user: dict[str, object] = {
        "client-certificate-data": b64(pki.admin_cert),
        "client-key-data": b64(pki.admin_key),
    }
    cluster: dict[str, object] = {}
    if broken == "bad-ca":
        cluster["certificate-authority-data"] = "bm90IGEgY2VydA=="
    elif broken == "bad-key":
        user["client-key-data"] = "bm90IGEga2V5"
    elif broken == "other-key":
        user["client-key-data"] = b64(pki.sa_key)
    elif broken == "encrypted-key":
        user["client-key-data"] = _encrypted_key(pki, tmp_path)
    elif broken == "cert-only":
        del user["client-key-data"]
    text = apiserver.kubeconfig(user=user, **cluster)
    if broken == "ok":
        client = await KubeClient.from_kubeconfig_text(text)
        assert list(private_tmp.iterdir()) == []  # nothing on disk while the client is open
        await client.close()
    else:
        reason = await _refused(text)
        assert "BEGIN" not in reason and "bm90" not in reason
    assert list(private_tmp.iterdir()) == []


def test_fault_1_the_crd_caps_spec_kubeconfig_as_the_parser_does() -> None:
    root = Path(__file__).resolve().parents[3]
    crds = {
        d["spec"]["names"]["kind"]: d
        for d in yaml.safe_load_all((root / "artifacts" / "crd.yaml").read_text())
    }
    for kind in ("Snapshot", "Restore"):
        spec = crds[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        assert spec["properties"]["kubeconfig"]["maxLength"] == kubeconfig.MAX_CHARACTERS == 65536


@pytest.mark.parametrize("user", [{"token": "a\r\nX-Evil: 1"}, {"username": "u\n", "password": "p\rq"}])
async def test_fault_1_credentials_cannot_inject_headers(
    apiserver: ApiServer, user: dict[str, object]
) -> None:
    reason = await _refused(apiserver.kubeconfig(user=user))
    assert "control characters" in reason and "Evil" not in reason
    assert apiserver.seen == []
