"""Pinned versions of the real parts the local environment runs."""

from __future__ import annotations

KUBERNETES_VERSION = "v1.36.3"
"""A currently supported release; its /version is stamped with this string."""

ETCD_VERSION = "v3.5.35"
"""etcd 3.5.x >= 3.5.13, so RequestWatchProgress works for the watch cache."""

AGE_VERSION = "v1.3.1"
"""filippo.io/age, the reference implementation of age-encryption.org/v1: the tests
decrypt the controller's archives with its ``age`` command (emergency decryption)."""
