"""Fixtures of the hostile-input tests."""

from tests.unit.hostile.tlsserver import apiserver, pki

__all__ = ["apiserver", "pki"]
