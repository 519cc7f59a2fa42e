"""Every rule of the work queue contract."""

from __future__ import annotations

import asyncio

import pytest

from k8ssnap.runtime.queue import WorkQueue
from k8ssnap.testing.fakeclock import settle


async def drain(queue: WorkQueue[str]) -> list[str]:
    """Get and finish everything queued right now."""
    items = []
    while len(queue):
        item, shutdown = await queue.get()
        assert not shutdown and item is not None
        items.append(item)
        queue.done(item)
    return items


@pytest.mark.parametrize(
    ("adds", "expected"),
    [
        (["a", "b", "c"], ["a", "b", "c"]),
        (["a", "a", "a"], ["a"]),
        (["a", "b", "a", "c", "b"], ["a", "b", "c"]),
    ],
)
async def test_fifo_and_duplicates_collapse(adds: list[str], expected: list[str]) -> None:
    queue: WorkQueue[str] = WorkQueue()
    for item in adds:
        queue.add(item)
    assert len(queue) == len(expected)
    assert await drain(queue) == expected


async def test_add_while_processing_requeues_once_after_done() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    item, _ = await queue.get()
    assert item == "a"
    queue.add("a")
    queue.add("a")
    assert len(queue) == 0  # held by a worker: only marked dirty
    queue.done("a")
    assert len(queue) == 1
    assert await drain(queue) == ["a"]
    assert len(queue) == 0


async def test_done_without_new_add_does_not_requeue() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    await queue.get()
    queue.done("a")
    assert len(queue) == 0
    assert queue.processing == 0


async def test_two_workers_never_hold_the_same_item(spawn) -> None:
    queue: WorkQueue[str] = WorkQueue()
    holding: list[str] = []
    release = asyncio.Event()
    overlaps = 0

    async def worker() -> None:
        nonlocal overlaps
        while True:
            item, shutdown = await queue.get()
            if shutdown:
                return
            assert item is not None
            overlaps += item in holding
            holding.append(item)
            await release.wait()
            holding.remove(item)
            queue.done(item)

    spawn(worker())
    spawn(worker())
    queue.add("a")
    await settle()
    queue.add("a")
    await settle()
    assert holding == ["a"]  # the second worker did not get "a"
    release.set()
    await settle()
    assert overlaps == 0
    assert holding == []
    assert len(queue) == 0 and queue.processing == 0


async def test_get_blocks_until_an_item_arrives(spawn) -> None:
    queue: WorkQueue[str] = WorkQueue()
    getter = spawn(queue.get())
    await settle()
    assert not getter.done()
    queue.add("x")
    await settle()
    assert getter.result() == ("x", False)


async def test_a_wake_up_is_not_lost_when_the_woken_getter_is_cancelled(spawn) -> None:
    queue: WorkQueue[str] = WorkQueue()
    first = spawn(queue.get())
    second = spawn(queue.get())
    await settle()
    queue.add("x")  # wakes the first getter ...
    first.cancel()  # ... which is cancelled before it runs
    await settle()
    assert first.cancelled()
    assert second.result() == ("x", False)


async def test_add_after_shutdown_is_ignored() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.shut_down()
    queue.add("a")
    assert len(queue) == 0
    assert await queue.get() == (None, True)


async def test_shutdown_lets_workers_drain_then_reports_shutdown() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    queue.add("b")
    queue.shut_down()
    assert queue.shutting_down
    assert await queue.get() == ("a", False)
    assert await queue.get() == ("b", False)
    assert await queue.get() == (None, True)


async def test_shutdown_wakes_every_waiting_getter(spawn) -> None:
    queue: WorkQueue[str] = WorkQueue()
    getters = [spawn(queue.get()) for _ in range(3)]
    await settle()
    queue.shut_down()
    await settle()
    assert [g.result() for g in getters] == [(None, True)] * 3


async def test_shutdown_with_drain_waits_for_processing(spawn) -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    queue.add("b")
    await queue.get()
    await queue.get()
    drain_task = spawn(queue.shut_down_with_drain())
    await settle()
    assert not drain_task.done()
    queue.done("a")
    await settle()
    assert not drain_task.done()
    queue.done("b")
    await settle()
    assert drain_task.done()


async def test_drain_ends_when_the_last_item_is_done_even_if_it_was_added_again(spawn) -> None:
    """An item re-added while processing goes back on the FIFO at done(); processing is then
    empty and the drain must end (workers, not the drain, deal with the FIFO)."""
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    await queue.get()
    queue.add("a")  # dirty while processing
    drain_task = spawn(queue.shut_down_with_drain())
    await settle()
    assert not drain_task.done()
    queue.done("a")
    await settle()
    assert drain_task.done()
    assert (queue.processing, len(queue)) == (0, 1)


async def test_shutdown_with_drain_returns_at_once_when_idle() -> None:
    queue: WorkQueue[str] = WorkQueue()
    await queue.shut_down_with_drain()
    assert queue.shutting_down


async def test_plain_shutdown_releases_a_waiting_drain(spawn) -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    await queue.get()
    drain_task = spawn(queue.shut_down_with_drain())
    await settle()
    assert not drain_task.done()
    queue.shut_down()
    await settle()
    assert drain_task.done()
    assert queue.processing == 1


async def test_repr_shows_state() -> None:
    queue: WorkQueue[str] = WorkQueue(name="things")
    queue.add("a")
    assert repr(queue) == "<WorkQueue things queued=1 processing=0 dirty=1>"
