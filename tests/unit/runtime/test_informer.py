"""The informer's cache, handlers, sync state and resync."""

from __future__ import annotations

import pytest

from k8ssnap import errors
from k8ssnap.runtime.informer import Informer
from k8ssnap.runtime.source import ListPage, ListWatcher, ObjectKey, WatchEvent, key_of
from k8ssnap.testing.fakeclock import FakeClock, settle
from k8ssnap.testing.fakesource import FakeListWatcher, obj


def make(clock: FakeClock, *, resync: float = 0.0) -> tuple[FakeListWatcher, Informer]:
    source = FakeListWatcher()
    typed: ListWatcher = source  # the fake satisfies the Protocol
    informer = Informer(name="things", source=typed, clock=clock, resync_period=resync, rand=lambda: 0.0)
    return source, informer


async def test_sync_state_and_cache_reads(clock, spawn) -> None:
    source, informer = make(clock)
    source.script_list(
        errors.ApiRetriable("down"),
        ListPage([obj("a", "1"), obj("b", "2", namespace="other"), obj("n", "3", namespace="")], "3"),
    )
    spawn(informer.run())
    waiter = spawn(informer.wait_for_sync())
    await clock.run_for(0.5)
    assert not informer.has_synced()
    assert not waiter.done()
    await clock.run_for(0.3)
    assert informer.has_synced()
    assert waiter.done()
    assert informer.get(ObjectKey("other", "b")) == obj("b", "2", namespace="other")
    assert informer.get(ObjectKey("default", "b")) is None
    assert informer.get(ObjectKey("", "n")) is not None
    assert sorted(str(k) for k in informer.list_keys()) == ["default/a", "n", "other/b"]
    assert len(informer.list()) == len(informer) == 3


async def test_late_handler_is_told_about_cached_objects(clock, spawn) -> None:
    source, informer = make(clock)
    source.script_list(ListPage([obj("a", "1"), obj("b", "2")], "2"))
    spawn(informer.run())
    await settle()
    seen: list[str] = []
    informer.add_handler(on_add=lambda o: seen.append(str(key_of(o))))
    assert sorted(seen) == ["default/a", "default/b"]


async def test_a_failing_handler_does_not_stop_the_others(clock, spawn) -> None:
    source, informer = make(clock)
    source.script_list(ListPage([obj("a", "1")], "1"))

    def explode(o: dict) -> None:
        raise RuntimeError("handler bug")

    seen: list[str] = []
    informer.add_handler(on_add=explode)
    informer.add_handler(on_add=lambda o: seen.append(o["metadata"]["name"]))
    spawn(informer.run())
    await settle()
    source.emit(WatchEvent("ADDED", obj("b", "2")))
    await settle()
    assert seen == ["a", "b"]
    assert informer.reflector.last_sync_resource_version == "2"


async def test_events_of_one_object_keep_their_order(clock, spawn) -> None:
    source, informer = make(clock)
    source.script_list(ListPage([obj("a", "1")], "1"))
    versions: list[tuple[str, str]] = []
    informer.add_handler(
        on_update=lambda old, new: versions.append(
            (old["metadata"]["resourceVersion"], new["metadata"]["resourceVersion"])
        )
    )
    spawn(informer.run())
    await settle()
    source.emit(*(WatchEvent("MODIFIED", obj("a", str(v))) for v in range(2, 7)))
    await settle()
    assert versions == [("1", "2"), ("2", "3"), ("3", "4"), ("4", "5"), ("5", "6")]


@pytest.mark.parametrize(("elapsed", "expected_rounds"), [(29.9, 0), (30.0, 1), (95.0, 3)])
async def test_resync_replays_the_cache_without_api_calls(
    clock, spawn, elapsed: float, expected_rounds: int
) -> None:
    source, informer = make(clock, resync=30.0)
    source.script_list(ListPage([obj("a", "1"), obj("b", "2")], "2"))
    updates: list[tuple[str, str, bool]] = []
    informer.add_handler(
        on_update=lambda old, new: updates.append(
            (new["metadata"]["name"], new["metadata"]["resourceVersion"], old is new)
        )
    )
    spawn(informer.run())
    await settle()
    calls = source.api_calls
    await clock.run_for(elapsed)
    assert source.api_calls == calls
    assert updates == [("a", "1", True), ("b", "2", True)] * expected_rounds


async def test_no_resync_before_the_first_list(clock, spawn) -> None:
    _source, informer = make(clock, resync=1.0)
    updates: list[object] = []
    informer.add_handler(on_update=lambda old, new: updates.append(new))
    spawn(informer.run())  # the list never answers
    await clock.run_for(5)
    assert updates == []
    assert not informer.has_synced()
