"""Progress of long CLI operations on one line of stderr.

On a terminal the line is redrawn in place (``\\r``) at most every
``interval`` seconds; elsewhere (``--progress`` into a log file) each
update is a line of its own, at most every ``log_interval`` seconds. A
disabled Progress prints nothing, so callers never check.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

_CLEAR_LINE = "\x1b[K"


class Progress:
    """Throttled status text; :meth:`done` ends the line."""

    def __init__(
        self,
        stream: TextIO,
        *,
        enabled: bool,
        tty: bool,
        interval: float = 0.2,
        log_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._enabled = enabled
        self._tty = tty
        self._interval = interval if tty else log_interval
        self._clock = clock
        self._last: float | None = None
        self._pending = ""

    def show(self, text: str, *, force: bool = False) -> None:
        """Show ``text`` unless the last update is too recent (``force`` shows it anyway)."""
        if not self._enabled:
            return
        now = self._clock()
        if not force and self._last is not None and now - self._last < self._interval:
            self._pending = text
            return
        self._last = now
        self._pending = ""
        if self._tty:
            self._stream.write(f"\r{text}{_CLEAR_LINE}")
        else:
            self._stream.write(f"{text}\n")
        self._stream.flush()

    def done(self) -> None:
        """Show the last text held back by throttling, and end the line."""
        if not self._enabled:
            return
        if self._pending:
            self.show(self._pending, force=True)
        if self._tty and self._last is not None:
            self._stream.write("\n")
            self._stream.flush()
