"""The reconciler fixtures (a world of fakes, a patched ``open_store``), shared with the hostile tests."""

from tests.unit.controllers.conftest import store, w

__all__ = ["store", "w"]
