"""The etcd archive: an etcd snapshot and a certificate folder in one tar.gz.

Entries, in order, all under ``<name>/``::

    <name>/k8ssnap-format.json   {"format": "k8ssnap-etcd-archive", "version": 1}
    <name>/pki/<relative path>   each PKI file, sorted by name (none without spec.pki)
    <name>/etcd/snapshot.db      the database followed by its 32-byte SHA-256,
                                 byte for byte what ``etcdctl snapshot save`` writes,
                                 so ``etcdutl snapshot restore`` verifies it once more
    <name>/etcd/record.json      the EtcdRecord (no key content, no credentials)

The database's tar header needs its size up front; etcd announces it in its
first message (``remaining_bytes`` + the first blob), so the database is
written to the archive as it streams. The writer is push-style like
:class:`k8ssnap.archive.writer.ArchiveWriter`: every call returns the gzip
bytes produced, which the caller hands to its upload.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import orjson

from k8ssnap.archive import layout, tarstream
from k8ssnap.errors import ArchiveError

FORMAT_NAME: Final = "k8ssnap-etcd-archive"
FORMAT_VERSION: Final = 1
#: The one encryption a record may name (:data:`k8ssnap.store.age.FORMAT`; archive may not import store).
ENCRYPTION_FORMAT: Final = "age-encryption.org/v1"
DB_ENTRY: Final = "etcd/snapshot.db"
RECORD_ENTRY: Final = "etcd/record.json"
PKI_FOLDER: Final = "pki/"
CHECKSUM_SIZE: Final = 32


@dataclass(frozen=True, slots=True, kw_only=True)
class EtcdMember:
    """One etcd member as MemberList reported it."""

    id: str
    name: str
    peer_urls: tuple[str, ...] = ()
    client_urls: tuple[str, ...] = ()
    is_learner: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "peerURLs": list(self.peer_urls),
            "clientURLs": list(self.client_urls),
            "isLearner": self.is_learner,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EtcdMember:
        return cls(
            id=str(data["id"]),
            name=str(data.get("name", "")),
            peer_urls=tuple(str(u) for u in data.get("peerURLs", ())),
            client_urls=tuple(str(u) for u in data.get("clientURLs", ())),
            is_learner=bool(data.get("isLearner", False)),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class EtcdRecord:
    """What is known about one etcd snapshot; never a key's content or a credential.

    ``sha256`` and ``size`` are the archive's, filled in the record stored
    beside the archive (the copy inside cannot hold its own hash).
    """

    name: str
    taken_at: datetime
    etcd_version: str
    revision: int
    members: tuple[EtcdMember, ...]
    endpoint: str
    db_size: int
    db_sha256: str
    pki: str = ""
    pki_files: tuple[str, ...] = ()
    private_keys: bool = False
    sha256: str = ""
    size: int = 0
    #: The public keys (``age1...``) the stored archive is age-encrypted to; () for a plain
    #: archive. Then ``sha256`` and ``size`` are the ciphertext's (the stored object).
    recipients: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def encrypted(self) -> bool:
        return bool(self.recipients)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "name": self.name,
            "takenAt": self.taken_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "etcdVersion": self.etcd_version,
            "revision": self.revision,
            "members": [m.to_dict() for m in self.members],
            "endpoint": self.endpoint,
            "dbSize": self.db_size,
            "dbSha256": self.db_sha256,
            "pki": self.pki,
            "pkiFiles": list(self.pki_files),
            "privateKeys": self.private_keys,
        }
        if self.sha256:
            data |= {"sha256": self.sha256, "size": self.size}
        if self.recipients:
            data["encryption"] = {"format": ENCRYPTION_FORMAT, "recipients": list(self.recipients)}
        return data | dict(self.extra)

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict(), option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)

    @classmethod
    def from_json(cls, raw: bytes) -> EtcdRecord:
        try:
            data = orjson.loads(raw)
            if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
                raise ArchiveError("not an etcd snapshot record")
            return cls(
                name=str(data["name"]),
                taken_at=datetime.fromisoformat(str(data["takenAt"]).replace("Z", "+00:00")),
                etcd_version=str(data["etcdVersion"]),
                revision=int(data["revision"]),
                members=tuple(EtcdMember.from_dict(m) for m in data["members"]),
                endpoint=str(data.get("endpoint", "")),
                db_size=int(data["dbSize"]),
                db_sha256=str(data["dbSha256"]),
                pki=str(data.get("pki", "")),
                pki_files=tuple(str(f) for f in data.get("pkiFiles", ())),
                private_keys=bool(data.get("privateKeys", False)),
                sha256=str(data.get("sha256", "")),
                size=int(data.get("size", 0)),
                recipients=_recipients(data.get("encryption")),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ArchiveError(f"the etcd snapshot record is not valid: {exc}") from None


def _recipients(raw: Any) -> tuple[str, ...]:
    """The recipients of a record's ``encryption``; ArchiveError for a format k8ssnap cannot read."""
    if raw is None:
        return ()
    if not isinstance(raw, dict) or raw.get("format") != ENCRYPTION_FORMAT:
        raise ArchiveError(f"the etcd archive is encrypted in a format k8ssnap cannot read: {raw!r:.80}")
    recipients = tuple(str(r) for r in raw.get("recipients") or ())
    if not recipients:
        raise ArchiveError("the etcd snapshot record says encrypted but names no recipients")
    return recipients


