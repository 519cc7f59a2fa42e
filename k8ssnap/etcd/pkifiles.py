"""Reading a certificate folder under the operator's ``--pki-root``, and nothing else.

:func:`k8ssnap.domain.hostpaths.pki_path` has already refused absolute
paths and ``..``. Here the rest of the rule meets the file system: the root
and every file are resolved (symbolic links followed), and a file whose
resolved path is not inside the resolved root is refused before it is
opened, so no link can lead the controller out of the root. The refusal
fails the whole snapshot, naming the link, rather than silently dropping a
file the restore would miss. Symbolic links to folders are not followed.

Files are small (certificates, keys); each is read whole, bounded by
:data:`MAX_FILE` and :data:`MAX_FILES`.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from k8ssnap.domain import hostpaths
from k8ssnap.errors import HostPathRefused

MAX_FILE = 1 << 20
MAX_FILES = 1000


@dataclass(frozen=True, slots=True)
class PkiFile:
    """One file of the folder: its path relative to the folder, content, and whether it is a key."""

    name: str
    content: bytes
    private_key: bool

    def __repr__(self) -> str:
        return f"PkiFile({self.name!r}, {len(self.content)} bytes, private_key={self.private_key})"


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def read_pki(*, pki: str, root: str | None, certificates_only: bool) -> tuple[PkiFile, ...]:
    """Every regular file under ``root/pki``, sorted by name; HostPathRefused if any escapes."""
    relative = hostpaths.pki_path(pki, root=root)
    assert root is not None  # pki_path refuses a missing root
    real_root = Path(os.path.realpath(root))
    folder = Path(os.path.realpath(real_root / relative))
    if not _inside(folder, real_root):
        raise HostPathRefused(f"spec.pki {pki!r} leads outside --pki-root through a symbolic link")
    if not folder.is_dir():
        raise HostPathRefused(f"spec.pki {pki!r} is not a folder under --pki-root")
    files: list[PkiFile] = []
    for dirpath, _dirs, names in os.walk(folder):
        for name in sorted(names):
            found = _read_one(Path(dirpath) / name, folder=folder, root=real_root, pki=pki)
            if found is None:
                continue
            if certificates_only and found.private_key:
                continue
            files.append(found)
            if len(files) > MAX_FILES:
                raise HostPathRefused(f"spec.pki {pki!r} holds more than {MAX_FILES} files")
    return tuple(sorted(files, key=lambda f: f.name))


def _read_one(path: Path, *, folder: Path, root: Path, pki: str) -> PkiFile | None:
    name = path.relative_to(folder).as_posix()
    real = Path(os.path.realpath(path))
    if not _inside(real, root):
        raise HostPathRefused(f"{pki}/{name} is a symbolic link leading outside --pki-root")
    fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        if info.st_size > MAX_FILE:
            raise HostPathRefused(f"{pki}/{name} is larger than {MAX_FILE} bytes; not a PKI file")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            content = handle.read(MAX_FILE + 1)
    finally:
        os.close(fd)
    return PkiFile(
        name=name, content=content, private_key=hostpaths.is_private_key(name=name, content=content)
    )
