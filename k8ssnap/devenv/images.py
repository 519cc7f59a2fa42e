"""The four images the local nodes run, built here and never pulled.

- **pause**: Kubernetes' own ``build/pause/linux/pause.c`` from the Go module
  cache, compiled statically (:func:`build.ensure_pause`), tagged as the
  sandbox image containerd is told to use.
- **python base**: Debian bookworm with its python3.11 and pip, made by
  ``mmdebstrap --variant=minbase``; it stands in for ``python:3.11-slim`` as the
  Dockerfile's ``PYTHON_IMAGE`` (Debian's ``EXTERNALLY-MANAGED`` marker is
  removed, as in the official image, so the Dockerfile's ``pip install`` works).
- **controller**: the unchanged ``Dockerfile``, built by ``buildah bud``
  (vfs storage, in a throwaway storage root) with ``PYTHON_IMAGE`` set to the
  base above.
- **demo**: a static busybox that serves ``/www`` with ``httpd`` (and has
  ``wget`` for a client Pod).

Each is an archive in ``<cache>/images`` named after a hash of its inputs,
so a rerun with nothing changed costs a stat, and a changed package tree
gives a new controller tag (no stale ``IfNotPresent`` image on a node).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from k8ssnap.devenv import build, cache, oci, versions

log = logging.getLogger(__name__)

BASE_NAME = "localhost/k8ssnap-python:3.11-bookworm"
DEMO_NAME = "localhost/k8ssnap-demo:1"
CONTROLLER_REPO = "localhost/k8ssnap"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
BUSYBOX = Path("/bin/busybox")

MMDEBSTRAP_ARGS = (
    "--variant=minbase",
    "--include=python3,python3-pip",
    '--aptopt=Apt::Install-Recommends "false"',
    "--dpkgopt=path-exclude=/usr/share/man/*",
    "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-include=/usr/share/doc/*/copyright",
    "--dpkgopt=path-exclude=/usr/share/locale/*",
    "--dpkgopt=path-exclude=/usr/share/info/*",
    '--customize-hook=rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED',
    '--customize-hook=rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*',
)
"""A small bookworm with python3.11 and pip; a change here makes a new base image."""


class ImageBuildError(RuntimeError):
    """An image build failed; the message carries the command and its output tail."""


@dataclass(frozen=True, slots=True)
class Image:
    """An image archive ready for ``ctr images import``."""

    name: str
    """The reference as containerd stores it and a Pod names it."""
    archive: Path
    unpack: bool = True
    """Whether a node unpacks it at import (no Pod runs the base image: its layers are only stored)."""

    @property
    def size(self) -> int:
        """Bytes of the archive: the image's uncompressed layers and metadata."""
        return self.archive.stat().st_size


def images_dir() -> Path:
    """Where image archives are cached (beside the binaries, outside the clone)."""
    return cache.cache_root() / "images"


def _hash(*parts: bytes) -> str:
    sha = hashlib.sha256()
    for part in parts:
        sha.update(hashlib.sha256(part).digest())
    return sha.hexdigest()[:16]


