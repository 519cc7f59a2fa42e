"""Incremental POSIX tar encoding and decoding, with no file objects.

tarfile wants a seekable or blocking file; k8ssnap pushes bytes through as
they arrive from the API or from S3. So this module encodes one entry at a
time with :meth:`tarfile.TarInfo.tobuf` (PAX format: names longer than 100
bytes get a PAX ``path`` record), or, for the common short ASCII name, with
a byte-identical ustar block built directly (tarfile's encoder was 18 % of a
snapshot's CPU: our own code where the library exists, for that reason).
It decodes with a push parser built on :meth:`tarfile.TarInfo.frombuf`,
which understands what k8ssnap's writer, Python's tarfile and Go's
archive/tar (k8s-snap) produce: ustar with prefix, PAX ``path``/``size``
records, GNU long names. Directories, links and other non-file members
carry no object and are skipped.
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from k8ssnap import limits
from k8ssnap.errors import ArchiveError

BLOCK: Final = tarfile.BLOCKSIZE
RECORD: Final = tarfile.RECORDSIZE
ZERO_BLOCK: Final = bytes(BLOCK)
MAX_ENTRY_SIZE: Final = limits.MAX_ENTRY_SIZE

_FILE_TYPES = frozenset({tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE})


@dataclass(frozen=True, slots=True)
class Member:
    """One regular file of a tar stream: its full name and content."""

    name: str
    body: bytes


def padding(size: int) -> bytes:
    """The NULs that pad ``size`` bytes to a whole block."""
    return bytes(-size % BLOCK)


def encode_member(name: str, body: bytes, *, mtime: int) -> bytes:
    """Header(s), body and padding of one regular file, deterministically.

    Mode 0644, uid/gid 0, no user or group names, the given mtime.
    """
    header = _ustar_header(name, len(body), mtime)
    if header is None:
        header = _tarfile_header(name, len(body), mtime)
    return header + body + padding(len(body))


_USTAR_MAX_NAME: Final = 100
_OCTAL_11_MAX: Final = 0o77777777777
_HEAD: Final = b"0000644\0" + b"0000000\0" * 2  # mode, uid, gid
_REST: Final = b"0" + bytes(100) + tarfile.POSIX_MAGIC + bytes(64 + 16 + 167)
"""Type, link name, magic and version, user and group names, device numbers, prefix, padding."""
_FIXED_SUM: Final = sum(_HEAD) + sum(b" " * 8) + sum(_REST)
"""The checksum's share of the fields every header has alike (the checksum field counts as spaces)."""
_NULS: Final = bytes(_USTAR_MAX_NAME)


def encode_header(name: str, size: int, *, mtime: int) -> bytes:
    """The header block(s) of a regular file whose ``size`` bytes the caller streams after it.

    The caller then writes exactly ``size`` bytes and :func:`padding`.
    """
    return _ustar_header(name, size, mtime) or _tarfile_header(name, size, mtime)


def _ustar_header(name: str, size: int, mtime: int) -> bytes | None:
    """The ustar block :func:`_tarfile_header` makes for a short ASCII name, about 4x faster.

    None when tarfile would need a PAX record (a long or non-ASCII name, a
    size or mtime beyond 11 octal digits). Equality with tarfile's output is
    a unit test (tests/unit/archive/test_tarstream.py).
    """
    if len(name) > _USTAR_MAX_NAME or not name.isascii() or not 0 <= size <= _OCTAL_11_MAX:
        return None
    if not 0 <= mtime <= _OCTAL_11_MAX:
        return None
    raw = name.encode("ascii")
    size_field = b"%011o\0" % size
    mtime_field = b"%011o\0" % mtime
    checksum = _FIXED_SUM + sum(raw) + sum(size_field) + sum(mtime_field)  # NULs add nothing
    return b"".join((raw, _NULS[len(raw) :], _HEAD, size_field, mtime_field, b"%06o\0 " % checksum, _REST))


def _tarfile_header(name: str, size: int, mtime: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = mtime
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="strict")


def encode_end(written: int) -> bytes:
    """The end-of-archive marker (two zero blocks) plus padding to a whole record."""
    total = written + 2 * BLOCK
    return bytes(2 * BLOCK + (-total % RECORD))


