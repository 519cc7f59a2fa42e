"""Hostile inputs to the local-folder object store: an ObjectstoreConfig's ``endpoint: file://...``
and the keys written through it. A custom resource must never make the controller read or
write outside the folder the operator allowed with ``--folder-store-root``; each test names
the fault it guards."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from k8ssnap import errors
from k8ssnap.store.folder import FolderStore


@pytest.fixture
def root(tmp_path: Path) -> Path:
    allowed = tmp_path / "backups"
    allowed.mkdir()
    return allowed


@pytest.mark.parametrize(
    "endpoint",
    [
        "file://evil.example/backups",  # a host: not a local folder
        "file:backups",  # relative
        "file:///etc",  # absolute, outside the root
        "file:///",  # the host's whole filesystem
    ],
)
def test_fault_folder_endpoint_outside_the_root_is_refused(root: Path, endpoint: str) -> None:
    with pytest.raises(errors.ConfigError):
        FolderStore.open(endpoint=endpoint, bucket="b", root=str(root))


def test_fault_folder_endpoint_climbing_out_with_dotdot_is_refused(root: Path) -> None:
    with pytest.raises(errors.HostPathRefused, match=r"'\.\.'"):
        FolderStore.open(endpoint=f"file://{root}/../../etc", bucket="b", root=str(root))


def test_fault_any_folder_endpoint_is_refused_without_the_operators_flag(root: Path) -> None:
    with pytest.raises(errors.HostPathRefused, match="--folder-store-root"):
        FolderStore.open(endpoint=f"file://{root}", bucket="b", root=None)


def test_fault_a_link_inside_the_root_leading_out_is_refused(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, root / "escape")
    with pytest.raises(errors.HostPathRefused, match="through a link"):
        FolderStore.open(endpoint=f"file://{root}/escape", bucket="b", root=str(root))


@pytest.mark.parametrize("bucket", ["", "..", "../etc", "a/b", ".k8ssnap-uploads", "x\x00y"])
def test_fault_a_bucket_that_is_not_one_folder_name_is_refused(root: Path, bucket: str) -> None:
    with pytest.raises(errors.ConfigError):
        FolderStore.open(endpoint=f"file://{root}", bucket=bucket, root=str(root))


@pytest.mark.parametrize(
    "key",
    ["../escape.tgz", "a/../../escape.tgz", "/etc/passwd", "a//b.tgz", "./a.tgz", "a\x00b", "",
     ".k8ssnap-uploads/x"],
)  # fmt: skip
async def test_fault_a_key_leaving_the_bucket_costs_only_itself(root: Path, tmp_path: Path, key: str) -> None:
    store = FolderStore.open(endpoint=f"file://{root}", bucket="b", root=str(root))
    await store.create_bucket()
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(errors.StorePermanent):
        await store.put(key, b"payload", metadata={})
    with pytest.raises(errors.StorePermanent):
        await store.get(key)
    await store.put("good.tgz", b"still works", metadata={})  # the store is fine afterwards
    assert await store.get("good.tgz") == b"still works"
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written beside the root
