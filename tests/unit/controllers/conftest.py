"""Fixtures for the reconciler tests: a world of fakes, its store opener and bucket."""

from __future__ import annotations

import pytest

from k8ssnap.testing.adapters import FakeStores
from tests.unit.controllers.fakes import World, world


@pytest.fixture
def store() -> FakeStores:
    """The store opener of ``w``: one in-memory bucket (``store.bucket``) at prefix ``team/``.

    ``store.opened`` lists the ObjectstoreConfig names asked for; a name in
    ``store.refused`` raises the error it maps to instead.
    """
    return FakeStores(prefix="team/")


@pytest.fixture
def w(store: FakeStores) -> World:
    return world(stores=store)


@pytest.fixture(autouse=True)
def plain_store_configs(monkeypatch: pytest.MonkeyPatch) -> None:
    """``objectstores.config_for`` (which the encryption lookup reads) answers a config without
    ``spec.encryption``, as the fake store opener answers for any name; tests of encryption
    patch it themselves (tests/unit/controllers/test_encryption.py)."""
    from k8ssnap.api.resources import ObjectstoreConfig, parse_objectstore_config
    from k8ssnap.controllers import objectstores
    from k8ssnap.controllers.context import Context

    async def config_for(ctx: Context, name: str | None) -> ObjectstoreConfig:
        spec = {"bucket": "bkt", "cloudCredentialSecret": "creds"}
        meta = {"name": name or "only", "namespace": "ns"}
        return parse_objectstore_config({"metadata": meta, "spec": spec})

    monkeypatch.setattr(objectstores, "config_for", config_for)