def pki_entry(snapshot: str, name: str) -> str:
    return f"{snapshot}/{PKI_FOLDER}{name}"


class EtcdArchiveWriter:
    """Encodes one etcd archive: :meth:`start`, :meth:`begin_db`, :meth:`db` per chunk, :meth:`finish`."""

    __slots__ = ("_db_expected", "_db_written", "_deflate", "_mtime", "_name", "_sha256", "_size", "_tar")

    def __init__(self, *, snapshot_name: str, mtime: datetime, level: int = 6) -> None:
        if mtime.tzinfo is None:
            raise ValueError("mtime must be timezone-aware")
        self._name = layout.check_snapshot_name(snapshot_name)
        self._mtime = int(mtime.timestamp())
        self._deflate = zlib.compressobj(level, zlib.DEFLATED, 31)
        self._sha256 = hashlib.sha256()
        self._size = 0
        self._tar = 0
        self._db_expected = -1
        self._db_written = 0

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    @property
    def size(self) -> int:
        return self._size

    def start(self, pki_files: Sequence[tuple[str, bytes]]) -> bytes:
        """The format marker and the PKI files."""
        marker = orjson.dumps({"format": FORMAT_NAME, "version": FORMAT_VERSION}, option=orjson.OPT_SORT_KEYS)
        out = self._member(layout.marker_name(self._name), marker)
        for name, content in pki_files:
            out += self._member(pki_entry(self._name, name), content)
        return out

    def begin_db(self, size: int) -> bytes:
        """The tar header of the database entry: ``size`` is database plus checksum."""
        if self._db_expected >= 0:
            raise RuntimeError("the database entry was already begun")
        self._db_expected = size
        return self._raw(tarstream.encode_header(f"{self._name}/{DB_ENTRY}", size, mtime=self._mtime))

    def db(self, chunk: bytes) -> bytes:
        """A piece of the database entry's body."""
        self._db_written += len(chunk)
        if self._db_written > self._db_expected:
            raise ValueError("more database bytes than announced")
        return self._raw(chunk)

    def finish(self, record: EtcdRecord) -> bytes:
        """Pad the database entry, write the record and the end of the archive."""
        if self._db_written != self._db_expected:
            raise ValueError(f"database entry has {self._db_written} of {self._db_expected} bytes")
        out = self._raw(tarstream.padding(self._db_written))
        out += self._member(f"{self._name}/{RECORD_ENTRY}", record.to_json())
        out += self._raw(tarstream.encode_end(self._tar))
        return out + self._emit(self._deflate.flush())

    def _member(self, name: str, body: bytes) -> bytes:
        return self._raw(tarstream.encode_member(name, body, mtime=self._mtime))

    def _raw(self, data: bytes) -> bytes:
        self._tar += len(data)
        return self._emit(self._deflate.compress(data))

    def _emit(self, data: bytes) -> bytes:
        self._sha256.update(data)
        self._size += len(data)
        return data
