"""The age bridge: round trips, back-pressure, flat memory, typed errors, key parsing."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
from collections.abc import AsyncIterator

import pyrage
import pytest

from k8ssnap import errors
from k8ssnap.archive.index import RecordedEncryption, StoredRecord
from k8ssnap.store import age
from k8ssnap.store.objectstore import StoredObject
from tests.unit.store.records import plain_record

IDENTITY, RECIPIENT = age.generate()
OTHER_IDENTITY, OTHER_RECIPIENT = age.generate()


class MemoryUpload:
    """An Upload into memory that can be slowed down (``gate``) or made to fail."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.writes = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.entered = asyncio.Event()
        self.fail_with: Exception | None = None
        self.aborted = False
        self.completed = False

    async def write(self, chunk: bytes) -> None:
        self.entered.set()
        await self.gate.wait()
        if self.fail_with is not None:
            raise self.fail_with
        self.writes += 1
        self.data += chunk

    async def complete(self) -> StoredObject:
        self.completed = True
        return StoredObject(key="k", size=len(self.data), last_modified=dt.datetime.now(dt.UTC), metadata={})

    async def abort(self) -> None:
        self.aborted = True


def recipients(*keys: str) -> age.Recipients:
    return age.Recipients.parse("\n".join(keys or (RECIPIENT,)), what="test")


def identities(*keys: str) -> age.Identities:
    return age.Identities.parse("\n".join(keys or (IDENTITY,)), what="test")


async def chunked(data: bytes, size: int = 70_000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def encrypt(data: bytes, *keys: str) -> tuple[bytes, age.EncryptingUpload]:
    inner = MemoryUpload()
    upload = age.EncryptingUpload(inner, recipients(*keys))
    async for chunk in chunked(data, 123_457):
        await upload.write(chunk)
    await upload.complete()
    return bytes(inner.data), upload


async def decrypt(ciphertext: bytes, decryption: age.Decryption) -> bytes:
    return b"".join([chunk async for chunk in age.decrypted(chunked(ciphertext), decryption, what="k")])


@pytest.mark.parametrize("size", [0, 1, 64 * 1024, 3 * 1024 * 1024 + 7])
async def test_round_trip_of_any_size_and_the_digest_is_of_the_ciphertext(size: int) -> None:
    data = os.urandom(size)
    ciphertext, upload = await encrypt(data)
    assert ciphertext.startswith(b"age-encryption.org/v1\n")
    assert pyrage.decrypt(ciphertext, [pyrage.x25519.Identity.from_str(IDENTITY)]) == data
    assert (upload.sha256, upload.size) == (hashlib.sha256(ciphertext).hexdigest(), len(ciphertext))
    checked = age.Decryption(
        identities=identities(), expected_sha256=upload.sha256, expected_size=upload.size
    )
    assert await decrypt(ciphertext, checked) == data


async def test_either_of_two_recipients_decrypts() -> None:
    ciphertext, _ = await encrypt(b"x" * 100_000, RECIPIENT, OTHER_RECIPIENT)
    for key in (IDENTITY, OTHER_IDENTITY):
        assert await decrypt(ciphertext, age.Decryption(identities=identities(key))) == b"x" * 100_000


async def test_a_slow_upload_holds_the_writer_back() -> None:
    """Back-pressure: with the upload stalled, writes stop being accepted after a bounded amount."""
    inner = MemoryUpload()
    inner.gate.clear()
    upload = age.EncryptingUpload(inner, recipients(), depth=2)
    accepted = 0

    async def writer() -> None:
        nonlocal accepted
        for _ in range(64):
            await upload.write(b"\0" * (1 << 20))
            accepted += 1

    task = asyncio.create_task(writer())
    await asyncio.wait_for(inner.entered.wait(), timeout=10)  # the thread is stuck in the upload
    for _ in range(100):  # let the writer fill the queue (loop turns, no time passes)
        await asyncio.sleep(0)
    # queued chunks + the one the thread reads + the 1 MiB it holds for the stalled upload
    assert accepted <= 2 + 2 + 1
    inner.gate.set()
    await task
    await upload.complete()
    assert accepted == 64 and len(inner.data) > 64 << 20


async def test_an_upload_failure_reaches_the_caller_typed_and_the_upload_is_aborted() -> None:
    inner = MemoryUpload()
    inner.fail_with = errors.StoreRetriable("S3 is down")
    upload = age.EncryptingUpload(inner, recipients())
    with pytest.raises(errors.StoreRetriable, match="S3 is down"):
        for _ in range(8):
            await upload.write(b"\0" * (1 << 20))
        await upload.complete()
    await upload.abort()
    assert inner.aborted and not inner.completed


async def test_abort_stops_the_thread_while_it_waits_for_input() -> None:
    inner = MemoryUpload()
    upload = age.EncryptingUpload(inner, recipients())
    await upload.write(b"some")
    await asyncio.wait_for(upload.abort(), timeout=5)
    assert inner.aborted and not inner.completed


async def test_closing_the_plaintext_early_closes_the_download() -> None:
    ciphertext, _ = await encrypt(os.urandom(8 << 20))  # more output than the queue holds
    closed = asyncio.Event()

    async def download() -> AsyncIterator[bytes]:
        try:
            async for chunk in chunked(ciphertext, 4096):
                yield chunk
        finally:
            closed.set()

    plain = age.decrypted(download(), age.Decryption(identities=identities()), what="k", depth=1)
    async for _ in plain:
        break
    await asyncio.wait_for(plain.aclose(), timeout=5)
    assert closed.is_set()


# -- keys ------------------------------------------------------------------------


def test_recipients_read_age_files_with_comments_and_drop_duplicates() -> None:
    text = f"# ops team\n\n  {RECIPIENT}  \n{OTHER_RECIPIENT}\n{RECIPIENT}\n"
    assert age.Recipients.parse(text, what="t").keys == (RECIPIENT, OTHER_RECIPIENT)


def test_identities_read_age_keygen_output_and_know_their_public_keys() -> None:
    text = f"# created: 2026-01-01T00:00:00Z\n# public key: {RECIPIENT}\n{IDENTITY}\n"
    parsed = age.Identities.parse(text, what="t")
    assert parsed.public == (RECIPIENT,)
    assert parsed.opens((OTHER_RECIPIENT, RECIPIENT)) and not parsed.opens((OTHER_RECIPIENT,))
    assert IDENTITY not in repr(parsed)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no age recipient"),
        ("# only a comment\n", "no age recipient"),
        ("age1notakey\n", "line 1 is not an age X25519 recipient"),
        (f"{RECIPIENT}\nssh-ed25519 AAAA\n", "line 2 is not"),
    ],
)
def test_bad_recipients_are_config_errors(text: str, message: str) -> None:
    with pytest.raises(errors.ConfigError, match=message):
        age.Recipients.parse(text, what="Secret 'r'")


def test_record_round_trips_its_encryption_and_plain_records_are_unchanged() -> None:
    plain = plain_record()
    assert b"encryption" not in plain.to_json()
    sealed = StoredRecord(
        index=plain.index,
        sha256=plain.sha256,
        size=plain.size,
        spec=plain.spec,
        encryption=age_record(RECIPIENT, OTHER_RECIPIENT),
    )
    again = StoredRecord.from_json(sealed.to_json())
    assert again == sealed and again.encryption is not None
    assert again.encryption.recipients == (RECIPIENT, OTHER_RECIPIENT)


def age_record(*keys: str) -> RecordedEncryption:
    return RecordedEncryption(format=age.FORMAT, recipients=keys)
