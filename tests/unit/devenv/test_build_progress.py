"""A cold build says what it builds and how long it has taken, and stops its child on failure."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from k8ssnap.devenv import build


def test_a_long_build_reports_elapsed_time_until_it_ends(tmp_path: Path) -> None:
    """The child waits until the progress report has been said twice: no sleep, a condition."""
    go_on = tmp_path / "go-on"
    child = f"import pathlib, time\nwhile not pathlib.Path({str(go_on)!r}).exists(): time.sleep(0.01)"
    said: list[str] = []

    def say(message: str) -> None:
        said.append(message)
        if len(said) == 2:
            go_on.touch()

    log_file = tmp_path / "x.build.log"
    build._run(
        [sys.executable, "-c", child], cwd=tmp_path, log_file=log_file, what="thing", every=0.01, say=say
    )
    assert len(said) >= 2
    assert all(m.startswith("still building thing: 0:0") and m.endswith(" elapsed") for m in said)


def test_a_failed_build_raises_with_the_log_tail(tmp_path: Path) -> None:
    log_file = tmp_path / "x.build.log"
    code = "import sys; print('compile error in foo.go'); sys.exit(3)"
    with pytest.raises(build.BuildError, match=r"exit 3:\n(.|\n)*compile error in foo.go"):
        build._run(
            [sys.executable, "-c", code], cwd=tmp_path, log_file=log_file, what="thing", say=lambda _: None
        )


def test_elapsed_reads_as_minutes_and_seconds() -> None:
    assert [build._elapsed(s) for s in (0, 59.9, 61, 754)] == ["0:00", "0:59", "1:01", "12:34"]
