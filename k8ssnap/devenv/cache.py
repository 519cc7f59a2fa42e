"""Where built binaries live: outside the clone, keyed by version.

``$K8SSNAP_CACHE`` wins; otherwise ``$XDG_CACHE_HOME/k8ssnap`` or
``~/.cache/k8ssnap``. A fresh clone on the same machine (CI) finds the
binaries a previous build left there, so the cold build happens once per
machine and version.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """The k8ssnap cache folder (created on demand by callers)."""
    explicit = os.environ.get("K8SSNAP_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "k8ssnap"


def bin_dir(component: str, version: str) -> Path:
    """The folder holding the binaries of ``component`` at ``version``."""
    return cache_root() / "bin" / f"{component}-{version}"


def repo_root() -> Path:
    """The clone this package was installed from (editable installs only)."""
    return Path(__file__).resolve().parents[2]
