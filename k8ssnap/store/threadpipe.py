"""A blocking stream transformation run in a worker thread, bridged to asyncio.

``work(reader, writer)`` is any blocking function that reads a file-like
input and writes a file-like output (here: pyrage's ``encrypt_io`` and
``decrypt_io``). :class:`ThreadPipe` runs it in one daemon thread:

* the loop hands input chunks to the thread through a bounded queue
  (``depth`` chunks; :meth:`ThreadPipe.feed` waits while it is full);
* the thread collects its output into chunks of :data:`FLUSH` bytes and
  hands each to ``sink`` (a coroutine run on the loop), waiting until the
  sink has taken it.

So memory is bounded by ``depth`` input chunks plus two output chunks
whatever the stream's length, and a slow sink slows the producer down.
The sha256 and size of the input (``digest="in"``) or of the output
(``"out"``) are kept. An exception raised by ``sink`` reaches the loop as
itself; anything ``work`` raises otherwise arrives as :class:`WorkFailed`.
:meth:`ThreadPipe.abort` stops the thread wherever it waits.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import io
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Final

FLUSH: Final = 1 << 20
"""Bytes the worker thread collects before handing them to the loop."""
DEPTH: Final = 4
"""Chunks that may wait for the worker thread."""


class _Aborted(Exception):
    """The loop side gave up; the worker thread stops."""


class WorkFailed(Exception):
    """``work`` raised (pyrage: its own errors, or OSError from inside a stream); the text is its message."""


_EOF: Final = b""


class ThreadPipe:
    """Runs ``work(reader, writer)`` in a thread (see the module docstring).

    ``feed``, ``finish`` and ``abort`` are called from the loop; ``sink`` is
    awaited on the loop with each output chunk, one at a time.
    """

    def __init__(
        self,
        *,
        work: Callable[[io.RawIOBase, io.RawIOBase], None],
        sink: Callable[[bytes], Coroutine[Any, Any, None]],
        digest: str,
        depth: int = DEPTH,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._inbox: asyncio.Queue[bytes] = asyncio.Queue(maxsize=depth)
        self._done: asyncio.Future[None] = self._loop.create_future()
        self._done.add_done_callback(self._drain)
        self._sink = sink
        self._work = work
        self._hash = hashlib.sha256()
        self._hash_input = digest == "in"
        self.size = 0
        self._failure: BaseException | None = None
        self._aborted = threading.Event()
        self._pending: concurrent.futures.Future[Any] | None = None
        self._thread = threading.Thread(target=self._main, name="k8ssnap-threadpipe", daemon=True)
        self._thread.start()

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    # loop side

    async def feed(self, chunk: bytes) -> None:
        """Hand ``chunk`` to the thread (waits while ``depth`` chunks are queued)."""
        if self._done.done():
            self._done.result()
            raise RuntimeError("fed after the end")
        if chunk:
            await self._inbox.put(chunk)

    async def finish(self) -> None:
        """Signal the end of the input and wait for the thread; raise what it raised."""
        if not self._done.done():
            await self._inbox.put(_EOF)
        await asyncio.shield(self._done)

    async def abort(self) -> None:
        """Stop the thread (best effort, idempotent)."""
        self._aborted.set()
        pending = self._pending
        if pending is not None:
            pending.cancel()
        self._drain(None)
        with contextlib.suppress(asyncio.QueueFull):
            self._inbox.put_nowait(_EOF)
        with contextlib.suppress(BaseException):
            await asyncio.shield(self._done)

    def _drain(self, _: object) -> None:
        while not self._inbox.empty():
            self._inbox.get_nowait()

    # thread side

    def _call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        if self._aborted.is_set():
            coro.close()
            raise _Aborted
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        self._pending = future
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            raise _Aborted from None
        finally:
            self._pending = None

    def _main(self) -> None:
        reader, writer = _Reader(self), _Writer(self)
        outcome: BaseException | None = None
        try:
            self._work(reader, writer)
            writer.flush_all()
        except BaseException as exc:  # handed to the loop, raised there
            outcome = self._failure or WorkFailed(str(exc) or type(exc).__name__)
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            self._loop.call_soon_threadsafe(self._settle, outcome)

    def _settle(self, outcome: BaseException | None) -> None:
        if self._done.done():
            return
        if outcome is None:
            self._done.set_result(None)
        else:
            self._done.set_exception(outcome)

    def _next_input(self) -> bytes:
        try:
            chunk: bytes = self._call(self._inbox.get())
        except BaseException as exc:
            self._failure = self._failure or exc
            raise
        if self._aborted.is_set():
            raise _Aborted
        if self._hash_input:
            self._hash.update(chunk)
            self.size += len(chunk)
        return chunk

    def _output(self, data: bytes) -> None:
        if not self._hash_input:
            self._hash.update(data)
            self.size += len(data)
        try:
            self._call(self._sink(data))
        except BaseException as exc:
            self._failure = self._failure or exc
            raise


class _Reader(io.RawIOBase):
    """The thread's view of the loop's chunks."""

    def __init__(self, bridge: ThreadPipe) -> None:
        self._bridge = bridge
        self._buffer = memoryview(b"")
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer and not self._eof:
            chunk = self._bridge._next_input()
            self._eof = not chunk
            self._buffer = memoryview(chunk)
        count = min(len(target), len(self._buffer))
        target[:count] = self._buffer[:count]
        self._buffer = self._buffer[count:]
        return count


class _Writer(io.RawIOBase):
    """Collects the thread's output into chunks of :data:`FLUSH` bytes for the loop."""

    def __init__(self, bridge: ThreadPipe) -> None:
        self._bridge = bridge
        self._buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._buffer += data
        if len(self._buffer) >= FLUSH:
            self.flush_all()
        return len(data)

    def flush_all(self) -> None:
        if self._buffer:
            data = bytes(self._buffer)
            self._buffer.clear()
            self._bridge._output(data)
