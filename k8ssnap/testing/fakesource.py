"""A scripted :class:`~k8ssnap.runtime.source.ListWatcher` for tests.

The test queues what the "API server" will answer, runs an informer or
reflector against it, and then asserts on the recorded calls:

* :meth:`FakeListWatcher.script_list` queues answers to ``list`` calls (a
  :class:`~k8ssnap.runtime.source.ListPage`, or an exception to raise).
* :meth:`FakeListWatcher.script_watch` queues one watch stream: its events
  in order, where an exception step is raised from the stream; after the
  last step the stream either ends (``close=True``, as when the server's
  timeout expires) or stays open, idle, so the test can :meth:`emit` more.
* A ``list`` or ``watch`` with nothing scripted *blocks* (a ``list`` never
  returns; a ``watch`` opens an idle stream) rather than failing, so the
  system under test settles and the test can look at it.

Every call is recorded in :attr:`FakeListWatcher.list_calls` and
:attr:`FakeListWatcher.watch_calls`; :attr:`FakeListWatcher.api_calls`
counts both (use it to prove that something made no API traffic).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Any

from k8ssnap.runtime.source import ListPage, WatchEvent

Step = WatchEvent | Exception


@dataclass(frozen=True, slots=True)
class ListCall:
    limit: int
    continue_token: str
    resource_version: str


@dataclass(frozen=True, slots=True)
class WatchCall:
    resource_version: str
    timeout_seconds: int


class _End:
    """Marks the end of a scripted stream."""


_END = _End()


class FakeWatchStream:
    """One watch stream: an async iterator over queued steps."""

    def __init__(self, call: WatchCall, steps: tuple[Step, ...], *, close: bool) -> None:
        self.call = call
        self._items: deque[Step | _End] = deque(steps)
        if close:
            self._items.append(_END)
        self._waiter: asyncio.Future[None] | None = None
        self.ended = False
        self.closed = False

    def emit(self, *steps: Step) -> None:
        """Deliver more steps on this (open) stream."""
        self._items.extend(steps)
        self._wake()

    def end(self) -> None:
        """End the stream normally after what is queued."""
        self._items.append(_END)
        self._wake()

    def __aiter__(self) -> FakeWatchStream:
        return self

    async def __anext__(self) -> WatchEvent:
        while not self._items and not self.ended:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self.ended:
            raise StopAsyncIteration
        item = self._items.popleft()
        if isinstance(item, _End):
            self.ended = True
            raise StopAsyncIteration
        if isinstance(item, Exception):
            self.ended = True
            raise item
        return item

    async def aclose(self) -> None:
        self.ended = True
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class FakeListWatcher:
    """A scripted LIST/WATCH source; see the module docstring."""

    def __init__(self) -> None:
        self.list_calls: list[ListCall] = []
        self.watch_calls: list[WatchCall] = []
        self.streams: list[FakeWatchStream] = []
        self._lists: deque[ListPage | Exception] = deque()
        self._watches: deque[tuple[tuple[Step, ...], bool]] = deque()

    def script_list(self, *results: ListPage | Exception) -> None:
        """Queue answers for the next ``list`` calls."""
        self._lists.extend(results)

    def script_watch(self, *steps: Step, close: bool = False) -> None:
        """Queue one watch stream (see the module docstring)."""
        self._watches.append((steps, close))

    @property
    def api_calls(self) -> int:
        return len(self.list_calls) + len(self.watch_calls)

    @property
    def current(self) -> FakeWatchStream:
        """The most recently opened watch stream."""
        if not self.streams:
            raise LookupError("no watch has been opened")
        return self.streams[-1]

    def emit(self, *steps: Step) -> None:
        """Deliver steps on the most recently opened watch stream."""
        self.current.emit(*steps)

    async def list(self, *, limit: int, continue_token: str, resource_version: str) -> ListPage:
        self.list_calls.append(ListCall(limit, continue_token, resource_version))
        if not self._lists:
            await asyncio.get_running_loop().create_future()  # unscripted: block until cancelled
        result = self._lists.popleft()
        if isinstance(result, Exception):
            raise result
        return result

    def watch(self, *, resource_version: str, timeout_seconds: int) -> FakeWatchStream:
        call = WatchCall(resource_version, timeout_seconds)
        self.watch_calls.append(call)
        steps, close = self._watches.popleft() if self._watches else ((), False)
        stream = FakeWatchStream(call, steps, close=close)
        self.streams.append(stream)
        return stream


def obj(name: str, resource_version: str, *, namespace: str = "default", **extra: Any) -> dict[str, Any]:
    """A minimal raw object for tests."""
    meta = {"name": name, "namespace": namespace, "resourceVersion": resource_version}
    return {"metadata": meta, **extra}
