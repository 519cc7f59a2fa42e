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
from k8ssnap.controllers import housekeeping
from k8ssnap.runtime.informer import Informer
from k8ssnap.runtime.source import ListPage
from k8ssnap.testing.fakesource import FakeListWatcher
from tests.unit.controllers.fakes import FakeKube
from tests.unit.runtime.test_leader import FakeLeaseClient


class StartUpBug(Exception):
    """Stands for any bug that escapes a start-up step of the leading task."""


def _manager(monkeypatch: pytest.MonkeyPatch, *argv: str) -> manager.Manager:
    def informer(self: manager.Manager, kind: constants.ResourceKind) -> Informer:
        source = FakeListWatcher()
        source.script_list(ListPage(items=[], resource_version="1", continue_token=""))
        return Informer(name=kind.plural, source=source)

    async def restore_snapshots(self: housekeeping.Housekeeper) -> int:
        raise StartUpBug("a stored record broke start-up")

    monkeypatch.setattr(manager.Manager, "_informer", informer)
    monkeypatch.setattr(housekeeping.Housekeeper, "restore_snapshots", restore_snapshots)
    monkeypatch.setattr(manager, "LeaseStore", lambda kube, namespace: FakeLeaseClient())
    kube = FakeKube({f"/api/v1/namespaces/{constants.DEFAULT_NAMESPACE}": {}})
    for kind in constants.KINDS:
        kube.objects[f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{kind.crd_name}"] = {}
    return manager.Manager(kube=kube, flags=flags.parse(list(argv)))


async def test_fault_12_the_leading_task_raises_its_real_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(StartUpBug, match="broke start-up"):
        await _manager(monkeypatch)._lead()


async def test_fault_12_a_failed_leading_task_ends_the_run_instead_of_campaigning_again(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    run = _manager(monkeypatch, "--leader-elect").run()

    with pytest.raises(StartUpBug):
        await asyncio.wait_for(run, timeout=10)
    assert "campaigning again" not in caplog.text


def test_fault_12_the_process_logs_the_traceback_and_exits_non_zero(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(flags: Any) -> None:
        raise StartUpBug("a stored record broke start-up")

    monkeypatch.setattr(controller, "_main", broken)
    monkeypatch.setattr(controller.logs, "setup", lambda _format: None)

    with caplog.at_level(logging.ERROR):
        assert controller.main([]) == 1

    [entry] = [r for r in caplog.records if r.exc_info]
    assert entry.exc_info is not None
    assert entry.exc_info[0] is StartUpBug
