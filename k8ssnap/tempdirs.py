"""k8ssnap's temporary files and directories: how they are named, and the sweep of stale ones.

A restore spools to ``k8ssnap-restore-*``, a kubeconfig from a custom
resource puts its certificates in ``k8ssnap-kc-*``, and a store's CA bundle
is ``k8ssnap-ca-*.pem``. Each is removed when its user is done with it, but
a process killed with ``kill -9`` (or by the OOM killer) leaves them
behind, one spool per interrupted restore, sometimes holding a client key.

Names carry the creating process's pid: ``k8ssnap-<kind>-<pid>-<random>``.
:func:`sweep`, called once when the controller starts and before it
creates any, removes an entry of the system temporary directory when all
of these hold:

* its name is ``k8ssnap-restore-``, ``k8ssnap-kc-`` or ``k8ssnap-ca-`` and
  the rest of the pattern above (nobody else's files);
* it belongs to the controller's own user and is a plain directory or
  file (never a symbolic link);
* it is stale: the pid in its name is no running process, or is this very
  process (a restarted container reuses pid 1, and at start-up this
  process has made nothing yet); a name without a pid (made by an older
  k8ssnap) is stale once unmodified for :data:`~k8ssnap.limits.STALE_TEMP_AGE`.

A live process's entries are never touched, so two controllers (or a
controller and the CLI) sharing one ``/tmp`` do not disturb each other.

Stdlib only: every layer may import it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from k8ssnap import limits

_NAME: Final = re.compile(r"^k8ssnap-(?:restore|kc|ca)-(?:(?P<pid>\d+)-)?[A-Za-z0-9_]+(?:\.pem)?$")


def prefix(kind: str) -> str:
    """The ``prefix`` to give ``tempfile`` for a ``kind`` entry made by this process."""
    return f"k8ssnap-{kind}-{os.getpid()}-"


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive, and not ours to judge
    return True


def sweep(
    *,
    root: Path | None = None,
    now: float | None = None,
    own_pid: int | None = None,
    alive: Callable[[int], bool] = pid_alive,
) -> list[Path]:
    """Remove stale k8ssnap temporary entries under ``root`` (see the module rule); return them."""
    root = Path(tempfile.gettempdir()) if root is None else root
    now = time.time() if now is None else now
    own_pid = os.getpid() if own_pid is None else own_pid
    removed: list[Path] = []
    try:
        names = os.listdir(root)
    except OSError:
        return removed
    for name in names:
        match = _NAME.match(name)
        if match is None:
            continue
        path = root / name
        try:
            info = path.lstat()
        except OSError:
            continue
        if info.st_uid != os.getuid() or not (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)):
            continue
        pid = match["pid"]
        if pid is None:
            stale = now - info.st_mtime > limits.STALE_TEMP_AGE
        else:
            stale = int(pid) == own_pid or not alive(int(pid))
        if stale and _remove(path, directory=stat.S_ISDIR(info.st_mode)):
            removed.append(path)
    return removed


def _remove(path: Path, *, directory: bool) -> bool:
    with contextlib.suppress(OSError):
        if directory:
            shutil.rmtree(path)
        else:
            path.unlink()
        return True
    return False