def _cached(stem: str, key: str, make: Callable[[Path], None]) -> Path:
    """The archive ``<stem>-<key>.tar``, made by ``make(path)`` under a lock when missing."""
    folder = images_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}-{key}.tar"
    if path.is_file():
        return path
    with (folder / f".{stem}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.is_file():
            started = time.monotonic()
            make(path)
            log.info("built image %s (%d MB) in %.0f s", path.name, path.stat().st_size >> 20,
                     time.monotonic() - started)  # fmt: skip
            for old in folder.glob(f"{stem}-*.tar"):
                if old != path:
                    old.unlink(missing_ok=True)
    return path


def _run(cmd: list[str], *, log_file: Path, timeout: float, cwd: Path | None = None) -> None:
    log.info("image build: %s", " ".join(cmd))
    with log_file.open("ab") as out:
        try:
            proc = subprocess.run(
                cmd, check=False, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout
            )
        except subprocess.TimeoutExpired as err:
            raise ImageBuildError(f"{' '.join(cmd)} ran past {timeout:.0f} s; log {log_file}") from err
    if proc.returncode != 0:
        tail = log_file.read_text(errors="replace")[-3000:]
        raise ImageBuildError(f"{' '.join(cmd)} failed with exit {proc.returncode}; log {log_file}:\n{tail}")


def ensure_pause() -> Image:
    """The pause image, ``registry.k8s.io/pause:<PAUSE_VERSION>``, running as 65535."""
    binary = build.ensure_pause() / "pause"
    data = binary.read_bytes()
    config = oci.ImageConfig(entrypoint=("/pause",), user="65535:65535", env=())

    def make(path: Path) -> None:
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            layer = Path(tmp) / "layer.tar"
            layer.write_bytes(oci.layer_of([oci.Entry("pause", data, mode=0o755)]))
            oci.write_archive(path, name=versions.PAUSE_IMAGE, layers=[layer], config=config)

    return Image(versions.PAUSE_IMAGE, _cached("pause", _hash(data, repr(config).encode()), make))


def ensure_demo() -> Image:
    """The demo application: static busybox, ``httpd`` on :8080 serving ``/www``, as nobody."""
    if not BUSYBOX.is_file():
        raise ImageBuildError(f"{BUSYBOX} is missing: install busybox-static")
    data = BUSYBOX.read_bytes()
    page = b"k8ssnap demo: built into the image\n"
    entries = [
        oci.Entry("bin", mode=0o755, kind=oci.FOLDER),
        oci.Entry("bin/busybox", data, mode=0o755),
        oci.Entry("bin/sh", kind=oci.SYMLINK, link="busybox", mode=0o777),
        oci.Entry("tmp", mode=0o1777, kind=oci.FOLDER),
        oci.Entry("www", mode=0o755, kind=oci.FOLDER),
        oci.Entry("www/index.html", page),
    ]
    config = oci.ImageConfig(
        entrypoint=("/bin/busybox", "httpd", "-f", "-v", "-p", "8080", "-h", "/www"),
        user="65534:65534",
        env=("PATH=/bin",),
    )

    def make(path: Path) -> None:
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            layer = Path(tmp) / "layer.tar"
            layer.write_bytes(oci.layer_of(entries))
            oci.write_archive(path, name=DEMO_NAME, layers=[layer], config=config)

    return Image(DEMO_NAME, _cached("demo", _hash(data, page, repr(config).encode()), make))


def ensure_base() -> Image:
    """Debian bookworm + python3.11 + pip from Debian packages (mmdebstrap), for ``PYTHON_IMAGE``."""
    config = oci.ImageConfig(cmd=("python3",), env=(
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
    ))  # fmt: skip
    key = _hash(repr(MMDEBSTRAP_ARGS).encode(), DEBIAN_MIRROR.encode(), repr(config).encode())

    def make(path: Path) -> None:
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            rootfs = Path(tmp) / "rootfs.tar"
            cmd = ["mmdebstrap", "--quiet", *MMDEBSTRAP_ARGS, "bookworm", str(rootfs), DEBIAN_MIRROR]
            _run(cmd, log_file=images_dir() / "base.build.log", timeout=1800)
            oci.write_archive(path, name=BASE_NAME, layers=[rootfs], config=config)

    return Image(BASE_NAME, _cached("python-base", key, make), unpack=False)


def _context_files(repo: Path) -> list[Path]:
    """The files the Dockerfile's build context lets in (see .dockerignore)."""
    files = [repo / "Dockerfile", repo / "pyproject.toml", repo / "README.md"]
    files += sorted(
        p for p in (repo / "k8ssnap").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")
    )  # fmt: skip
    return files


def ensure_controller(*, repo: Path | None = None) -> Image:
    """The controller image from the unchanged Dockerfile, tagged ``0.1.0-<input hash>``.

    ``buildah bud`` runs with the host network (pip fetches the dependencies
    from PyPI) and borrows the host's CA bundle read-only, so a TLS-inspecting
    proxy that the host trusts is trusted inside the build too; nothing of it
    stays in a layer.
    """
    root = repo or cache.repo_root()
    base = ensure_base()
    parts = [str(p.relative_to(root)).encode() + b"\0" + p.read_bytes() for p in _context_files(root)]
    key = _hash(base.archive.name.encode(), *parts)
    name = f"{CONTROLLER_REPO}:0.1.0-{key[:12]}"

    def make(path: Path) -> None:
        build_log = images_dir() / "controller.build.log"
        build_log.write_bytes(b"")
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=".buildah-") as tmp:
            storage = ["--root", f"{tmp}/root", "--runroot", f"{tmp}/run", "--storage-driver", "vfs"]
            pull = ["buildah", *storage, "pull", "-q", f"oci-archive:{base.archive}"]
            _run(pull, log_file=build_log, timeout=600)
            bud = ["buildah", *storage, "bud", "--network", "host", "--pull=never", "--layers=false",
                   "--build-arg", f"PYTHON_IMAGE={BASE_NAME}", "-t", name, "-f", "Dockerfile"]  # fmt: skip
            if HOST_CA_BUNDLE.is_file():
                bud += ["--volume", f"{HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro"]
            _run([*bud, "."], log_file=build_log, timeout=1800, cwd=root)
            partial = path.with_name(path.name + ".partial")
            partial.unlink(missing_ok=True)
            _run(["buildah", *storage, "push", "-q", name, f"docker-archive:{partial}:{name}"],
                 log_file=build_log, timeout=600)  # fmt: skip
            partial.rename(path)
            # vfs files are root-owned copies; buildah's own rm clears its mounts first
            subprocess.run(["buildah", *storage, "rm", "--all"], check=False, capture_output=True)
            shutil.rmtree(tmp, ignore_errors=True)

    return Image(name, _cached("controller", key, make))


def ensure_all(*, repo: Path | None = None) -> dict[str, Image]:
    """Build (or find) the pause, demo, base and controller images."""
    return {
        "pause": ensure_pause(),
        "demo": ensure_demo(),
        "base": ensure_base(),
        "controller": ensure_controller(repo=repo),
    }
