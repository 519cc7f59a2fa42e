"""The reconciler fixtures (a world of fakes and its store opener), shared with the hostile tests."""

from tests.unit.controllers.conftest import store, w

__all__ = ["store", "w"]
