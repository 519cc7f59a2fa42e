"""Which host paths a custom resource may make the controller read or write.

A custom resource is written by whoever may create it in the controller's
namespace; the controller's pod may see the host's ``/etc/kubernetes/pki``
or a backup volume. So a CR never names a host path on its own authority:
the *operator* sets a root with a controller flag (``--pki-root``,
``--folder-store-root``), and a CR may only name something inside it.

These are the lexical rules, applied before any file is touched:

* no root set: every path is refused (the feature is off);
* a PKI path is relative to its root: absolute paths, ``..`` components,
  backslashes and NULs are refused; ``.`` means the root itself;
* a folder-store path is absolute and must lie inside its root, again
  without ``..``.

Symbolic links are the I/O adapter's half of the rule
(:mod:`k8ssnap.etcd.pkifiles`, :mod:`k8ssnap.store.folder`): every path is
resolved and must still lie inside the resolved root before it is opened.

Which PKI files are private keys is decided here too, so the
certificates-only switch and the restore's file modes agree.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from k8ssnap.errors import HostPathRefused

_PRIVATE_KEY_MARK = b"PRIVATE KEY-----"
_KEY_SUFFIXES = (".key",)


def _lexical(text: str, *, what: str) -> PurePosixPath:
    if not text:
        raise HostPathRefused(f"{what} is empty")
    if "\x00" in text or "\\" in text:
        raise HostPathRefused(f"{what} {text!r} contains a NUL or a backslash")
    path = PurePosixPath(text)
    if ".." in path.parts:
        raise HostPathRefused(f"{what} {text!r} contains '..'")
    return path


def pki_path(pki: str, *, root: str | None) -> PurePosixPath:
    """The folder ``spec.pki`` names, relative to ``root``; HostPathRefused if not allowed."""
    if not root:
        raise HostPathRefused(
            f"spec.pki is {pki!r} but the controller runs without --pki-root, "
            "so no certificate folder may be read"
        )
    path = _lexical(pki, what="spec.pki")
    if path.is_absolute():
        raise HostPathRefused(f"spec.pki {pki!r} must be relative to --pki-root, not absolute")
    return path


def folder_store_path(path: str, *, root: str | None) -> PurePosixPath:
    """The absolute folder a ``file://`` endpoint names; HostPathRefused unless inside ``root``."""
    if not root:
        raise HostPathRefused(
            f"the object store endpoint names the folder {path!r} but the controller runs "
            "without --folder-store-root, so no local folder may be used"
        )
    folder = _lexical(path, what="the folder store path")
    base = _lexical(root, what="--folder-store-root")
    if not folder.is_absolute() or not base.is_absolute():
        raise HostPathRefused(f"the folder store path {path!r} must be absolute")
    if folder != base and base not in folder.parents:
        raise HostPathRefused(f"the folder store path {path!r} is outside --folder-store-root {root!r}")
    return folder


def is_private_key(*, name: str, content: bytes) -> bool:
    """Whether a PKI file holds a private key: by its name (``*.key``) or a PEM private-key block."""
    return name.endswith(_KEY_SUFFIXES) or _PRIVATE_KEY_MARK in content
