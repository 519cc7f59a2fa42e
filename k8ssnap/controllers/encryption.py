"""Which age keys a Snapshot encrypts to and a Restore decrypts with (docs/encryption.md).

Recipients: the Snapshot's ``spec.encryption.recipientsSecret``, else its
ObjectstoreConfig's; neither means a plaintext archive. An EtcdSnapshot
(which has no ``spec.encryption``) encrypts to its ObjectstoreConfig's. Identities: the
Restore's ``spec.encryption.identitySecret``, else the Snapshot's
ObjectstoreConfig's. Keys are read from Secrets in the controller's
namespace on every use (so a rotated Secret takes effect at once) and
never logged: errors name the Secret and a line number only.

A Restore of an encrypted snapshot fails here, before anything is
downloaded or created, when no identity is configured or none of the
configured identities is one of the archive's recipients (the record lists
their public keys).
"""

from __future__ import annotations

from k8ssnap import errors
from k8ssnap.api.meta import SecretKeyRef
from k8ssnap.api.resources import Restore, Snapshot
from k8ssnap.archive.index import StoredRecord
from k8ssnap.controllers import clusters
from k8ssnap.controllers.context import Context
from k8ssnap.store import age


async def recipients_for(ctx: Context, snap: Snapshot) -> age.Recipients | None:
    """The recipients to encrypt ``snap``'s archive to, or None for no encryption."""
    ref = snap.spec.encryption.recipients_secret
    if ref is None:
        return await store_recipients(ctx, snap.spec.objectstore_config)
    return await _recipients(ctx, ref)


async def store_recipients(ctx: Context, store_name: str | None) -> age.Recipients | None:
    """The recipients of ObjectstoreConfig ``store_name`` (what an EtcdSnapshot encrypts to), or None."""
    config = await ctx.stores.config(ctx, store_name)
    ref = config.spec.encryption.recipients_secret
    return None if ref is None else await _recipients(ctx, ref)


async def _recipients(ctx: Context, ref: SecretKeyRef) -> age.Recipients:
    text = await _read(ctx, ref, what="age recipients")
    return age.Recipients.parse(text, what=f"Secret {ref.name!r} key {ref.key!r}")


async def decryption_for(
    ctx: Context, *, restore: Restore, snapshot: str, store_name: str | None, record: StoredRecord | None
) -> age.Decryption | None:
    """How to decrypt the archive ``record`` describes; None if it is not encrypted.

    ConfigError, with what to set, if no identity is configured or none fits.
    """
    if record is None or record.encryption is None:
        return None
    recipients = record.encryption.recipients
    if record.encryption.format != age.FORMAT:
        raise errors.ConfigError(
            f"snapshot {snapshot} is encrypted as {record.encryption.format!r}, which k8ssnap cannot read"
        )
    ref = restore.spec.encryption.identity_secret
    if ref is None:
        config = await ctx.stores.config(ctx, store_name)
        ref = config.spec.encryption.identity_secret
    if ref is None:
        raise errors.ConfigError(
            f"snapshot {snapshot} is encrypted with age (to {_short(recipients)}) and no identity is"
            " configured: set spec.encryption.identitySecret on the Restore or on its ObjectstoreConfig"
            " to a Secret holding an AGE-SECRET-KEY-1... line"
        )
    where = f"Secret {ref.name!r} key {ref.key!r}"
    identities = age.Identities.parse(await _read(ctx, ref, what="age identity"), what=where)
    if not identities.opens(recipients):
        raise errors.ConfigError(
            f"snapshot {snapshot} is encrypted to {_short(recipients)}, but the identities in {where}"
            f" belong to {_short(identities.public)}: none of them can decrypt it"
        )
    return age.Decryption(identities=identities, expected_sha256=record.sha256, expected_size=record.size)


async def _read(ctx: Context, ref: SecretKeyRef, *, what: str) -> str:
    return await clusters.secret_value(ctx, name=ref.name, key=ref.key, what=what)


def _short(keys: tuple[str, ...]) -> str:
    """Public keys for a message (public, so shown whole), at most three."""
    shown = ", ".join(keys[:3])
    return shown + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
