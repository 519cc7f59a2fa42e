"""Fixtures for the reconciler tests: a world of fakes and a patched ``open_store``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from k8ssnap.controllers import objectstores
from k8ssnap.controllers.context import Context
from tests.unit.controllers.fakes import FakeStore, World, world


@pytest.fixture
def w() -> World:
    return world()


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> FakeStore:
    """A FakeStore that ``objectstores.open_store`` yields for every ObjectstoreConfig.

    ``store.opened`` lists the names asked for; a name in ``store.refused``
    raises the error it maps to instead.
    """
    fake = FakeStore(prefix="team/")

    @asynccontextmanager
    async def open_store(ctx: Context, name: str | None, **_: object) -> AsyncIterator[tuple[FakeStore, str]]:
        fake.opened.append(name)
        if name in fake.refused:
            raise fake.refused[name]
        yield fake, fake.prefix

    monkeypatch.setattr(objectstores, "open_store", open_store)
    return fake
