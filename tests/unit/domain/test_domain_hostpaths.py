"""Which host paths a custom resource may name (pure rules)."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from k8ssnap.domain import hostpaths
from k8ssnap.errors import HostPathRefused

ROOT = "/host/etc/kubernetes/pki"


@pytest.mark.parametrize(
    ("pki", "expected"),
    [
        (".", PurePosixPath(".")),
        ("etcd", PurePosixPath("etcd")),
        ("etcd/", PurePosixPath("etcd")),
        ("a/b/c", PurePosixPath("a/b/c")),
        ("./etcd", PurePosixPath("etcd")),
    ],
)
def test_pki_paths_inside_the_root_are_accepted(pki: str, expected: PurePosixPath) -> None:
    assert hostpaths.pki_path(pki, root=ROOT) == expected


@pytest.mark.parametrize(
    ("pki", "root", "says"),
    [
        ("etcd", None, "without --pki-root"),
        ("etcd", "", "without --pki-root"),
        (".", None, "without --pki-root"),
        ("/etc/kubernetes/pki", ROOT, "not absolute"),
        ("/", ROOT, "not absolute"),
        ("..", ROOT, "'..'"),
        ("../..", ROOT, "'..'"),
        ("etcd/../../shadow", ROOT, "'..'"),
        ("a/..", ROOT, "'..'"),
        ("", ROOT, "empty"),
        ("etcd\x00", ROOT, "NUL"),
        ("..\\..\\etc", ROOT, "backslash"),
    ],
)
def test_pki_paths_are_refused(pki: str, root: str | None, says: str) -> None:
    with pytest.raises(HostPathRefused) as caught:
        hostpaths.pki_path(pki, root=root)
    assert says in caught.value.reason


@pytest.mark.parametrize(
    ("path", "root", "ok"),
    [
        ("/backups", "/backups", True),
        ("/backups/team-a", "/backups", True),
        ("/backups/", "/backups", True),
        ("/backupsX", "/backups", False),
        ("/etc", "/backups", False),
        ("/backups/../etc", "/backups", False),
        ("backups", "/backups", False),
        ("/", "/backups", False),
        ("/backups", None, False),
        ("/backups", "", False),
    ],
)
def test_folder_store_paths_must_lie_in_the_root(path: str, root: str | None, ok: bool) -> None:
    if ok:
        assert hostpaths.folder_store_path(path, root=root) == PurePosixPath(path)
    else:
        with pytest.raises(HostPathRefused):
            hostpaths.folder_store_path(path, root=root)


@pytest.mark.parametrize(
    ("name", "content", "key"),
    [
        ("ca.key", b"", True),
        ("etcd/peer.key", b"junk", True),
        ("ca.crt", b"-----BEGIN CERTIFICATE-----\n", False),
        ("sa.pub", b"-----BEGIN PUBLIC KEY-----\n", False),
        ("bundle.pem", b"-----BEGIN CERTIFICATE-----\n-----BEGIN RSA PRIVATE KEY-----\n", True),
        ("sa.pem", b"-----BEGIN PRIVATE KEY-----\n", True),
        ("ec.pem", b"-----BEGIN EC PRIVATE KEY-----\n", True),
    ],
)
def test_private_keys_are_told_by_name_or_pem_block(name: str, content: bytes, key: bool) -> None:
    assert hostpaths.is_private_key(name=name, content=content) is key
