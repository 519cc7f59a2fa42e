"""Reading a certificate folder: only inside --pki-root, symbolic links included."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from k8ssnap.errors import HostPathRefused
from k8ssnap.etcd import pkifiles
from k8ssnap.etcd.pkifiles import read_pki


@pytest.fixture
def root(tmp_path: Path) -> Path:
    pki = tmp_path / "pki"
    (pki / "etcd").mkdir(parents=True)
    (pki / "ca.crt").write_bytes(b"-----BEGIN CERTIFICATE-----\nca\n")
    (pki / "ca.key").write_bytes(b"-----BEGIN RSA PRIVATE KEY-----\nk\n")
    (pki / "sa.pub").write_bytes(b"-----BEGIN PUBLIC KEY-----\np\n")
    (pki / "etcd" / "ca.crt").write_bytes(b"-----BEGIN CERTIFICATE-----\netcd\n")
    (pki / "etcd" / "ca.key").write_bytes(b"-----BEGIN PRIVATE KEY-----\nk\n")
    (tmp_path / "secret").write_bytes(b"outside the root")
    return pki


def test_the_whole_folder_is_read_with_keys_marked(root: Path) -> None:
    files = read_pki(pki=".", root=str(root), certificates_only=False)
    assert [(f.name, f.private_key) for f in files] == [
        ("ca.crt", False), ("ca.key", True), ("etcd/ca.crt", False), ("etcd/ca.key", True), ("sa.pub", False),
    ]  # fmt: skip


def test_certificates_only_leaves_every_private_key_out(root: Path) -> None:
    (root / "bundle.pem").write_bytes(b"-----BEGIN EC PRIVATE KEY-----\n")
    files = read_pki(pki=".", root=str(root), certificates_only=True)
    assert [f.name for f in files] == ["ca.crt", "etcd/ca.crt", "sa.pub"]


def test_a_sub_folder(root: Path) -> None:
    assert [f.name for f in read_pki(pki="etcd", root=str(root), certificates_only=False)] == [
        "ca.crt",
        "ca.key",
    ]


def test_a_link_inside_the_root_is_followed(root: Path) -> None:
    os.symlink(root / "ca.crt", root / "etcd" / "alias.crt")
    files = read_pki(pki="etcd", root=str(root), certificates_only=False)
    assert {f.name: f.content for f in files}["alias.crt"].endswith(b"ca\n")


def test_fault_symlinked_file_escaping_the_root_is_refused(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    os.symlink(root.parent / "secret", root / "etcd" / "stolen.crt")
    opened: list[str] = []
    real_open = os.open

    def recording_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        opened.append(os.path.realpath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(pkifiles.os, "open", recording_open)
    with pytest.raises(HostPathRefused, match="outside --pki-root"):
        read_pki(pki="etcd", root=str(root), certificates_only=False)
    assert opened  # the files inside were opened through the recorder...
    assert all(p.startswith(f"{root}/") for p in opened), opened  # ...and nothing outside


def test_fault_symlinked_folder_escaping_the_root_is_refused(root: Path) -> None:
    os.symlink(root.parent, root / "up")
    with pytest.raises(HostPathRefused, match="outside --pki-root"):
        read_pki(pki="up", root=str(root), certificates_only=False)


def test_fault_dotdot_is_refused_before_any_file_is_touched(root: Path) -> None:
    with pytest.raises(HostPathRefused, match=r"'\.\.'"):
        read_pki(pki="../", root=str(root), certificates_only=False)


def test_fault_no_root_refuses_every_path(root: Path) -> None:
    with pytest.raises(HostPathRefused, match="without --pki-root"):
        read_pki(pki=".", root=None, certificates_only=False)


def test_a_missing_folder_is_refused(root: Path) -> None:
    with pytest.raises(HostPathRefused, match="not a folder"):
        read_pki(pki="nope", root=str(root), certificates_only=False)
