"""Unpacking an etcd archive for ``etcdutl snapshot restore``: verified, then written safely.

The order protects the node:

1. the stored record names the archive's SHA-256 and size; the archive is
   streamed to a temporary file while both are computed, and a mismatch
   stops here, before any file is written; an age-encrypted archive (the
   record names its recipients) is decrypted on the way, streaming, and
   needs one of their identities (``--identity``), else nothing is
   downloaded;
2. the database entry is extracted while its SHA-256 is computed, and must
   match both the checksum etcd appended and the record's ``dbSha256``;
3. PKI entries must be plain relative paths under ``pki/`` (a hostile
   archive cannot write outside ``--pki-dir``); folders are created 0700,
   private keys written 0600, everything else 0644, each file created new
   (an existing file is refused, never overwritten, unless asked).

Memory stays flat: archive and database pass through in chunks.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from k8ssnap import errors
from k8ssnap.archive.etcd import CHECKSUM_SIZE, DB_ENTRY, PKI_FOLDER, RECORD_ENTRY, EtcdRecord
from k8ssnap.archive.layout import MARKER
from k8ssnap.domain import hostpaths
from k8ssnap.store import age, layout
from k8ssnap.store.objectstore import ObjectStore

_CHUNK = 1 << 20
KEY_MODE = 0o600
CERT_MODE = 0o644
DIR_MODE = 0o700
MAX_PKI_FILE = 1 << 20


@dataclass(frozen=True, slots=True)
class Unpacked:
    """What :func:`unpack` wrote: the database file (with its checksum) and the PKI files."""

    record: EtcdRecord
    db: Path
    pki_files: tuple[Path, ...]


async def fetch_record(store: ObjectStore, name: str, *, prefix: str) -> EtcdRecord:
    """The stored record of EtcdSnapshot ``name``; ConfigError if there is none."""
    try:
        raw = await store.get(layout.etcd_record_key(name, prefix=prefix))
    except errors.ObjectMissing:
        raise errors.ConfigError(f"no etcd snapshot {name!r} in bucket {store.bucket!r}") from None
    return EtcdRecord.from_json(raw)


def decryption(record: EtcdRecord, identities: age.Identities | None) -> age.Decryption | None:
    """How to open ``record``'s archive (None: it is plain); ConfigError, saying what to pass,
    when it is encrypted and no identity is given or none of them is one of its recipients."""
    if not record.encrypted:
        return None
    to = ", ".join(record.recipients[:3]) + (" and more" if len(record.recipients) > 3 else "")
    if identities is None:
        raise errors.ConfigError(
            f"etcd snapshot {record.name!r} is encrypted with age (to {to}); pass --identity FILE"
            " with one of its identities (AGE-SECRET-KEY-1...)"
        )
    if not identities.opens(record.recipients):
        raise errors.ConfigError(
            f"etcd snapshot {record.name!r} is encrypted to {to}; the --identity file holds none of"
            " their identities"
        )
    return age.Decryption(identities=identities, expected_sha256=record.sha256, expected_size=record.size)


async def download(
    store: ObjectStore,
    record: EtcdRecord,
    *,
    prefix: str,
    into: Path,
    identities: age.Identities | None = None,
) -> Path:
    """The archive (decrypted, if it is encrypted) in a temporary 0600 file under ``into``.

    The stored object's size and SHA-256 are checked against ``record``
    (for an encrypted archive, the ciphertext's, by :func:`age.decrypted`,
    which also authenticates every plaintext chunk). Nothing is kept on a
    mismatch. ConfigError before any download if an encrypted archive cannot
    be opened with ``identities`` (see :func:`decryption`).
    """
    opening = decryption(record, identities)
    key = layout.etcd_archive_key(record.name, prefix=prefix, encrypted=opening is not None)
    digest, size = hashlib.sha256(), 0
    fd, name = tempfile.mkstemp(prefix=".k8ssnap-etcd-", suffix=".tgz", dir=into)
    try:
        with os.fdopen(fd, "wb") as out:
            chunks = store.download(key)
            if opening is not None:
                chunks = age.decrypted(chunks, opening, what=key)
            async for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        if opening is None:  # decrypted() checked the ciphertext against the record
            _check_archive(record, sha256=digest.hexdigest(), size=size)
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


def _check_archive(record: EtcdRecord, *, sha256: str, size: int) -> None:
    if (sha256, size) != (record.sha256, record.size):
        raise errors.ArchiveError(
            f"the archive of etcd snapshot {record.name!r} is not the one recorded: "
            f"{size} bytes with sha256 {sha256[:16]}..., "
            f"recorded {record.size} bytes with {record.sha256[:16]}..."
        )


def unpack(
    archive: Path, record: EtcdRecord, *, db_into: Path, pki_dir: Path | None, overwrite_pki: bool = False
) -> Unpacked:
    """Extract and verify the database into ``db_into``; write the PKI into ``pki_dir`` if given."""
    db_path = db_into / f"{record.name}.db"
    written: list[Path] = []
    seen_db = False
    with tarfile.open(archive, mode="r:gz") as tar:
        for member in tar:
            rest = _entry(member, record.name)
            if rest in (MARKER, RECORD_ENTRY):
                continue
            if rest == DB_ENTRY:
                _extract_db(tar, member, record, db_path)
                seen_db = True
            elif rest.startswith(PKI_FOLDER) and pki_dir is not None:
                written.append(_write_pki(tar, member, rest[len(PKI_FOLDER) :], pki_dir, overwrite_pki))
            elif not rest.startswith(PKI_FOLDER):
                raise errors.ArchiveError(f"unexpected entry {member.name!r} in the etcd archive")
    if not seen_db:
        raise errors.ArchiveError(f"the etcd archive of {record.name!r} holds no database")
    return Unpacked(record=record, db=db_path, pki_files=tuple(written))


def _entry(member: tarfile.TarInfo, name: str) -> str:
    if not member.isfile() or not member.name.startswith(f"{name}/"):
        raise errors.ArchiveError(f"unexpected entry {member.name!r} in the etcd archive of {name!r}")
    return member.name[len(name) + 1 :]


def _extract_db(tar: tarfile.TarFile, member: tarfile.TarInfo, record: EtcdRecord, path: Path) -> None:
    if member.size != record.db_size + CHECKSUM_SIZE:
        raise errors.ArchiveError(
            f"the database entry has {member.size} bytes; the record says {record.db_size} + checksum"
        )
    source = tar.extractfile(member)
    assert source is not None
    digest, left = hashlib.sha256(), record.db_size
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, KEY_MODE)
    with os.fdopen(fd, "wb") as out:
        while left:
            chunk = source.read(min(_CHUNK, left))
            if not chunk:
                raise errors.ArchiveError("the database entry ends early")
            digest.update(chunk)
            out.write(chunk)
            left -= len(chunk)
        checksum = source.read(CHECKSUM_SIZE)
        out.write(checksum)
    if not (checksum == digest.digest() and digest.hexdigest() == record.db_sha256):
        path.unlink(missing_ok=True)
        raise errors.ArchiveError(
            f"the database of etcd snapshot {record.name!r} does not match its SHA-256 "
            f"(computed {digest.hexdigest()[:16]}..., recorded {record.db_sha256[:16]}...)"
        )


def _write_pki(tar: tarfile.TarFile, member: tarfile.TarInfo, name: str, root: Path, overwrite: bool) -> Path:
    relative = PurePosixPath(name)
    if not name or relative.is_absolute() or ".." in relative.parts or "\\" in name or "\x00" in name:
        raise errors.ArchiveError(f"PKI entry {member.name!r} is not a plain relative path")
    if member.size > MAX_PKI_FILE:
        raise errors.ArchiveError(f"PKI entry {member.name!r} is {member.size} bytes; not a PKI file")
    source = tar.extractfile(member)
    assert source is not None
    content = source.read(member.size)
    target = root / relative
    _make_dirs(root, relative.parent)
    mode = KEY_MODE if hostpaths.is_private_key(name=name, content=content) else CERT_MODE
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        fd = os.open(target, flags, mode)
    except FileExistsError:
        raise errors.ConfigError(f"{target} already exists; move it away or pass --overwrite-pki") from None
    with os.fdopen(fd, "wb") as out:
        os.fchmod(out.fileno(), mode)  # the umask must not loosen or an old file keep its mode
        out.write(content)
    return target


def _make_dirs(root: Path, relative: PurePosixPath) -> None:
    folder = root
    root.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    for part in relative.parts:
        folder = folder / part
        if folder.is_symlink():
            raise errors.ArchiveError(f"{folder} is a symbolic link; refusing to write PKI through it")
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
