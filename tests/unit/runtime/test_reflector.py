"""The reflector's list/watch rules, against a scripted ListWatcher."""

from __future__ import annotations

from typing import Any

import pytest

from k8ssnap import errors
from k8ssnap.runtime.informer import Informer
from k8ssnap.runtime.source import ListPage, WatchEvent
from k8ssnap.testing.fakeclock import FakeClock
from k8ssnap.testing.fakesource import FakeListWatcher, ListCall, WatchCall, obj

Event = tuple[str, ...]


def rv(o: dict[str, Any]) -> str:
    return str(o["metadata"]["resourceVersion"])


def name(o: dict[str, Any]) -> str:
    return str(o["metadata"]["name"])


def make(clock: FakeClock, rand: float = 0.0) -> tuple[FakeListWatcher, Informer, list[Event]]:
    source = FakeListWatcher()
    informer = Informer(name="things", source=source, clock=clock, rand=lambda: rand)
    events: list[Event] = []
    informer.add_handler(
        on_add=lambda o: events.append(("add", name(o), rv(o))),
        on_update=lambda old, new: events.append(("update", name(new), rv(old), rv(new))),
        on_delete=lambda o: events.append(("delete", name(o), rv(o))),
    )
    return source, informer, events


def gone_status() -> WatchEvent:
    return WatchEvent("ERROR", {"kind": "Status", "code": 410, "reason": "Expired"})


async def test_first_list_is_rv_0_paginated_then_watch_from_list_rv(clock, spawn) -> None:
    source, informer, events = make(clock)
    source.script_list(
        ListPage([obj("a", "7"), obj("b", "8")], "10", "tok-1"),
        ListPage([obj("c", "9")], "10", ""),
    )
    spawn(informer.run())
    await clock.run_for(0)
    assert source.list_calls == [ListCall(500, "", "0"), ListCall(500, "tok-1", "")]
    assert source.watch_calls == [WatchCall("10", 300)]
    assert events == [("add", "a", "7"), ("add", "b", "8"), ("add", "c", "9")]
    assert informer.has_synced()
    assert informer.reflector.last_sync_resource_version == "10"


async def test_watch_events_apply_in_order_and_a_closed_watch_resumes_at_once(clock, spawn) -> None:
    source, informer, events = make(clock)
    source.script_list(ListPage([obj("a", "1")], "1"))
    source.script_watch(
        WatchEvent("ADDED", obj("b", "2")),
        WatchEvent("MODIFIED", obj("a", "3")),
        WatchEvent("MODIFIED", obj("a", "4")),
        WatchEvent("DELETED", obj("b", "5")),
        close=True,
    )
    spawn(informer.run())
    await clock.run_for(0)
    assert events == [
        ("add", "a", "1"),
        ("add", "b", "2"),
        ("update", "a", "1", "3"),
        ("update", "a", "3", "4"),
        ("delete", "b", "5"),
    ]
    assert [c.resource_version for c in source.watch_calls] == ["1", "5"]
    assert len(source.list_calls) == 1
    assert source.streams[0].closed


async def test_bookmark_only_advances_the_resource_version(clock, spawn) -> None:
    source, informer, events = make(clock)
    source.script_list(ListPage([obj("a", "1")], "1"))
    source.script_watch(WatchEvent("BOOKMARK", {"metadata": {"resourceVersion": "50"}}), close=True)
    spawn(informer.run())
    await clock.run_for(0)
    assert events == [("add", "a", "1")]
    assert informer.list() == [obj("a", "1")]
    assert [c.resource_version for c in source.watch_calls] == ["1", "50"]


@pytest.mark.parametrize("expiry", [errors.Gone("too old"), gone_status()], ids=["raised", "event"])
@pytest.mark.parametrize(("first_paginated", "relist_limit"), [(False, 0), (True, 500)])
async def test_watch_gone_relists_from_the_last_rv_after_backoff(
    clock, spawn, expiry, first_paginated: bool, relist_limit: int
) -> None:
    source, informer, _ = make(clock)
    if first_paginated:
        source.script_list(ListPage([], "5", "tok"), ListPage([obj("a", "5")], "5"))
    else:
        source.script_list(ListPage([obj("a", "5")], "5"))
    source.script_watch(WatchEvent("MODIFIED", obj("a", "6")), expiry)
    spawn(informer.run())
    await clock.run_for(0.79)
    calls_before = len(source.list_calls)
    await clock.run_for(0.01)  # the first backoff step is 0.8 s with no jitter
    assert source.list_calls[calls_before:] == [ListCall(relist_limit, "", "6")]


async def test_list_gone_falls_back_to_a_quorum_read_at_once(clock, spawn) -> None:
    source, informer, _ = make(clock)
    source.script_list(
        ListPage([obj("a", "5")], "5"),
        errors.Gone("compacted"),
        ListPage([obj("a", "9")], "9"),
        ListPage([obj("a", "9")], "11"),
    )
    source.script_watch(errors.Gone("expired"))
    source.script_watch(errors.Gone("expired again"))
    spawn(informer.run())
    await clock.run_for(0.8)
    assert source.list_calls == [
        ListCall(500, "", "0"),
        ListCall(0, "", "5"),  # relist from the last RV ...
        ListCall(0, "", ""),  # ... expired: quorum read, immediately
    ]
    await clock.run_for(1.6)
    assert source.list_calls[3] == ListCall(0, "", "9")  # flag cleared by the successful list


