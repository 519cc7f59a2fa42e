"""The encryption fields of the custom resources (docs/encryption.md).

* ``spec.encryption`` (ObjectstoreConfig, Snapshot, Restore): Secrets of age
  keys. ``recipientsSecret`` holds public keys (``age1...``), all a snapshot
  needs; ``identitySecret`` holds secret keys (``AGE-SECRET-KEY-1...``), which
  only restores need. The keys themselves are parsed where they are read
  (:mod:`k8ssnap.store.age`); here they are only named.
* ``spec.serverSideEncryption`` (ObjectstoreConfig): S3's own encryption at
  rest, ``AES256`` or ``aws:kms`` with an optional key id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from k8ssnap.api import _fields, meta
from k8ssnap.api.meta import SecretKeyRef
from k8ssnap.errors import ConfigError

#: Keys read from ``recipientsSecret`` and ``identitySecret`` when they name none.
DEFAULT_RECIPIENTS_KEY: Final = "recipients"
DEFAULT_IDENTITY_KEY: Final = "identity"
#: The ``x-amz-server-side-encryption`` values k8ssnap accepts.
SSE_ALGORITHMS: Final = ("AES256", "aws:kms")


@dataclass(frozen=True, slots=True, kw_only=True)
class EncryptionSpec:
    """``spec.encryption``: where the age keys are. Both None: not set."""

    recipients_secret: SecretKeyRef | None = None
    identity_secret: SecretKeyRef | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerSideEncryption:
    """``spec.serverSideEncryption`` of an ObjectstoreConfig."""

    algorithm: str
    kms_key_id: str | None = None


def encryption(spec: Mapping[str, Any], *, allow: tuple[str, ...]) -> EncryptionSpec:
    """``spec.encryption`` with only the ``allow``-ed Secret fields; ConfigError if malformed."""
    raw = _fields.mapping(spec.get("encryption"), field="spec.encryption")
    refs: dict[str, SecretKeyRef | None] = {}
    for name, default in (
        ("recipientsSecret", DEFAULT_RECIPIENTS_KEY),
        ("identitySecret", DEFAULT_IDENTITY_KEY),
    ):
        value = raw.get(name)
        if value is not None and name not in allow:
            raise ConfigError(f"spec.encryption.{name} is not used here; allowed: {', '.join(allow)}")
        refs[name] = (
            None
            if value is None
            else meta.secret_key_ref(value, field=f"spec.encryption.{name}", default_key=default)
        )
    return EncryptionSpec(recipients_secret=refs["recipientsSecret"], identity_secret=refs["identitySecret"])


def server_side_encryption(spec: Mapping[str, Any]) -> ServerSideEncryption | None:
    """``spec.serverSideEncryption``, or None; ConfigError if malformed."""
    if spec.get("serverSideEncryption") is None:
        return None
    raw = _fields.mapping(spec.get("serverSideEncryption"), field="spec.serverSideEncryption")
    algorithm = _fields.required_string(raw, "algorithm", field="spec.serverSideEncryption.algorithm")
    if algorithm not in SSE_ALGORITHMS:
        raise ConfigError(
            f"spec.serverSideEncryption.algorithm is {algorithm!r}; use one of {', '.join(SSE_ALGORITHMS)}"
        )
    key_id = _fields.string(raw, "kmsKeyId", field="spec.serverSideEncryption.kmsKeyId") or None
    if key_id is not None and algorithm != "aws:kms":
        raise ConfigError("spec.serverSideEncryption.kmsKeyId needs algorithm aws:kms")
    return ServerSideEncryption(algorithm=algorithm, kms_key_id=key_id)