class TarParser:
    """Push parser: :meth:`feed` bytes, get complete members back.

    The buffer holds at most one member (bounded by ``max_entry_size``, or
    by ``size_limit(name)`` when given) plus one block. After the
    end-of-archive block only NUL padding is allowed, at most
    ``max_trailing`` bytes of it; anything else is trailing garbage and
    raises ArchiveError.
    """

    __slots__ = (
        "_buffer",
        "_ended",
        "_limit",
        "_long_name",
        "_max_trailing",
        "_pax",
        "_pending",
        "_trailing",
    )

    def __init__(
        self,
        *,
        max_entry_size: int = MAX_ENTRY_SIZE,
        size_limit: Callable[[str], int] | None = None,
        max_trailing: int = limits.MAX_TRAILING_ZEROS,
    ) -> None:
        self._buffer = bytearray()
        self._limit = size_limit or (lambda _name: max_entry_size)
        self._max_trailing = max_trailing
        self._trailing = 0
        self._pending: tuple[tarfile.TarInfo, int] | None = None
        self._pax: dict[str, str] = {}
        self._long_name: str | None = None
        self._ended = False

    @property
    def ended(self) -> bool:
        """Whether the end-of-archive marker was seen."""
        return self._ended

    def feed(self, data: bytes) -> list[Member]:
        """Consume ``data``; return the members it completed, in order."""
        if self._ended:
            self._padding(data)
            return []
        self._buffer += data
        members: list[Member] = []
        while not self._ended and self._step(members):
            pass
        return members

    def close(self) -> None:
        """ArchiveError unless the stream ended cleanly."""
        if not self._ended:
            raise ArchiveError("archive is truncated: the tar stream has no end marker")

    def _padding(self, data: bytes | bytearray) -> None:
        """Accept NULs after the end marker, up to ``max_trailing`` bytes of them."""
        if data.count(0) != len(data):
            raise ArchiveError("archive has trailing data after the tar end marker")
        self._trailing += len(data)
        if self._trailing > self._max_trailing:
            raise ArchiveError(
                f"archive has more than {self._max_trailing} bytes of padding after the tar end marker"
            )

    def _step(self, members: list[Member]) -> bool:
        if self._pending is None:
            return self._read_header()
        info, size = self._pending
        stored = size + (-size % BLOCK)
        if len(self._buffer) < stored:
            return False
        body = bytes(self._buffer[:size])
        del self._buffer[:stored]
        self._pending = None
        self._dispatch(info, body, members)
        return True

    def _read_header(self) -> bool:
        if len(self._buffer) < BLOCK:
            return False
        block = bytes(self._buffer[:BLOCK])
        del self._buffer[:BLOCK]
        if block == ZERO_BLOCK:
            self._ended = True
            self._padding(self._buffer)
            self._buffer.clear()
            return False
        try:
            info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.HeaderError as error:
            raise ArchiveError(f"archive is corrupt: bad tar header ({error})") from None
        size = _size(self._pax.get("size"), info.size)
        name = self._pax.get("path") or self._long_name or info.name
        limit = self._limit(name)
        if size > limit:
            raise ArchiveError(f"archive entry {name!r} is too large ({size} bytes, at most {limit})")
        self._pending = (info, size)
        return True

    def _dispatch(self, info: tarfile.TarInfo, body: bytes, members: list[Member]) -> None:
        if info.type == tarfile.XHDTYPE:
            self._pax = _pax_records(body)
            return
        if info.type == tarfile.GNUTYPE_LONGNAME:
            self._long_name = body.rstrip(b"\0").decode("utf-8", "surrogateescape")
            return
        if info.type in (tarfile.XGLTYPE, tarfile.GNUTYPE_LONGLINK):
            return
        name = self._pax.get("path") or self._long_name or info.name
        self._pax, self._long_name = {}, None
        if info.type in _FILE_TYPES:
            members.append(Member(name, body))


def _size(pax_size: str | None, header_size: int) -> int:
    if pax_size is None:
        return header_size
    try:
        size = int(pax_size)
    except ValueError:
        raise ArchiveError(f"archive is corrupt: bad PAX size {pax_size!r}") from None
    if size < 0:
        raise ArchiveError(f"archive is corrupt: bad PAX size {pax_size!r}")
    return size


def _pax_records(data: bytes) -> dict[str, str]:
    """Parse ``"<len> <key>=<value>\\n"`` records (POSIX.1-2008 extended header)."""
    records: dict[str, str] = {}
    position = 0
    while position < len(data) and data[position] != 0:
        space = data.find(b" ", position)
        try:
            length = int(data[position:space])
        except ValueError:
            raise ArchiveError("archive is corrupt: bad PAX header") from None
        record = data[space + 1 : position + length]
        if length <= 0 or space < 0 or not record.endswith(b"\n") or b"=" not in record:
            raise ArchiveError("archive is corrupt: bad PAX record")
        key, _, value = record[:-1].partition(b"=")
        records[key.decode("utf-8", "replace")] = value.decode("utf-8", "surrogateescape")
        position += length
    return records
