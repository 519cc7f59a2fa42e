"""Manager: an error in the leading task is logged and ends the process; it is not lost leadership.

Issue 11, fault 12: the ``finally`` of the leading task raised CancelledError
over any real exception from its body, so the controller logged "lost
leadership; campaigning again" and the traceback was lost.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from k8ssnap.api import constants
from k8ssnap.app import controller, flags, manager
from k8ssnap.runtime.source import ListPage
from k8ssnap.testing.adapters import FakeStores
from k8ssnap.testing.fakesource import FakeListWatcher
from tests.unit.controllers.fakes import FakeKube, objectstore_config
from tests.unit.runtime.test_leader import FakeLeaseClient


class StartUpBug(Exception):
    """Stands for any bug that escapes a start-up step of the leading task."""


def _manager(*argv: str) -> manager.Manager:
    """A Manager over fakes: one ObjectstoreConfig, whose store breaks start-up's restore."""

    def source(kind: constants.ResourceKind) -> FakeListWatcher:
        items = [objectstore_config("store")] if kind == constants.OBJECTSTORE_CONFIG else []
        listing = FakeListWatcher()
        listing.script_list(ListPage(items=items, resource_version="1", continue_token=""))
        return listing

    stores = FakeStores()
    stores.refused["store"] = StartUpBug("a stored record broke start-up")
    kube = FakeKube({f"/api/v1/namespaces/{constants.DEFAULT_NAMESPACE}": {}})
    for kind in constants.KINDS:
        kube.objects[f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{kind.crd_name}"] = {}
    return manager.Manager(
        kube=kube,
        flags=flags.parse(list(argv)),
        sources=source,
        leases=FakeLeaseClient(),
        stores=stores,
    )


async def test_fault_12_the_leading_task_raises_its_real_error() -> None:
    with pytest.raises(StartUpBug, match="broke start-up"):
        await _manager()._lead()


async def test_fault_12_a_failed_leading_task_ends_the_run_instead_of_campaigning_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    run = _manager("--leader-elect").run()

    with pytest.raises(StartUpBug):
        await asyncio.wait_for(run, timeout=10)
    assert "campaigning again" not in caplog.text


def test_fault_12_the_process_logs_the_traceback_and_exits_non_zero(caplog: pytest.LogCaptureFixture) -> None:
    async def broken(flags: Any) -> None:
        raise StartUpBug("a stored record broke start-up")

    with caplog.at_level(logging.ERROR):
        assert controller.main([], run=broken, setup_logs=lambda _format: None) == 1

    [entry] = [r for r in caplog.records if r.exc_info]
    assert entry.exc_info is not None
    assert entry.exc_info[0] is StartUpBug
