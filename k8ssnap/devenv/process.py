"""Child processes of the local environment: start, wait for ready, stop by group.

Every server runs in its own session (process group), so ``stop`` reaches
any helper processes it forked. Output goes to a log file that is kept
when a start fails, and the failure message quotes its tail.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

_handed_out: set[int] = set()


class StartError(RuntimeError):
    """A server did not become ready; the message names its log and quotes it."""


def free_port() -> int:
    """A loopback TCP port that is free now and not handed out before by this process."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        # keep clear of the +10000 offsets some servers derive for gRPC
        if port not in _handed_out and port + 10000 < 65536:
            _handed_out.add(port)
            return port
    raise StartError("no free loopback port found")


@dataclass(frozen=True, slots=True)
class ReadyCheck:
    """How to tell a server is ready: GET ``url`` answers with one of ``accept``."""

    url: str
    cafile: str | None = None
    insecure: bool = False
    accept: tuple[int, ...] = (200,)

    def __call__(self) -> bool:
        context: ssl.SSLContext | None = None
        if self.cafile:
            context = ssl.create_default_context(cafile=self.cafile)
        elif self.insecure:
            context = ssl._create_unverified_context()  # noqa: S323 - self-signed local servers
        return http_ok(self.url, context=context, accept=self.accept)


@dataclass(frozen=True, slots=True)
class Running:
    """A started server: enough to stop it, or to start it again identically."""

    name: str
    pgid: int
    log: Path
    argv: tuple[str, ...]
    ready: ReadyCheck


def launch(
    name: str,
    argv: list[str],
    *,
    log: Path,
    ready: ReadyCheck,
    timeout: float,
    env: Mapping[str, str] | None = None,
) -> Running:
    """Start ``argv`` in a new session and wait until ``ready`` passes.

    ``env`` adds to this process's environment. On failure the process group
    is stopped and :class:`StartError` quotes the log, which is kept.
    """
    running = start(name, argv, log=log, ready=ready, env=env)
    try:
        wait_ready(running, running.ready, timeout=timeout)
    except BaseException:
        stop(running.pgid)
        raise
    return running


def restart(running: Running, *, timeout: float = 180) -> Running:
    """Stop ``running`` and start the same command again (same ports, same data)."""
    stop(running.pgid)
    return launch(running.name, list(running.argv), log=running.log, ready=running.ready, timeout=timeout)


def start(
    name: str, argv: list[str], *, log: Path, ready: ReadyCheck, env: Mapping[str, str] | None = None
) -> Running:
    """Start ``argv`` in a new session, appending its output to ``log``; ``env`` adds to the environment."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **env} if env else None,
        )
    return Running(name=name, pgid=proc.pid, log=log, argv=tuple(argv), ready=ready)


def alive(pgid: int) -> bool:
    """Whether the group leader ``pgid`` still runs (and is not a zombie)."""
    try:
        os.kill(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(ChildProcessError):
        pid, _ = os.waitpid(pgid, os.WNOHANG)
        if pid == pgid:
            return False
    return True


def stop(pgid: int, *, grace: float = 10.0) -> None:
    """SIGTERM the whole group, then SIGKILL what is left after ``grace`` seconds."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not alive(pgid):
            break
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def tail(log: Path, chars: int = 4000) -> str:
    """The last ``chars`` characters of a log file ('' if missing)."""
    try:
        return log.read_text(errors="replace")[-chars:]
    except FileNotFoundError:
        return ""


def http_ok(url: str, *, context: ssl.SSLContext | None = None, accept: tuple[int, ...] = (200,)) -> bool:
    """Whether GET ``url`` answers with one of ``accept`` within 2 s."""
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as resp:  # noqa: S310
            return int(resp.status) in accept
    except urllib.error.HTTPError as err:
        return err.code in accept
    except (OSError, ssl.SSLError):
        return False


def wait_ready(running: Running, check: Callable[[], bool], *, timeout: float) -> None:
    """Poll ``check`` until it is true; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if not alive(running.pgid):
            raise StartError(f"{running.name} exited; log {running.log}:\n{tail(running.log)}")
        time.sleep(0.2)
    raise StartError(
        f"{running.name} not ready after {timeout:.0f} s; log {running.log}:\n{tail(running.log)}"
    )
