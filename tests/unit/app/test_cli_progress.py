"""Progress lines: throttled, redrawn in place on a terminal, silent when off."""

from __future__ import annotations

import io

from k8ssnap.app.cli_progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_terminal_progress_redraws_one_line_at_most_every_interval() -> None:
    stream, clock = io.StringIO(), Clock()
    progress = Progress(stream, enabled=True, tty=True, interval=1.0, clock=clock)
    progress.show("1 objects")
    clock.now = 0.5
    progress.show("2 objects")  # too soon: held back
    assert stream.getvalue() == "\r1 objects\x1b[K"
    clock.now = 1.0
    progress.show("3 objects")
    clock.now = 1.1
    progress.show("4 objects")
    progress.done()
    assert stream.getvalue() == "\r1 objects\x1b[K\r3 objects\x1b[K\r4 objects\x1b[K\n"


def test_log_progress_writes_whole_lines_less_often() -> None:
    stream, clock = io.StringIO(), Clock()
    progress = Progress(stream, enabled=True, tty=False, interval=0.1, log_interval=10.0, clock=clock)
    for second in range(25):
        clock.now = float(second)
        progress.show(f"{second} objects")
    progress.done()
    assert stream.getvalue().splitlines() == ["0 objects", "10 objects", "20 objects", "24 objects"]


def test_disabled_progress_prints_nothing() -> None:
    stream = io.StringIO()
    progress = Progress(stream, enabled=False, tty=True)
    progress.show("1 objects", force=True)
    progress.done()
    assert stream.getvalue() == ""


def test_done_without_updates_prints_nothing() -> None:
    stream = io.StringIO()
    Progress(stream, enabled=True, tty=True).done()
    assert stream.getvalue() == ""
