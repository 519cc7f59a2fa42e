"""Writing OCI image archives by hand: a layout in a tar, one image, named for containerd.

The pause, demo and base images are a root filesystem and a few lines of
config; building them with the standard library (instead of a builder) keeps
them byte-for-byte reproducible (fixed mtimes, sorted entries), so their cache
key is their content. ``ctr images import`` names an image from the
``io.containerd.image.name`` annotation of the index; buildah reads the
``org.opencontainers.image.ref.name`` one.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
FILE, FOLDER, SYMLINK = tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE
EPOCH = 1_700_000_000
"""The mtime of every file written here, so equal inputs give equal bytes."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One file, folder or symlink of a layer written from Python."""

    path: str
    data: bytes = b""
    mode: int = 0o644
    kind: bytes = tarfile.REGTYPE
    link: str = ""


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """The parts of an OCI image config the images here use."""

    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)
    user: str = ""
    workdir: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)


def layer_of(entries: Iterable[Entry]) -> bytes:
    """An uncompressed layer tar of ``entries``, sorted, owned by root, at :data:`EPOCH`."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in sorted(entries, key=lambda e: e.path):
            info = tarfile.TarInfo(entry.path.lstrip("/"))
            info.mode, info.mtime, info.type, info.linkname = entry.mode, EPOCH, entry.kind, entry.link
            if entry.kind == tarfile.REGTYPE:
                info.size = len(entry.data)
                tar.addfile(info, io.BytesIO(entry.data))
            else:
                tar.addfile(info)
    return out.getvalue()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _config_json(config: ImageConfig, diff_ids: list[str]) -> bytes:
    inner: dict[str, Any] = {"Env": list(config.env)}
    if config.entrypoint:
        inner["Entrypoint"] = list(config.entrypoint)
    if config.cmd:
        inner["Cmd"] = list(config.cmd)
    if config.user:
        inner["User"] = config.user
    if config.workdir:
        inner["WorkingDir"] = config.workdir
    if config.labels:
        inner["Labels"] = dict(config.labels)
    doc = {
        "architecture": "amd64",
        "os": "linux",
        "config": inner,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    return json.dumps(doc, sort_keys=True).encode()


def write_archive(path: Path, *, name: str, layers: list[Path], config: ImageConfig) -> None:
    """Write an OCI archive of one image named ``name`` (fully qualified) to ``path``.

    ``layers`` are uncompressed layer tars on disk, streamed in (a base
    root filesystem is hundreds of megabytes). Written to a temporary file and
    renamed, so a reader never sees half an archive.
    """
    blobs: list[tuple[str, Path | bytes]] = []
    layer_descs: list[dict[str, str | int]] = []
    diff_ids: list[str] = []
    for layer in layers:
        digest = _file_digest(layer)
        layer_descs.append({"mediaType": LAYER_TYPE, "digest": digest, "size": layer.stat().st_size})
        diff_ids.append(digest)
        blobs.append((digest, layer))
    config_bytes = _config_json(config, diff_ids)
    config_digest = _digest(config_bytes)
    config_desc = {"mediaType": CONFIG_TYPE, "digest": config_digest, "size": len(config_bytes)}
    manifest = json.dumps(
        {"schemaVersion": 2, "mediaType": MANIFEST_TYPE, "config": config_desc, "layers": layer_descs},
        sort_keys=True,
    ).encode()
    tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else "latest"
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": INDEX_TYPE,
            "manifests": [
                {
                    "mediaType": MANIFEST_TYPE,
                    "digest": _digest(manifest),
                    "size": len(manifest),
                    "annotations": {
                        "io.containerd.image.name": name,
                        "org.opencontainers.image.ref.name": tag,
                    },
                }
            ],
        },
        sort_keys=True,
    ).encode()
    blobs += [(config_digest, config_bytes), (_digest(manifest), manifest)]
    partial = path.with_name(path.name + ".partial")
    with tarfile.open(partial, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        _add_bytes(tar, "index.json", index)
        for digest, blob in blobs:
            member = "blobs/sha256/" + digest.removeprefix("sha256:")
            if isinstance(blob, bytes):
                _add_bytes(tar, member, blob)
            else:
                info = tarfile.TarInfo(member)
                info.size, info.mtime, info.mode = blob.stat().st_size, EPOCH, 0o644
                with blob.open("rb") as src:
                    tar.addfile(info, src)
    partial.rename(path)


def _add_bytes(tar: tarfile.TarFile, member: str, data: bytes) -> None:
    info = tarfile.TarInfo(member)
    info.size, info.mtime, info.mode = len(data), EPOCH, 0o644
    tar.addfile(info, io.BytesIO(data))


def _file_digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as src:
        while chunk := src.read(1 << 20):
            sha.update(chunk)
    return "sha256:" + sha.hexdigest()