async def test_first_list_gone_retries_with_empty_rv(clock, spawn) -> None:
    source, informer, _ = make(clock)
    source.script_list(errors.Gone("no cache"), ListPage([], "3"))
    spawn(informer.run())
    await clock.run_for(0)
    assert source.list_calls == [ListCall(500, "", "0"), ListCall(500, "", "")]
    assert informer.has_synced()


async def test_expired_continue_token_falls_back_to_a_full_list(clock, spawn) -> None:
    source, informer, events = make(clock)
    source.script_list(
        ListPage([obj("a", "1")], "4", "tok"),
        errors.Gone("continue expired"),
        ListPage([obj("a", "1"), obj("b", "2")], "4"),
    )
    spawn(informer.run())
    await clock.run_for(0)
    assert source.list_calls == [
        ListCall(500, "", "0"),
        ListCall(500, "tok", ""),
        ListCall(0, "", "0"),
    ]
    assert sorted(e[1] for e in events) == ["a", "b"]


@pytest.mark.parametrize(
    "failure",
    [
        errors.ApiRetriable("connection reset"),
        WatchEvent("ERROR", {"kind": "Status", "code": 500, "message": "etcd"}),
        WatchEvent("ERROR", {"kind": "Status", "code": 429, "message": "slow down"}),
    ],
    ids=["connection-lost", "status-500", "status-429"],
)
async def test_retriable_watch_failures_back_off_and_rewatch_without_relist(clock, spawn, failure) -> None:
    source, informer, _ = make(clock)
    source.script_list(ListPage([obj("a", "5")], "5"))
    for _ in range(3):
        source.script_watch(failure)
    spawn(informer.run())
    counts = []
    for at in [0.8, 2.4, 5.6]:  # backoff 0.8 s doubling, no jitter
        await clock.run_for(at - 0.001 - clock.now())
        counts.append(len(source.watch_calls))
        await clock.run_for(0.002)
        counts.append(len(source.watch_calls))
    assert counts == [1, 2, 2, 3, 3, 4]
    assert {c.resource_version for c in source.watch_calls} == {"5"}
    assert len(source.list_calls) == 1


async def test_backoff_resets_after_two_quiet_minutes(clock, spawn) -> None:
    source, informer, _ = make(clock)
    source.script_list(ListPage([], "5"))
    source.script_watch(errors.ApiRetriable("lost"))
    source.script_watch(errors.ApiRetriable("lost"))
    spawn(informer.run())
    await clock.run_for(0.8 + 1.6)
    assert len(source.watch_calls) == 3
    await clock.run_for(200)  # a long quiet watch
    source.emit(errors.ApiRetriable("lost again"))
    await clock.run_for(0.8)
    assert len(source.watch_calls) == 4  # back to 0.8 s, not 3.2 s


async def test_relist_replaces_the_cache_with_synthetic_deletes(clock, spawn) -> None:
    source, informer, events = make(clock)
    source.script_list(
        ListPage([obj("a", "1"), obj("b", "2"), obj("c", "3")], "3"),
        ListPage([obj("a", "1"), obj("b", "5"), obj("d", "6")], "6"),
    )
    source.script_watch(errors.Gone("expired"))
    spawn(informer.run())
    await clock.run_for(0)
    events.clear()
    await clock.run_for(0.8)
    assert events == [("update", "b", "2", "5"), ("add", "d", "6"), ("delete", "c", "3")]
    assert sorted(k.name for k in informer.list_keys()) == ["a", "b", "d"]


async def test_no_change_is_handled_twice(clock, spawn) -> None:
    source, informer, events = make(clock)
    source.script_list(ListPage([obj("a", "1")], "1"))
    source.script_watch(
        WatchEvent("ADDED", obj("a", "1")),  # already cached at this RV
        WatchEvent("MODIFIED", obj("a", "1")),
        WatchEvent("DELETED", obj("ghost", "2")),  # never cached
        WatchEvent("MODIFIED", obj("a", "3")),
        WatchEvent("DELETED", obj("a", "4")),
        WatchEvent("DELETED", obj("a", "4")),
    )
    spawn(informer.run())
    await clock.run_for(0)
    assert events == [("add", "a", "1"), ("update", "a", "1", "3"), ("delete", "a", "4")]


async def test_an_empty_watch_that_ends_at_once_leads_to_a_relist(clock, spawn) -> None:
    source, informer, _ = make(clock)
    source.script_list(ListPage([], "5"), ListPage([], "5"))
    source.script_watch(close=True)
    spawn(informer.run())
    await clock.run_for(0.8)
    assert len(source.list_calls) == 2
    assert len(source.watch_calls) == 2


async def test_list_failure_backs_off_and_lists_again(clock, spawn) -> None:
    source, informer, _ = make(clock)
    source.script_list(errors.ApiRetriable("503"), ListPage([], "2"))
    spawn(informer.run())
    await clock.run_for(0.79)
    assert not informer.has_synced()
    await clock.run_for(0.01)
    assert source.list_calls == [ListCall(500, "", "0"), ListCall(500, "", "0")]
    assert informer.has_synced()


@pytest.mark.parametrize(("rand", "timeout"), [(0.0, 300), (0.5, 450), (0.9999, 599)])
async def test_watch_timeout_is_random_between_5_and_10_minutes(
    clock, spawn, rand: float, timeout: int
) -> None:
    source, informer, _ = make(clock, rand=rand)
    source.script_list(ListPage([], "1"))
    spawn(informer.run())
    await clock.run_for(0)
    assert source.watch_calls == [WatchCall("1", timeout)]
