"""spec.encryption and spec.serverSideEncryption as the custom resources carry them."""

from __future__ import annotations

from typing import Any

import pytest

from k8ssnap.api.encryption import EncryptionSpec, ServerSideEncryption
from k8ssnap.api.meta import SecretKeyRef
from k8ssnap.api.resources import parse_objectstore_config, parse_restore, parse_snapshot
from k8ssnap.errors import ConfigError

META = {"name": "x", "namespace": "k8s-snap"}
STORE = {"bucket": "b", "cloudCredentialSecret": "c"}


def store(**spec: Any) -> dict[str, Any]:
    return {"metadata": META, "spec": {**STORE, **spec}}


def test_the_store_names_both_secrets_with_default_keys() -> None:
    config = parse_objectstore_config(
        store(encryption={"recipientsSecret": {"name": "r"}, "identitySecret": {"name": "i", "key": "k.txt"}})
    )
    assert config.spec.encryption == EncryptionSpec(
        recipients_secret=SecretKeyRef(name="r", key="recipients"),
        identity_secret=SecretKeyRef(name="i", key="k.txt"),
    )


def test_without_encryption_nothing_is_set() -> None:
    assert parse_objectstore_config(store()).spec.encryption == EncryptionSpec()
    assert parse_objectstore_config(store()).spec.server_side_encryption is None


def test_a_snapshot_takes_recipients_and_a_restore_an_identity() -> None:
    snap = parse_snapshot({"metadata": META, "spec": {"encryption": {"recipientsSecret": {"name": "r"}}}})
    assert snap.spec.encryption.recipients_secret == SecretKeyRef(name="r", key="recipients")
    rst = parse_restore(
        {"metadata": META, "spec": {"snapshotName": "s", "encryption": {"identitySecret": {"name": "i"}}}}
    )
    assert rst.spec.encryption.identity_secret == SecretKeyRef(name="i", key="identity")


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"metadata": META, "spec": {"encryption": {"identitySecret": {"name": "i"}}}}, "not used here"),
        ({"metadata": META, "spec": {"encryption": {"recipientsSecret": {}}}}, "recipientsSecret.name"),
        ({"metadata": META, "spec": {"encryption": "age"}}, "spec.encryption must be an object"),
    ],
)
def test_a_snapshot_with_a_bad_encryption_spec_is_refused(obj: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_snapshot(obj)


@pytest.mark.parametrize(
    ("sse", "expected"),
    [
        ({"algorithm": "AES256"}, ServerSideEncryption(algorithm="AES256")),
        ({"algorithm": "aws:kms"}, ServerSideEncryption(algorithm="aws:kms")),
        (
            {"algorithm": "aws:kms", "kmsKeyId": "arn:k"},
            ServerSideEncryption(algorithm="aws:kms", kms_key_id="arn:k"),
        ),
    ],
)
def test_server_side_encryption(sse: dict[str, str], expected: ServerSideEncryption) -> None:
    assert parse_objectstore_config(store(serverSideEncryption=sse)).spec.server_side_encryption == expected


@pytest.mark.parametrize(
    ("sse", "message"),
    [
        ({"algorithm": "aes256"}, "use one of AES256, aws:kms"),
        ({"algorithm": "AES256", "kmsKeyId": "k"}, "kmsKeyId needs algorithm aws:kms"),
        ({}, "algorithm"),
    ],
)
def test_bad_server_side_encryption_is_refused(sse: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_objectstore_config(store(serverSideEncryption=sse))
