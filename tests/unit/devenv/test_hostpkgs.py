"""Which node packages are missing: only those dpkg lists as installed count as present."""

from __future__ import annotations

from pathlib import Path

import pytest

from k8ssnap.devenv import hostpkgs


def _fake_dpkg_query(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, output: str) -> None:
    script = tmp_path / "dpkg-query"
    script.write_text(f"#!/bin/sh\nprintf '{output}'\nexit 1\n")  # exit 1: some package unknown
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")


def test_removed_and_unknown_packages_are_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_dpkg_query(tmp_path, monkeypatch, "runc installed\\ncontainerd config-files\\n")
    assert hostpkgs.missing(("runc", "containerd", "buildah")) == ["containerd", "buildah"]


def test_apt_is_not_run_when_nothing_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_dpkg_query(tmp_path, monkeypatch, "runc installed\\n")
    assert hostpkgs.ensure(("runc",)) == 0.0
