"""The gRPC client over mutual TLS, as kubeadm's etcd requires, against a scripted etcd."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from k8ssnap.errors import EtcdError, EtcdPermanent
from k8ssnap.etcd.client import EtcdClient, EtcdTls
from k8ssnap.etcd.stream import SnapshotVerifier
from tests.etcdfake import FakeEtcd

DB = bytes(range(256)) * 100


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _ca(folder: Path, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.crt",
             "-days", "1", "-subj", f"/CN={name}", cwd=folder)  # fmt: skip


def _leaf(folder: Path, name: str, *, ca: str, ext: str) -> None:
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-subj", f"/CN={name}",
             "-out", f"{name}.csr", cwd=folder)  # fmt: skip
    (folder / f"{name}.ext").write_text(ext)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
             "-CAcreateserial", "-days", "1", "-extfile", f"{name}.ext", "-out", f"{name}.crt",
             cwd=folder)  # fmt: skip


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("etcd-pki")
    _ca(folder, "ca")
    _ca(folder, "other-ca")
    _leaf(folder, "server", ca="ca", ext="subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    _leaf(folder, "client", ca="ca", ext="extendedKeyUsage=clientAuth\n")
    _leaf(folder, "stranger", ca="other-ca", ext="extendedKeyUsage=clientAuth\n")
    return folder


async def _serve(pki: Path) -> FakeEtcd:
    fake = FakeEtcd(db=DB)
    await fake.start(tls=((pki / "server.crt").read_bytes(), (pki / "server.key").read_bytes(),
                          (pki / "ca.crt").read_bytes()))  # fmt: skip
    return fake


def _tls(pki: Path, *, ca: str = "ca", client: str = "client") -> EtcdTls:
    return EtcdTls(
        ca=(pki / f"{ca}.crt").read_bytes(),
        cert=(pki / f"{client}.crt").read_bytes(),
        key=(pki / f"{client}.key").read_bytes(),
    )


async def test_a_snapshot_over_mutual_tls(pki: Path) -> None:
    fake = await _serve(pki)
    client = EtcdClient(endpoints=(fake.url,), tls=_tls(pki))
    try:
        assert (await client.status()).version == "3.5.35"
        verifier = SnapshotVerifier()
        received = b"".join([verifier.feed(chunk) async for chunk in client.snapshot()])
        verifier.finish()
        assert received[: len(DB)] == DB
    finally:
        await client.close()
        await fake.stop()


@pytest.mark.parametrize(("ca", "client"), [("other-ca", "client"), ("ca", "stranger")])
async def test_a_server_or_client_the_other_side_does_not_trust_is_refused(
    pki: Path, ca: str, client: str
) -> None:
    fake = await _serve(pki)
    etcd = EtcdClient(endpoints=(fake.url,), tls=_tls(pki, ca=ca, client=client), timeout=3)
    try:
        with pytest.raises(EtcdError) as caught:
            await etcd.status()
        assert fake.url in caught.value.reason
        assert "BEGIN" not in caught.value.reason  # no PEM, no key in a reason
    finally:
        await etcd.close()
        await fake.stop()


def test_an_https_endpoint_without_tls_secret_is_a_config_error() -> None:
    client = EtcdClient(endpoints=("https://127.0.0.1:2379",), tls=None)
    with pytest.raises(EtcdPermanent, match="tlsSecret"):
        client._open("127.0.0.1:2379", secure=True)


@pytest.mark.parametrize("endpoint", ["ftp://x:1", "https://host", "https://h:1/path", "://"])
def test_malformed_endpoints_are_refused(endpoint: str) -> None:
    with pytest.raises(EtcdPermanent):
        EtcdClient(endpoints=(endpoint,), tls=None)


def test_the_tls_key_never_shows_in_a_repr(pki: Path) -> None:
    assert "PRIVATE" not in repr(_tls(pki)) and "BEGIN" not in repr(_tls(pki))
