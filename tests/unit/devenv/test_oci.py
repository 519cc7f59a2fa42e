"""OCI archives written by hand: valid digests, the name containerd reads, same bytes for same inputs."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

from k8ssnap.devenv import oci


def _layer(tmp_path: Path, data: bytes = b"\x7fELF") -> Path:
    layer = tmp_path / "layer.tar"
    layer.write_bytes(
        oci.layer_of([oci.Entry("bin", kind=oci.FOLDER, mode=0o755), oci.Entry("bin/app", data, 0o755)])
    )
    return layer


def _write(tmp_path: Path, name: str, out: str = "image.tar") -> Path:
    path = tmp_path / out
    oci.write_archive(
        path,
        name=name,
        layers=[_layer(tmp_path)],
        config=oci.ImageConfig(entrypoint=("/bin/app",), user="1:1"),
    )
    return path


def test_every_blob_matches_its_digest_and_the_index_names_the_image(tmp_path: Path) -> None:
    path = _write(tmp_path, "registry.k8s.io/pause:3.10.2")
    with tarfile.open(path) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
    for member, data in files.items():
        if member.startswith("blobs/sha256/"):
            assert hashlib.sha256(data).hexdigest() == member.rsplit("/", 1)[1]
    index = json.loads(files["index.json"])
    (entry,) = index["manifests"]
    assert entry["annotations"]["io.containerd.image.name"] == "registry.k8s.io/pause:3.10.2"
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == "3.10.2"
    manifest = json.loads(files["blobs/sha256/" + entry["digest"].removeprefix("sha256:")])
    config = json.loads(files["blobs/sha256/" + manifest["config"]["digest"].removeprefix("sha256:")])
    assert config["config"]["Entrypoint"] == ["/bin/app"] and config["config"]["User"] == "1:1"
    assert config["rootfs"]["diff_ids"] == [layer["digest"] for layer in manifest["layers"]]


def test_the_same_inputs_give_the_same_bytes(tmp_path: Path) -> None:
    first = _write(tmp_path, "localhost/demo:1", "one.tar").read_bytes()
    second = _write(tmp_path, "localhost/demo:1", "two.tar").read_bytes()
    assert first == second


def test_a_name_without_a_tag_is_latest(tmp_path: Path) -> None:
    path = _write(tmp_path, "localhost:5000/demo")
    with tarfile.open(path) as tar:
        index = json.loads(tar.extractfile("index.json").read())  # type: ignore[union-attr]
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "latest"


def test_no_partial_file_is_left_behind(tmp_path: Path) -> None:
    _write(tmp_path, "localhost/demo:1")
    assert not list(tmp_path.glob("*.partial"))
