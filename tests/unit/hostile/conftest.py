"""Fixtures of the hostile-input tests: the reconciler fakes, and a local HTTPS API server."""

from tests.unit.controllers.conftest import store, w
from tests.unit.hostile.tlsserver import apiserver, pki

__all__ = ["apiserver", "pki", "store", "w"]
