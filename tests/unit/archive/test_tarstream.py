"""The short-name ustar fast path writes exactly the bytes tarfile writes, and falls back when it must."""

from __future__ import annotations

import io
import tarfile

import pytest

from k8ssnap.archive import tarstream

NAMES = [
    "a",
    "snap/api/v1/namespaces/default/configmaps/app.json",
    "s" * 99,
    "s" * 100,  # the longest ustar name
    "s" * 101,  # PAX path record
    "snap/api/v1/namespaces/ünïcode/configmaps/x.json",  # PAX: not ASCII
]
SIZES = [0, 1, 511, 512, 513, 1_500_000, 0o77777777777, 0o77777777777 + 1]
MTIMES = [0, 1_763_700_000, 0o77777777777 + 1]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("mtime", MTIMES)
def test_headers_are_tarfiles_bytes(name: str, size: int, mtime: int) -> None:
    fast = tarstream._ustar_header(name, size, mtime)
    expected = tarstream._tarfile_header(name, size, mtime)
    if len(name) <= 100 and name.isascii() and size <= 0o77777777777 and mtime <= 0o77777777777:
        assert fast == expected
    else:
        assert fast is None  # encode_member falls back to tarfile


@pytest.mark.parametrize("name", NAMES)
def test_members_read_back_with_tarfile(name: str) -> None:
    body = b'{"kind":"ConfigMap"}'
    stream = tarstream.encode_member(name, body, mtime=1_763_700_000) + tarstream.encode_end(0)
    with tarfile.open(fileobj=io.BytesIO(stream)) as archive:
        [member] = archive.getmembers()
        extracted = archive.extractfile(member)
        assert extracted is not None
        assert (member.name, member.mode, member.mtime, extracted.read()) == (
            name,
            0o644,
            1_763_700_000,
            body,
        )
