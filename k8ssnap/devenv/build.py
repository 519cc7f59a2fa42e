"""Building kube-apiserver, kube-controller-manager, kubectl, etcd and etcdutl from Go modules.

The recipe (verified here, see docs/local-environment.md): ``go install`` refuses
``k8s.io/kubernetes`` because its go.mod points the staging modules at
``./staging``; a small wrapper module of our own (``tools/k8s-bins``) requires
the release and replaces each staging module with its published ``v0.Y.Z``.
etcd has the same problem and its own wrapper (``tools/etcd-bin``), kept apart
so the two dependency graphs never mix. The reference ``age`` commands come from
``filippo.io/age`` through a third wrapper (``tools/age-bin``), for the tests that
decrypt archives without k8ssnap.

Binaries are built into a temporary folder next to the cache entry and moved
into place only when all of them exist, under a file lock, so an interrupted
or concurrent build never leaves a half-filled cache entry.

A cold build takes minutes (5-15 on 2 cores) and happens once per machine
and version. So that a first ``./scripts/demo`` or ``./scripts/test`` is not
silent all that time, the build says on stderr what it builds, that it
happens once, where its log is, and the time elapsed every 20 s, also while
it waits for another process's build of the same binaries.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

from k8ssnap.devenv import cache, versions

log = logging.getLogger(__name__)

KUBE_BINARIES = ("kube-apiserver", "kube-controller-manager", "kubectl")
NODE_BINARIES = ("kube-scheduler", "kubelet", "kube-proxy")
ETCD_BINARIES = ("etcd",)
ETCDUTL_BINARIES = ("etcdutl",)
AGE_BINARIES = ("age", "age-keygen")

PROGRESS_EVERY = 20.0
"""Seconds between progress lines during a build or a wait for one."""

Say = Callable[[str], None]


class BuildError(RuntimeError):
    """A build failed; the message carries the command and its output tail."""


def _go_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"GOWORK": "off", "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"})
    env.update(extra or {})
    return env


def _version_ldflags(version: str) -> str:
    major, minor = version.lstrip("v").split(".")[:2]
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {pkg}.gitVersion={version}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
            f"-X {pkg}.gitCommit=unknown",
            f"-X {pkg}.buildDate={stamp}",
        ]
    return " ".join(flags)


def _say(message: str) -> None:
    print(f"k8ssnap devenv: {message}", file=sys.stderr, flush=True)


def _elapsed(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def _run(
    cmd: list[str],
    *,
    cwd: Path,
    log_file: Path,
    what: str = "",
    every: float = PROGRESS_EVERY,
    say: Say = _say,
    env: Mapping[str, str] | None = None,
) -> None:
    """Run ``cmd`` with its output in ``log_file``; say every ``every`` s that ``what`` still builds."""
    log.info("building: %s", " ".join(cmd))
    started = time.monotonic()
    with log_file.open("ab") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=_go_env(env), stdout=out, stderr=subprocess.STDOUT)
        try:
            while True:
                try:
                    returncode = proc.wait(timeout=every)
                    break
                except subprocess.TimeoutExpired:
                    say(f"still building {what or cmd[0]}: {_elapsed(time.monotonic() - started)} elapsed")
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    if returncode != 0:
        tail = log_file.read_text(errors="replace")[-3000:]
        raise BuildError(f"{' '.join(cmd)} failed with exit {returncode}:\n{tail}")


def _lock(
    lock: IO[str], *, what: str, log_file: Path, every: float = PROGRESS_EVERY, say: Say = _say
) -> None:
    """Take the build lock; while another process builds, say so every ``every`` s."""
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        pass
    say(f"another process is building {what}; waiting for it (log: {log_file})")
    started = last = time.monotonic()
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            time.sleep(0.5)  # polling a lock another process holds; no event to wait on
        if time.monotonic() - last >= every:
            last = time.monotonic()
            say(f"still waiting for the build of {what}: {_elapsed(last - started)} elapsed")


def _complete(folder: Path, names: tuple[str, ...]) -> bool:
    return all((folder / name).is_file() for name in names)


def build_into(
    *,
    module_dir: Path,
    target: Path,
    names: tuple[str, ...],
    packages: list[str],
    ldflags: str,
    tags: str = "",
    env: Mapping[str, str] | None = None,
) -> None:
    """Build ``packages`` of the wrapper module ``module_dir`` into the cache folder ``target``.

    ``names`` are the binaries expected; ``env`` adds to the Go environment. The
    folder appears whole or not at all (see the module's docstring).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    lock_path = target.parent / f".{target.name}.lock"
    log_file = target.parent / f"{target.name}.build.log"
    what = f"{target.name} ({', '.join(names)})"
    with lock_path.open("w") as lock:
        _lock(lock, what=what, log_file=log_file)
        if _complete(target, names):
            return
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        started = time.monotonic()
        _say(
            f"building {what} from Go modules. This happens once per machine and version "
            f"(5-15 min on 2 cores); later runs find them in {target}. Log: {log_file}"
        )
        try:
            out = str(staging / names[0]) if len(names) == 1 else f"{staging}/"
            cmd = ["go", "build", "-trimpath", "-ldflags", ldflags, "-o", out]
            if tags:
                cmd += ["-tags", tags]
            _run([*cmd, *packages], cwd=module_dir, log_file=log_file, what=what, env=env)
            if not _complete(staging, names):
                raise BuildError(f"build of {target.name} did not produce {names}")
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        _say(f"built {what} in {_elapsed(time.monotonic() - started)}")


def ensure_built(
    component: str,
    version: str,
    *,
    module: str,
    names: tuple[str, ...],
    packages: list[str],
    ldflags: str = "-s -w",
    env: Mapping[str, str] | None = None,
) -> Path:
    """The cache folder of ``component`` at ``version`` holding ``names``, built from the
    wrapper module ``tools/<module>`` the first time (see :func:`build_into`)."""
    target = cache.bin_dir(component, version)
    if not _complete(target, names):
        build_into(
            module_dir=cache.repo_root() / "tools" / module,
            target=target,
            names=names,
            packages=packages,
            ldflags=ldflags,
            env=env,
        )
    return target


def ensure_kubernetes(version: str = versions.KUBERNETES_VERSION) -> Path:
    """Return the folder with kube-apiserver, kube-controller-manager and kubectl.

    Builds them on the first call for ``version`` (minutes); later calls,
    from any clone, return at once.
    """
    target = cache.bin_dir("kubernetes", version)
    if not _complete(target, KUBE_BINARIES):
        build_into(
            module_dir=cache.repo_root() / "tools" / versions.kubernetes_module(version),
            target=target,
            names=KUBE_BINARIES,
            packages=[f"k8s.io/kubernetes/cmd/{name}" for name in KUBE_BINARIES],
            ldflags=_version_ldflags(version),
            tags="selinux,notest,grpcnotrace",  # as the official release builds
        )
    return target


def ensure_node(version: str = versions.KUBERNETES_VERSION) -> Path:
    """Return the folder with kube-scheduler, kubelet and kube-proxy, building them once.

    A cache entry of its own (``kubernetes-node-<version>``), so that clusters
    without nodes never wait for these three.
    """
    target = cache.bin_dir("kubernetes-node", version)
    if not _complete(target, NODE_BINARIES):
        build_into(
            module_dir=cache.repo_root() / "tools" / "k8s-bins",
            target=target,
            names=NODE_BINARIES,
            packages=[f"k8s.io/kubernetes/cmd/{name}" for name in NODE_BINARIES],
            ldflags=_version_ldflags(version),
            tags="selinux,notest,grpcnotrace",
        )
    return target


def pause_source(version: str = versions.KUBERNETES_VERSION) -> Path:
    """``build/pause/linux/pause.c`` of ``k8s.io/kubernetes`` in the Go module cache."""
    proc = subprocess.run(
        ["go", "env", "GOMODCACHE"], check=True, capture_output=True, text=True, env=_go_env()
    )
    module = Path(proc.stdout.strip()) / f"k8s.io/kubernetes@{version}"
    source = module / "build" / "pause" / "linux" / "pause.c"
    if not source.is_file():
        raise BuildError(f"{source} is missing: run `go mod download` in tools/k8s-bins")
    return source


def ensure_pause(version: str = versions.KUBERNETES_VERSION) -> Path:
    """Return the folder with ``pause``, compiled statically with gcc as build/pause/Makefile does."""
    target = cache.bin_dir("pause", versions.PAUSE_VERSION)
    if _complete(target, ("pause",)):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    lock_path = target.parent / f".{target.name}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _complete(target, ("pause",)):
            return target
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        try:
            cmd = [
                "gcc", "-Os", "-Wall", "-Werror", "-static",
                f"-DVERSION=v{versions.PAUSE_VERSION}-k8ssnap",
                "-o", str(staging / "pause"), str(pause_source(version)),
            ]  # fmt: skip
            _run(cmd, cwd=staging, log_file=target.parent / f"{target.name}.build.log")
            subprocess.run(["strip", str(staging / "pause")], check=True)
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def ensure_etcd(version: str = versions.ETCD_VERSION) -> Path:
    """Return the folder with an etcd binary of ``version``, building it once."""
    return ensure_built(
        "etcd", version, module="etcd-bin", names=ETCD_BINARIES, packages=["go.etcd.io/etcd/server/v3"]
    )


def ensure_etcdutl(version: str = versions.ETCD_VERSION) -> Path:
    """Return the folder with an etcdutl binary of ``version`` (the release of the etcd we run).

    Its own wrapper module (``tools/etcdutl-bin``) and cache entry, so adding
    it neither rebuilds nor changes the etcd binary other clones cached.
    """
    return ensure_built(
        "etcdutl",
        version,
        module="etcdutl-bin",
        names=ETCDUTL_BINARIES,
        packages=["go.etcd.io/etcd/etcdutl/v3"],
    )


def ensure_age(version: str = versions.AGE_VERSION) -> Path:
    """Return the folder with the reference ``age`` and ``age-keygen`` commands, building them once.

    Not used by k8ssnap itself (it encrypts through pyrage); the tests use them to
    prove an archive decrypts without k8ssnap, as docs/encryption.md tells people to.
    """
    return ensure_built(
        "age",
        version,
        module="age-bin",
        names=AGE_BINARIES,
        packages=[f"filippo.io/age/cmd/{name}" for name in AGE_BINARIES],
        ldflags=f"-s -w -X main.Version={version}",
    )


def ensure_all(kubernetes: tuple[str, ...] = (versions.KUBERNETES_VERSION,)) -> dict[str, Path]:
    """Build (or find) every binary; returns the component folders.

    ``kubernetes`` names the Kubernetes versions wanted; each gets an entry
    ``kubernetes-<version>``, and the first is also ``kubernetes``.
    """
    found = {"etcd": ensure_etcd(), "etcdutl": ensure_etcdutl(), "age": ensure_age()}
    for version in kubernetes:
        found[f"kubernetes-{version}"] = ensure_kubernetes(version)
    found["kubernetes"] = found[f"kubernetes-{kubernetes[0]}"]
    return found
