"""keygen, and show/get of an age-encrypted local archive through ``main`` (no S3, no cluster)."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pyrage
import yaml

from k8ssnap.app.cli_files import record_path
from k8ssnap.archive.index import RecordedEncryption, StoredRecord
from k8ssnap.store import age
from tests.unit.app.test_cli_files import CM, run, write_archive


def keygen(path: Path) -> str:
    code, _, err = run("keygen", "-o", str(path))
    assert code == 0, err
    return err.split("Public key: ")[1].strip()


def sealed_archive(tmp_path: Path, recipient: str) -> Path:
    """The archive of test_cli_files, encrypted as the controller stores it, with its record."""
    plain = tmp_path / "plain.tgz"
    record = write_archive(plain)
    ciphertext = pyrage.encrypt(plain.read_bytes(), [pyrage.x25519.Recipient.from_str(recipient)])
    sealed = tmp_path / "snap-1.tgz.age"
    sealed.write_bytes(ciphertext)
    stored = StoredRecord(
        index=record.index,
        sha256=hashlib.sha256(ciphertext).hexdigest(),
        size=len(ciphertext),
        spec=record.spec,
        encryption=RecordedEncryption(format=age.FORMAT, recipients=(recipient,)),
    )
    record_path(sealed).write_bytes(stored.to_json())
    return sealed


def test_keygen_writes_an_identity_age_reads_and_never_overwrites_it(tmp_path: Path) -> None:
    key = tmp_path / "key.txt"
    recipient = keygen(key)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert age.Identities.parse(key.read_text(), what="key").public == (recipient,)
    assert f"# public key: {recipient}" in key.read_text()
    before = key.read_text()
    code, _, err = run("keygen", "-o", str(key))
    assert code == 1 and "never overwrites" in err and key.read_text() == before


def test_keygen_to_stdout() -> None:
    code, out, _ = run("keygen")
    assert code == 0
    assert age.Identities.parse(out, what="stdout").public[0] in out


def test_an_encrypted_archive_is_read_with_its_identity(tmp_path: Path) -> None:
    key = tmp_path / "key.txt"
    sealed = sealed_archive(tmp_path, keygen(key))
    code, out, err = run("get", "--file", str(sealed), CM, "--identity", str(key))
    assert code == 0, err
    assert yaml.safe_load(out)["data"] == {"conf": "a = 1\nb = 2\n"}
    code, out, err = run("show", "--file", str(sealed), "--identity", str(key))
    assert code == 0, err
    assert "objects:   4" in out


def test_an_encrypted_archive_without_identity_says_what_to_pass(tmp_path: Path) -> None:
    recipient = keygen(tmp_path / "key.txt")
    code, _, err = run("show", "--file", str(sealed_archive(tmp_path, recipient)))
    assert code == 1
    assert f"is encrypted with age (to {recipient}); pass --identity FILE" in err


def test_an_identity_of_another_key_is_refused_before_reading(tmp_path: Path) -> None:
    recipient = keygen(tmp_path / "key.txt")
    other = tmp_path / "other.txt"
    keygen(other)
    code, _, err = run(
        "get", "--file", str(sealed_archive(tmp_path, recipient)), CM, "--identity", str(other)
    )
    assert code == 1 and "holds none of their identities" in err


def test_a_swapped_archive_fails_against_its_record(tmp_path: Path) -> None:
    key = tmp_path / "key.txt"
    recipient = keygen(key)
    sealed = sealed_archive(tmp_path, recipient)
    plain = (tmp_path / "plain.tgz").read_bytes()
    sealed.write_bytes(pyrage.encrypt(plain, [pyrage.x25519.Recipient.from_str(recipient)]))  # new nonce
    code, _, err = run("show", "--file", str(sealed), "--identity", str(key))
    assert code == 1 and "its record says" in err


def test_a_recipient_that_is_a_secret_key_is_refused(tmp_path: Path) -> None:
    identity, _ = age.generate()
    code, _, err = run("snapshot", "x", "--recipient", identity, "--output", str(tmp_path / "x.tgz"))
    assert code == 1 and "is a secret key" in err and identity not in err
