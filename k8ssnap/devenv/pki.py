"""Certificates and keys for a local cluster, made with the openssl command.

Each cluster gets its own CA, a serving certificate for 127.0.0.1 and
localhost, an admin client certificate (CN=admin, O=system:masters), a
service-account signing key pair, and a random bearer token for a second,
token-authenticated admin user. Nothing is shared between clusters, so a
credential of one is refused by the other.
"""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ClusterPki:
    """Paths of one cluster's PKI files, plus its admin token."""

    folder: Path
    token: str

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca.key"

    @property
    def serving_cert(self) -> Path:
        return self.folder / "serving.crt"

    @property
    def serving_key(self) -> Path:
        return self.folder / "serving.key"

    @property
    def admin_cert(self) -> Path:
        return self.folder / "admin.crt"

    @property
    def admin_key(self) -> Path:
        return self.folder / "admin.key"

    @property
    def sa_key(self) -> Path:
        return self.folder / "sa.key"

    @property
    def sa_pub(self) -> Path:
        return self.folder / "sa.pub"

    @property
    def tokens_csv(self) -> Path:
        return self.folder / "tokens.csv"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _sign(folder: Path, *, name: str, subject: str, ext: str) -> None:
    _openssl("genrsa", "-out", f"{name}.key", "2048", cwd=folder)
    _openssl("req", "-new", "-key", f"{name}.key", "-subj", subject, "-out", f"{name}.csr", cwd=folder)
    (folder / f"{name}.ext").write_text(ext)
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "365", "-sha256", "-extfile", f"{name}.ext",
        "-out", f"{name}.crt", cwd=folder,
    )  # fmt: skip


def make_cluster_pki(folder: Path, *, cluster: str, extra_ips: tuple[str, ...] = ()) -> ClusterPki:
    """Create (or reuse, if complete) the PKI of one cluster in ``folder``.

    ``extra_ips`` join the serving certificate's names: with nodes, the API
    server listens on the host bridge and Pods reach it as the first address
    of the service range (the ``kubernetes`` Service).
    """
    folder.mkdir(parents=True, exist_ok=True)
    token_file = folder / "admin.token"
    pki = ClusterPki(folder=folder, token=token_file.read_text().strip() if token_file.exists() else "")
    if pki.token and pki.admin_cert.exists() and pki.sa_pub.exists():
        return pki
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "365", "-subj", f"/CN=k8ssnap-devenv-{cluster}-ca", cwd=folder,
    )  # fmt: skip
    _sign(
        folder,
        name="serving",
        subject="/CN=kube-apiserver",
        ext="subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,"
        "DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
        + "".join(f",IP:{ip}" for ip in extra_ips)
        + "\nextendedKeyUsage=serverAuth\n",
    )
    _sign(
        folder,
        name="admin",
        subject="/O=system:masters/CN=admin",
        ext="extendedKeyUsage=clientAuth\n",
    )
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=folder)
    _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=folder)
    token = secrets.token_hex(24)
    (folder / "tokens.csv").write_text(f'{token},token-admin,token-admin,"system:masters"\n')
    token_file.write_text(token)
    for path in folder.iterdir():
        path.chmod(0o600)
    return ClusterPki(folder=folder, token=token)
