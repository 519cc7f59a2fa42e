"""The one module that names keys in a bucket.

Layout (format 1)::

    <prefix><snapshot>.tgz               the archive (k8s-snap's key, for compatibility)
    <prefix><snapshot>.tgz.age           or: the archive, age-encrypted (docs/encryption.md)
    <prefix><snapshot>.tgz.record.json   its record: index, sha256, size, the Snapshot spec

An encrypted archive gets its own suffix, not ``.tgz`` with a marker in
metadata: k8s-snap (and anyone with ``tar``) then finds no ``.tgz`` rather
than a ``.tgz`` that is not gzip, and the name says what to do with it
(``age -d -i key.txt NAME.tgz.age | tar xz``). The record keeps its name
and stays plaintext; it says whether the archive is encrypted.

The archive object also carries the user metadata ``k8ssnap-format`` and
``k8ssnap-snapshot`` from the moment its upload starts. Housekeeping only
ever touches keys that match this layout *and* carry that metadata (or have
a record), so other keys in a shared bucket are never deleted.
"""

from __future__ import annotations

import re

ARCHIVE_SUFFIX = ".tgz"
ENCRYPTED_SUFFIX = ".tgz.age"
RECORD_SUFFIX = ".tgz.record.json"
FORMAT_KEY = "k8ssnap-format"
SNAPSHOT_KEY = "k8ssnap-snapshot"
FORMAT_VERSION = "1"

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def archive_key(name: str, *, prefix: str = "", encrypted: bool = False) -> str:
    """The key of snapshot ``name``'s archive (its age-encrypted form if ``encrypted``)."""
    return f"{prefix}{name}{ENCRYPTED_SUFFIX if encrypted else ARCHIVE_SUFFIX}"


def archive_keys(name: str, *, prefix: str = "") -> tuple[str, str]:
    """Both keys snapshot ``name``'s archive may have (to delete it, whichever it is)."""
    return archive_key(name, prefix=prefix), archive_key(name, prefix=prefix, encrypted=True)


def record_key(name: str, *, prefix: str = "") -> str:
    """The key of snapshot ``name``'s record."""
    return f"{prefix}{name}{RECORD_SUFFIX}"


def archive_metadata(name: str) -> dict[str, str]:
    """User metadata put on every archive object (no credentials, ever)."""
    return {FORMAT_KEY: FORMAT_VERSION, SNAPSHOT_KEY: name}


def is_ours(metadata: dict[str, str] | object) -> bool:
    """Whether object metadata marks an archive written by k8ssnap."""
    return isinstance(metadata, dict) and metadata.get(FORMAT_KEY) == FORMAT_VERSION


def snapshot_of(key: str, *, prefix: str = "") -> tuple[str, str] | None:
    """``(name, "archive"|"record")`` if ``key`` fits the layout, else None."""
    if not key.startswith(prefix):
        return None
    rest = key[len(prefix) :]
    suffixes = ((RECORD_SUFFIX, "record"), (ARCHIVE_SUFFIX, "archive"), (ENCRYPTED_SUFFIX, "archive"))
    for suffix, kind in suffixes:
        if rest.endswith(suffix):
            name = rest[: -len(suffix)]
            return (name, kind) if _NAME.match(name) else None
    return None


# -- etcd snapshots (EtcdSnapshot) -------------------------------------------
# Under their own folder, so an EtcdSnapshot and a Snapshot of the same name
# never share a key, and housekeeping of Snapshots (which matches only
# ``<prefix><name>.tgz``) never sees them.

ETCD_FOLDER = "etcd/"
ETCD_FORMAT_VERSION = "etcd-1"
ETCD_SNAPSHOT_KEY = "k8ssnap-etcd-snapshot"


def etcd_archive_key(name: str, *, prefix: str = "", encrypted: bool = False) -> str:
    """The key of EtcdSnapshot ``name``'s archive (its age-encrypted form if ``encrypted``)."""
    return f"{prefix}{ETCD_FOLDER}{name}{ENCRYPTED_SUFFIX if encrypted else ARCHIVE_SUFFIX}"


def etcd_archive_keys(name: str, *, prefix: str = "") -> tuple[str, str]:
    """Both keys EtcdSnapshot ``name``'s archive may have (to delete it, whichever it is)."""
    return etcd_archive_key(name, prefix=prefix), etcd_archive_key(name, prefix=prefix, encrypted=True)


def etcd_record_key(name: str, *, prefix: str = "") -> str:
    """The key of EtcdSnapshot ``name``'s record."""
    return f"{prefix}{ETCD_FOLDER}{name}{RECORD_SUFFIX}"


def is_archive_key(key: str, *, prefix: str = "") -> bool:
    """Whether ``key`` is where k8ssnap puts an archive (a Snapshot's or an EtcdSnapshot's).

    Only such keys' unfinished uploads are k8ssnap's to abort: in a shared
    bucket, another tool's upload under the same prefix is left alone.
    """
    for folder in (prefix, f"{prefix}{ETCD_FOLDER}"):
        parsed = snapshot_of(key, prefix=folder)
        if parsed is not None and parsed[1] == "archive":
            return True
    return False


def etcd_archive_metadata(name: str) -> dict[str, str]:
    """User metadata of an etcd archive (no credentials, ever)."""
    return {FORMAT_KEY: ETCD_FORMAT_VERSION, ETCD_SNAPSHOT_KEY: name}
