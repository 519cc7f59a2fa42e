"""Hostile inputs to encryption: damaged or swapped ciphertext, wrong keys, keys in the wrong place."""

from __future__ import annotations

import hashlib

import pytest

from k8ssnap import errors
from k8ssnap.store import age
from tests.unit.store.test_age import IDENTITY, RECIPIENT, decrypt, encrypt, identities

DATA = bytes(range(256)) * 2000  # 512 KB: several 64 KiB age chunks


async def test_fault_truncated_ciphertext_fails_the_read() -> None:
    ciphertext, _ = await encrypt(DATA)
    with pytest.raises(errors.ArchiveError, match="could not be decrypted"):
        await decrypt(ciphertext[: 3 * 65536], age.Decryption(identities=identities()))


async def test_fault_flipped_bit_fails_the_read() -> None:
    ciphertext, _ = await encrypt(DATA)
    damaged = bytearray(ciphertext)
    damaged[len(damaged) // 2] ^= 0x01
    with pytest.raises(errors.ArchiveError, match="could not be decrypted"):
        await decrypt(bytes(damaged), age.Decryption(identities=identities()))


async def test_fault_wrong_identity_fails_the_read() -> None:
    ciphertext, _ = await encrypt(DATA)
    other, _ = age.generate()
    with pytest.raises(errors.ArchiveError, match="none of the identities"):
        await decrypt(ciphertext, age.Decryption(identities=identities(other)))


async def test_fault_plaintext_gzip_where_age_is_expected_fails() -> None:
    with pytest.raises(errors.ArchiveError, match="could not be decrypted"):
        await decrypt(b"\x1f\x8b\x08" + DATA, age.Decryption(identities=identities()))


async def test_fault_swapped_archive_fails_against_the_record() -> None:
    """Anyone with the public key can make a valid age file: the record's digest catches a swap."""
    ciphertext, upload = await encrypt(DATA)
    forged, _ = await encrypt(b"evil" * 1000)
    record = age.Decryption(identities=identities(), expected_sha256=upload.sha256)
    assert await decrypt(ciphertext, record) == DATA
    with pytest.raises(errors.ArchiveError, match="but its record says"):
        await decrypt(forged, record)
    sized = age.Decryption(identities=identities(), expected_size=upload.size + 1)
    with pytest.raises(errors.ArchiveError, match="bytes, but its record says"):
        await decrypt(ciphertext, sized)
    assert hashlib.sha256(forged).hexdigest() != upload.sha256


def test_fault_secret_key_in_recipients_secret_is_refused_and_not_echoed() -> None:
    with pytest.raises(errors.ConfigError) as caught:
        age.Recipients.parse(f"{RECIPIENT}\n{IDENTITY}\n", what="Secret 'r'")
    assert "line 2 is a secret key" in caught.value.reason
    assert IDENTITY not in caught.value.reason and IDENTITY[16:] not in str(caught.value)


def test_fault_damaged_identity_line_is_not_echoed() -> None:
    damaged = IDENTITY[:-3] + "QQQ"
    with pytest.raises(errors.ConfigError) as caught:
        age.Identities.parse(f"# key\n{damaged}\n", what="Secret 'i'")
    assert "line 2 is not an age X25519 identity" in caught.value.reason
    assert damaged[16:40] not in caught.value.reason


def test_fault_public_key_in_identity_secret_is_refused() -> None:
    with pytest.raises(errors.ConfigError, match="line 1 is not an age X25519 identity"):
        age.Identities.parse(RECIPIENT, what="Secret 'i'")


async def test_fault_oversized_ciphertext_stops_at_the_recorded_size() -> None:
    """A download longer than the record says stops there, not after reading it all."""
    ciphertext, upload = await encrypt(DATA)
    sized = age.Decryption(identities=identities(), expected_size=upload.size - 70_000)
    with pytest.raises(errors.ArchiveError, match="larger than the"):
        await decrypt(ciphertext, sized)
