"""Pinned versions of the real parts the local environment runs."""

from __future__ import annotations

KUBERNETES_VERSION = "v1.36.3"
"""A currently supported release; its /version is stamped with this string."""

ETCD_VERSION = "v3.5.35"
"""etcd 3.5.x >= 3.5.13, so RequestWatchProgress works for the watch cache."""
