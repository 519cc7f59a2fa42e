"""The start-up sweep of temporary files left by killed k8ssnap processes (issue 11, fault 16)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from k8ssnap import limits, tempdirs

NOW = 1_900_000_000.0
OWN, LIVE, DEAD = 4242, 5151, 6161


def make(root: Path, name: str, *, age: float = 0.0, file: bool = False) -> Path:
    path = root / name
    if file:
        path.write_text("pem")
    else:
        path.mkdir()
        (path / "tier-1.spool").write_bytes(b"secret-ish")
    os.utime(path, (NOW - age, NOW - age))
    return path


def test_fault_16_only_stale_entries_of_ours_are_swept(tmp_path: Path) -> None:
    old = limits.STALE_TEMP_AGE + 60
    stale = [
        make(tmp_path, f"k8ssnap-restore-{DEAD}-a1b2c3d4"),
        make(tmp_path, f"k8ssnap-kc-{DEAD}-x_y9"),
        make(tmp_path, f"k8ssnap-kc-{OWN}-reused_pid"),  # a restarted container is pid 1 again
        make(tmp_path, f"k8ssnap-ca-{DEAD}-q1w2.pem", file=True),
        make(tmp_path, "k8ssnap-restore-legacy12", age=old),  # no pid: made by an older k8ssnap
    ]
    kept = [
        make(tmp_path, f"k8ssnap-restore-{LIVE}-inuse1"),
        make(tmp_path, f"k8ssnap-kc-{LIVE}-inuse2", age=old),
        make(tmp_path, "k8ssnap-restore-legacy34", age=60),
        make(tmp_path, f"k8ssnap-devenv-{DEAD}-abc", age=old),  # not a kind we make
        make(tmp_path, f"other-restore-{DEAD}-abc", age=old),
    ]
    target = make(tmp_path, "elsewhere", age=old)
    link = tmp_path / f"k8ssnap-restore-{DEAD}-link"
    link.symlink_to(target)

    removed = tempdirs.sweep(root=tmp_path, now=NOW, own_pid=OWN, alive=lambda pid: pid == LIVE)

    assert sorted(removed) == sorted(stale)
    assert not any(path.exists() for path in stale)
    assert all(path.exists() for path in kept)
    assert link.is_symlink() and (target / "tier-1.spool").exists()


def test_fault_16_new_entries_carry_the_pid_the_sweep_reads(tmp_path: Path) -> None:
    made = Path(tempfile.mkdtemp(prefix=tempdirs.prefix("restore"), dir=tmp_path))
    assert made.name.startswith(f"k8ssnap-restore-{os.getpid()}-")
    assert tempdirs.sweep(root=tmp_path, own_pid=os.getpid() + 1) == []  # this process is alive
    assert tempdirs.sweep(root=tmp_path, own_pid=os.getpid()) == [made]


def test_fault_16_the_controller_sweeps_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Even a controller that then cannot start (no kubeconfig) has swept first."""
    from k8ssnap.app import controller

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    stale = make(tmp_path, f"k8ssnap-restore-{_dead_pid()}-killed")
    assert controller.main(["--kubeconfig", str(tmp_path / "missing.yaml")]) == 1
    assert not stale.exists()


def _dead_pid() -> int:
    """A pid no process has right now (pid_max is at most 2**22 on Linux)."""
    for pid in range(2**22 - 1, 2**21, -1):
        if not tempdirs.pid_alive(pid):
            return pid
    raise AssertionError("no free pid found")
