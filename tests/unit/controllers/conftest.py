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
