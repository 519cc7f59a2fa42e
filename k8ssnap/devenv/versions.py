"""Pinned versions of the real parts the local environment runs.

Cluster a and cluster b run :data:`KUBERNETES_VERSION` unless a setting
says otherwise: ``K8SSNAP_KUBERNETES_A`` / ``K8SSNAP_KUBERNETES_B`` (or
``up --kubernetes-a``) pick another supported minor, for restores across
Kubernetes versions. Each minor builds from its own wrapper module in
``tools/`` (the staging modules' versions follow the release), and its
binaries are cached by version like the default's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

KUBERNETES_VERSION = "v1.36.3"
"""A currently supported release; its /version is stamped with this string."""

OLDER_KUBERNETES_VERSION = "v1.34.4"
"""The second minor the cross-version restore tests run on cluster a (two minors older)."""

ETCD_VERSION = "v3.5.35"
"""etcd 3.5.x >= 3.5.13, so RequestWatchProgress works for the watch cache."""

PAUSE_VERSION = "3.10.2"
"""The TAG of Kubernetes' build/pause at KUBERNETES_VERSION (kubeadm's PauseVersion)."""

PAUSE_IMAGE = f"registry.k8s.io/pause:{PAUSE_VERSION}"
"""The sandbox image name containerd is told to use; built here, never pulled."""

AGE_VERSION = "v1.3.1"
"""filippo.io/age, the reference implementation of age-encryption.org/v1: the tests
decrypt the controller's archives with its ``age`` command (emergency decryption)."""
KUBERNETES_MODULES: Mapping[str, str] = {
    "v1.36.3": "k8s-bins",
    "v1.34.4": "k8s-bins-v1.34",
}
"""Kubernetes version -> its wrapper module folder under ``tools/``."""

SETTING_PREFIX = "K8SSNAP_KUBERNETES_"


def kubernetes_module(version: str) -> str:
    """The ``tools/`` folder that builds ``version``; ValueError for a version without one."""
    try:
        return KUBERNETES_MODULES[version]
    except KeyError:
        known = ", ".join(sorted(KUBERNETES_MODULES))
        raise ValueError(
            f"no build recipe for Kubernetes {version}; the supported versions are {known}"
        ) from None


def cluster_versions(names: Iterable[str], environ: Mapping[str, str]) -> dict[str, str]:
    """Each cluster's Kubernetes version: ``K8SSNAP_KUBERNETES_<NAME>`` or the default."""
    chosen = {name: environ.get(f"{SETTING_PREFIX}{name.upper()}") or KUBERNETES_VERSION for name in names}
    for version in chosen.values():
        kubernetes_module(version)
    return chosen
